"""Device and thread set-up shared by training and scoring."""
from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch


def setup(threads: int | None, seed: int | None = None) -> torch.device:
    """Set PyTorch's CPU threads (each Snakemake job gets its own share of cores), seeds, and
    determinism on CPU; CUDA gets cudnn.benchmark. Returns the device to use."""
    if threads:
        torch.set_num_threads(threads)
        os.environ["OMP_NUM_THREADS"] = str(threads)
    if seed is not None:
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True
        return torch.device("cuda")
    torch.use_deterministic_algorithms(True)
    return torch.device("cpu")


def autocast(device: torch.device):
    """bf16 autocast on CUDA, nothing on CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu ({torch.get_num_threads()} threads)"
