"""Dataset name -> the module that prepares it and implements its protocol.

Each module provides FILES (what fetch needs), prepare(raw, out, params, workers) and the protocol:
train_data(prepared, split, seed, params) -> (train, val), test_data(...) -> (x, is_anomaly),
metrics(scores, is_anomaly, params) -> dict.
"""
from __future__ import annotations

import importlib
from types import ModuleType

MODULES = {
    "mnist": "memae.data.mnist",
    "cifar10": "memae.data.cifar10",
    "cifar10_jpeg": "memae.data.cifar10_jpeg",
    "imagefolder": "memae.data.imagefolder",
    "ped2": "memae.data.ped2",
    "avenue": "memae.data.avenue",
    "shanghaitech": "memae.data.shanghaitech",
    "kddcup99": "memae.data.kddcup99",
}


def get(name: str) -> ModuleType:
    try:
        return importlib.import_module(MODULES[name])
    except KeyError:
        raise ValueError(f"dataset {name!r} is not implemented yet; available: {', '.join(MODULES)}") from None
