"""Encoders and decoders (reference section 3). Pure nn.Modules: training lives in memae.train.

build_model(params, variant) builds the network a dataset's params describe:
  model.kind = "conv"  2D or 3D conv autoencoder, decoder mirrored with transposed convs
  model.kind = "mlp"   fully connected autoencoder (KDDCUP99)
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .memory import Memory
from .variants import Variant

ACTIVATIONS = {
    "relu": lambda: nn.ReLU(inplace=True),
    "leaky_relu": lambda: nn.LeakyReLU(0.2, inplace=True),
    "tanh": nn.Tanh,
}
OUTPUTS = {"none": nn.Identity, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


class AutoEncoder(nn.Module):
    """x -> encoder -> z -> [memory] -> z_hat -> decoder -> x_hat.

    memory_granularity "position": one query per spatial (and temporal) position of z;
    "image": the whole code z flattened into one query per sample.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, memory: Memory | None = None,
                 memory_granularity: str = "position"):
        super().__init__()
        self.encoder, self.decoder, self.memory = encoder, decoder, memory
        self.memory_granularity = memory_granularity

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Returns (x_hat, z, addressing weights or None)."""
        z = self.encoder(x)
        if self.memory is None:
            return self.decoder(z), z, None
        if self.memory_granularity == "image":
            z_hat, w = self.memory(z.flatten(1))
            z_hat = z_hat.view_as(z)
        else:
            z_hat, w = self.memory(z)
        return self.decoder(z_hat), z, w


def _conv_out(size: int, k: int, s: int) -> int:
    return (size + 2 * (k // 2) - k) // s + 1


def conv_autoencoder(input_shape: list[int], channels: list[int], kernels: list, strides: list,
                     activation: str, output_activation: str) -> tuple[nn.Module, nn.Module, list[int]]:
    """Conv encoder and mirrored transposed-conv decoder for inputs (C, H, W) or (C, T, H, W).

    kernels/strides: one entry per layer, an int or one int per spatial dim. Every encoder layer is
    conv + BN + activation; the decoder mirrors it, its last layer maps to the input channels with
    no BN and `output_activation`. Output paddings are chosen so that shapes mirror exactly.
    Returns encoder, decoder and the code shape (C, *spatial).
    """
    dims = len(input_shape) - 1
    Conv, Deconv, BN = {2: (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d),
                        3: (nn.Conv3d, nn.ConvTranspose3d, nn.BatchNorm3d)}[dims]
    per_dim = lambda v: list(v) if isinstance(v, (list, tuple)) else [v] * dims
    kernels, strides = [per_dim(k) for k in kernels], [per_dim(s) for s in strides]
    if not (len(channels) == len(kernels) == len(strides)):
        raise ValueError("model.channels, model.kernels and model.strides must have the same length")
    act = ACTIVATIONS[activation]
    sizes = [list(input_shape[1:])]
    enc, in_ch = [], input_shape[0]
    for ch, k, s in zip(channels, kernels, strides):
        enc += [Conv(in_ch, ch, k, s, [kk // 2 for kk in k]), BN(ch), act()]
        sizes.append([_conv_out(n, kk, ss) for n, kk, ss in zip(sizes[-1], k, s)])
        in_ch = ch
    dec = []
    outs = list(reversed([input_shape[0]] + channels[:-1]))
    for i, (ch, k, s) in enumerate(zip(outs, reversed(kernels), reversed(strides))):
        src, dst = sizes[len(channels) - i], sizes[len(channels) - i - 1]
        pad = [kk // 2 for kk in k]
        out_pad = [t - ((n - 1) * ss - 2 * p + kk) for t, n, ss, p, kk in zip(dst, src, s, pad, k)]
        dec.append(Deconv(in_ch, ch, k, s, pad, output_padding=out_pad))
        last = i == len(channels) - 1
        dec += [OUTPUTS[output_activation]()] if last else [BN(ch), act()]
        in_ch = ch
    return nn.Sequential(*enc), nn.Sequential(*dec), [channels[-1], *sizes[-1]]


def mlp_autoencoder(input_dim: int, hidden: list[int], code_dim: int, activation: str,
                    output_activation: str) -> tuple[nn.Module, nn.Module, list[int]]:
    """Fully connected autoencoder: input -> hidden... -> code (linear), mirrored back."""
    act = ACTIVATIONS[activation]
    widths = [input_dim, *hidden, code_dim]
    enc = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        enc.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            enc.append(act())
    dec = []
    back = list(reversed(widths))
    for i, (a, b) in enumerate(zip(back[:-1], back[1:])):
        dec.append(nn.Linear(a, b))
        dec.append(act() if i < len(back) - 2 else OUTPUTS[output_activation]())
    return nn.Sequential(*enc), nn.Sequential(*dec), [code_dim]


def init_official(module: nn.Module) -> None:
    """Initialisation of the official code: conv weights N(0, 0.02), BN weights N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def build_model(model: dict, memory: dict, variant: Variant, input_shape: list[int]) -> AutoEncoder:
    """model/memory: the sections of params/<dataset>.yaml; input_shape without the batch dim."""
    if model["kind"] == "conv":
        enc, dec, code = conv_autoencoder(input_shape, model["channels"], model["kernels"],
                                          model["strides"], model["activation"],
                                          model["output_activation"])
    elif model["kind"] == "mlp":
        enc, dec, code = mlp_autoencoder(input_shape[0], model["hidden"], model["code_dim"],
                                         model["activation"], model["output_activation"])
    else:
        raise ValueError(f"model.kind must be 'conv' or 'mlp', got {model['kind']!r}")
    if model.get("init") == "official":
        init_official(enc)
        init_official(dec)
    mem = None  # created last, so that every variant starts from the same encoder and decoder
    if variant.memory:
        granularity = memory["granularity"]
        dim = math.prod(code) if granularity == "image" else code[0]
        mem = Memory(memory["num_items"], dim,
                     shrink_thres=memory["shrink_thres"] if variant.shrink else 0.0,
                     addressing=memory["addressing"])
    return AutoEncoder(enc, dec, mem, memory["granularity"])
