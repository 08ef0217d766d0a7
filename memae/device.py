"""Device, thread and precision set-up shared by training and scoring.

Precision (params `train.precision`, recorded in each run's settings):
  not set  bf16 autocast on CUDA, float32 on a CPU (what every run so far used)
  auto     bf16 autocast on CUDA and on CPUs with native bf16 arithmetic (AMX-BF16 or AVX512-BF16:
           oneDNN runs bf16 convolutions on them several times faster than float32), float32
           elsewhere (on an AVX2-only CPU bf16 is emulated and slower than float32)
  fp32     float32 everywhere
  bf16     bf16 autocast everywhere
bf16 changes results within bf16 rounding (benchmarks/bench_video.py prints the cost in clip scores
and AUC); with bf16 on a CPU, 3D conv networks are also put in channels_last_3d memory format.
"""
from __future__ import annotations

import contextlib
import os
import random
from pathlib import Path

import numpy as np
import torch

PRECISIONS = ("auto", "fp32", "bf16")
# The precision of this process's autocast, set by setup(): "fp32" or "bf16"; None: not set up.
_precision: dict[str, str | None] = {"value": None}


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """True when the CPU computes bf16 natively (AMX-BF16 or AVX512-BF16 in /proc/cpuinfo)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
    return bool(flags & {"amx_bf16", "avx512_bf16"})


def resolve_precision(setting: str | None, device: torch.device, native_bf16: bool | None = None) -> str:
    """'fp32' or 'bf16' for a precision setting (see the module docstring) on a device."""
    if setting is not None and setting not in PRECISIONS:
        raise ValueError(f"train.precision must be one of {', '.join(PRECISIONS)}, got {setting!r}")
    if device.type == "cuda":
        return "fp32" if setting == "fp32" else "bf16"
    if setting == "auto":
        return "bf16" if (cpu_has_native_bf16() if native_bf16 is None else native_bf16) else "fp32"
    return "bf16" if setting == "bf16" else "fp32"


def deterministic() -> None:
    """torch.use_deterministic_algorithms(True) for eager code, without the public function's import
    of torch._inductor.config (it pulls in torch._dynamo: about 1.5 s of every scoring job; a
    training job imports torch._dynamo through torch.optim anyway). That import only sets the flag
    of torch.compile'd graphs, and no run compiles; the flag eager operations read is the one the
    public function sets, through the same call."""
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None:   # a torch without the private setter: the public function
        torch.use_deterministic_algorithms(True)
    else:
        setter(True, warn_only=False)


def setup(threads: int | None, seed: int | None = None, precision: str | None = None) -> torch.device:
    """Set PyTorch's CPU threads (each Snakemake job gets its own share of cores), seeds, and
    determinism on CPU; CUDA gets cudnn.benchmark; the precision of autocast(). Returns the device
    to use."""
    if threads:
        torch.set_num_threads(threads)
        os.environ["OMP_NUM_THREADS"] = str(threads)
    if seed is not None:
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True
        device = torch.device("cuda")
    else:
        deterministic()
        device = torch.device("cpu")
    _precision["value"] = resolve_precision(precision, device)
    return device


def precision(device: torch.device) -> str:
    """The precision autocast() uses on this device: set by setup(), else the default."""
    return _precision["value"] or resolve_precision(None, device)


def autocast(device: torch.device):
    """bf16 autocast where the precision is bf16 (by default: on CUDA), nothing otherwise."""
    if precision(device) == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def set_memory_format(net: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """A network ready for this device's precision: with bf16 on a CPU, 3D conv networks in
    channels_last_3d (oneDNN's fast layout for them); untouched otherwise, so float32 results stay
    those of the plain network."""
    if device.type == "cpu" and precision(device) == "bf16" and any(
            isinstance(m, (torch.nn.Conv3d, torch.nn.ConvTranspose3d)) for m in net.modules()):
        return net.to(memory_format=torch.channels_last_3d)
    return net


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    bf16 = ", bf16 autocast" if precision(device) == "bf16" else ""
    return f"cpu ({torch.get_num_threads()} threads{bf16})"
