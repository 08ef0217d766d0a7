"""Encoders and decoders (reference section 3). Pure nn.Modules: training lives in memae.train.

build_model(model, memory, variant, input_shape) builds the network a dataset's params describe
(typed: memae.params_model.ModelParams and MemoryParams):
  model.kind = "conv"  2D or 3D conv autoencoder: encoder and decoder written out layer by layer
                       (model.encoder / model.decoder), or the mirrored short form
                       (model.channels / kernels / strides)
  model.kind = "mlp"   fully connected autoencoder (KDDCUP99)
"""
from __future__ import annotations

import math
import typing
from collections.abc import Mapping

import torch
from torch import nn

from .memory import Memory
from .params_model import Granularity, MemoryParams, ModelParams
from .variants import Variant

ACTIVATIONS = {
    "relu": lambda: nn.ReLU(inplace=True),
    "leaky_relu": lambda: nn.LeakyReLU(0.2, inplace=True),
    "tanh": nn.Tanh,
}
OUTPUTS = {"none": nn.Identity, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
GRANULARITIES = typing.get_args(Granularity)


class AutoEncoder(nn.Module):
    """x -> encoder -> z -> [memory] -> z_hat -> decoder -> x_hat.

    memory_granularity "position": one query per spatial (and temporal) position of z;
    "image": the whole code z flattened into one query per sample.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, memory: Memory | None = None,
                 memory_granularity: Granularity = "position"):
        super().__init__()
        if memory_granularity not in GRANULARITIES:   # anything else would silently run per position
            raise ValueError(f"memory granularity must be {' or '.join(GRANULARITIES)}, got {memory_granularity!r}")
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


def _conv_out(size: int, k: int, s: int, p: int) -> int:
    return (size + 2 * p - k) // s + 1


def _deconv_out(size: int, k: int, s: int, p: int, op: int) -> int:
    return (size - 1) * s - 2 * p + k + op


def mirrored_layers(input_shape: list[int], channels: list[int], kernels: list,
                    strides: list) -> tuple[list[dict], list[dict]]:
    """Encoder and decoder layer specs of the mirrored form (model.channels/kernels/strides).

    Every layer is padded by kernel // 2; each transposed conv mirrors its encoder layer, with the
    output padding that restores the encoder layer's input size exactly.
    """
    dims = len(input_shape) - 1
    per_dim = lambda v: list(v) if isinstance(v, (list, tuple)) else [v] * dims
    kernels, strides = [per_dim(k) for k in kernels], [per_dim(s) for s in strides]
    if not (len(channels) == len(kernels) == len(strides)):
        raise ValueError("model.channels, model.kernels and model.strides must have the same length")
    sizes = [list(input_shape[1:])]
    enc = []
    for ch, k, s in zip(channels, kernels, strides):
        pad = [kk // 2 for kk in k]
        enc.append({"channels": ch, "kernel": k, "stride": s, "padding": pad})
        sizes.append([_conv_out(n, kk, ss, p) for n, kk, ss, p in zip(sizes[-1], k, s, pad)])
    dec = []
    outs = list(reversed([input_shape[0]] + channels[:-1]))
    for i, (ch, k, s) in enumerate(zip(outs, reversed(kernels), reversed(strides))):
        src, dst = sizes[len(channels) - i], sizes[len(channels) - i - 1]
        pad = [kk // 2 for kk in k]
        out_pad = [t - _deconv_out(n, kk, ss, p, 0) for t, n, ss, p, kk in zip(dst, src, s, pad, k)]
        dec.append({"channels": ch, "kernel": k, "stride": s, "padding": pad, "output_padding": out_pad})
    return enc, dec


def _layer(spec: dict, dims: int, where: str) -> dict:
    """A layer spec with every field as one int per spatial dim (padding defaults to kernel // 2)."""
    per_dim = lambda v: list(v) if isinstance(v, (list, tuple)) else [v] * dims
    k, s = per_dim(spec["kernel"]), per_dim(spec["stride"])
    p = per_dim(spec["padding"]) if spec.get("padding") is not None else [kk // 2 for kk in k]
    op = per_dim(spec.get("output_padding", 0))
    for name, v in (("kernel", k), ("stride", s), ("padding", p), ("output_padding", op)):
        if len(v) != dims:
            raise ValueError(f"{where}: {name} has {len(v)} values for {dims} spatial dims")
    return {"channels": int(spec["channels"]), "kernel": k, "stride": s, "padding": p,
            "output_padding": op}


def conv_autoencoder(input_shape: list[int], encoder: list[dict], decoder: list[dict],
                     activation: str, output_activation: str) -> tuple[nn.Module, nn.Module, list[int]]:
    """Conv encoder and transposed-conv decoder for inputs (C, H, W) or (C, T, H, W), written out
    layer by layer as the paper writes them: Conv(k, s, c) ... then Dconv(k, s, c) ...

    encoder/decoder: one spec per layer, {channels, kernel, stride, padding, output_padding}
    (kernel/stride/padding an int or one int per spatial dim; padding defaults to kernel // 2,
    output_padding to 0). Every encoder layer is conv + BN + activation; every decoder layer but the
    last is transposed conv + BN + activation; the last maps to the input's channels with no BN and
    `output_activation`. The decoder must give back the input's shape exactly: a mismatch is an
    error that names the layer sizes. Returns encoder, decoder and the code shape (C, *spatial).
    """
    dims = len(input_shape) - 1
    Conv, Deconv, BN = {2: (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d),
                        3: (nn.Conv3d, nn.ConvTranspose3d, nn.BatchNorm3d)}[dims]
    act = ACTIVATIONS[activation]
    enc_specs = [_layer(l, dims, f"model.encoder[{i}]") for i, l in enumerate(encoder)]
    dec_specs = [_layer(l, dims, f"model.decoder[{i}]") for i, l in enumerate(decoder)]
    if not enc_specs or not dec_specs:
        raise ValueError("model.encoder and model.decoder need at least one layer each")
    if dec_specs[-1]["channels"] != input_shape[0]:
        raise ValueError(f"model.decoder: the last layer has {dec_specs[-1]['channels']} channels, "
                         f"the input has {input_shape[0]}")
    size, trace = list(input_shape[1:]), [list(input_shape[1:])]
    enc, in_ch = [], input_shape[0]
    for l in enc_specs:
        enc += [Conv(in_ch, l["channels"], l["kernel"], l["stride"], l["padding"]), BN(l["channels"]), act()]
        size = [_conv_out(n, k, s, p) for n, k, s, p in zip(size, l["kernel"], l["stride"], l["padding"])]
        trace.append(size)
        if min(size) < 1:
            raise ValueError(f"model.encoder: sizes {trace} reach zero; fewer or smaller strides")
        in_ch = l["channels"]
    code = [in_ch, *size]
    dec = []
    for i, l in enumerate(dec_specs):
        dec.append(Deconv(in_ch, l["channels"], l["kernel"], l["stride"], l["padding"],
                          output_padding=l["output_padding"]))
        size = [_deconv_out(n, k, s, p, op) for n, k, s, p, op in
                zip(size, l["kernel"], l["stride"], l["padding"], l["output_padding"])]
        trace.append(size)
        last = i == len(dec_specs) - 1
        dec += [OUTPUTS[output_activation]()] if last else [BN(l["channels"]), act()]
        in_ch = l["channels"]
    if size != list(input_shape[1:]):
        raise ValueError(f"model: the decoder gives {size}, the input is {list(input_shape[1:])} "
                         f"(sizes layer by layer: {trace}); adjust padding or output_padding")
    return nn.Sequential(*enc), nn.Sequential(*dec), code


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
    """Initialisation of the official code (its weights_init): conv weights N(0, 0.02), BN weights
    N(1, 0.02) and BN biases 0; conv biases are left at PyTorch's default, as the official code
    leaves them."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def build_model(model: ModelParams, memory: MemoryParams, variant: Variant,
                input_shape: list[int]) -> AutoEncoder:
    """model/memory: the typed sections of a dataset's params (a plain mapping, such as a section of
    load_params(), is validated into them first: an unknown kind, activation, init or granularity is
    an error, never a default); input_shape without the batch dim."""
    if isinstance(model, Mapping):
        model = ModelParams.parse(model, "model.")
    if isinstance(memory, Mapping):
        memory = MemoryParams.parse(memory, "memory.")
    if not isinstance(model, ModelParams) or not isinstance(memory, MemoryParams):
        raise TypeError("build_model takes memae.params_model.ModelParams and MemoryParams")
    if model.kind == "conv":
        if model.encoder:
            enc_l = [layer.model_dump(exclude_none=True) for layer in model.encoder]
            dec_l = [layer.model_dump(exclude_none=True) for layer in model.decoder]
        else:
            enc_l, dec_l = mirrored_layers(input_shape, model.channels, model.kernels, model.strides)
        enc, dec, code = conv_autoencoder(input_shape, enc_l, dec_l, model.activation, model.output_activation)
    else:   # "mlp" (ModelParams.kind allows no other)
        enc, dec, code = mlp_autoencoder(input_shape[0], model.hidden, model.code_dim, model.activation,
                                         model.output_activation)
    if model.init == "official":
        init_official(enc)
        init_official(dec)
    mem = None  # created last, so that every variant starts from the same encoder and decoder
    if variant.memory:
        dim = math.prod(code) if memory.granularity == "image" else code[0]
        mem = Memory(memory.num_items, dim, shrink_thres=memory.shrink_thres if variant.shrink else 0.0,
                     addressing=memory.addressing)
    return AutoEncoder(enc, dec, mem, memory.granularity)
