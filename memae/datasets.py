"""The dataset registry: one DatasetSpec per dataset (torch-free, read by the workflow).

A spec names the module that holds the dataset's files, parsers, labels and prepare(raw, out,
params, workers), and the protocol by role (memae.protocols.<role>): "oneclass" (one class normal,
images), "records" (tabular records, a top-fraction threshold), "video" (frame-level scores of
clips). Everything else that lists datasets derives from SPECS.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

PROTOCOLS = ("oneclass", "records", "video")


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    module: str          # files, parsers, labels, prepare()
    protocol: str        # one of PROTOCOLS

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)


SPECS: dict[str, DatasetSpec] = {s.name: s for s in (
    DatasetSpec("mnist", "memae.data.mnist", "oneclass"),
    DatasetSpec("cifar10", "memae.data.cifar10", "oneclass"),
    DatasetSpec("cifar10_jpeg", "memae.data.cifar10_jpeg", "oneclass"),
    DatasetSpec("imagefolder", "memae.data.imagefolder", "oneclass"),
    DatasetSpec("ped2", "memae.data.ped2", "video"),
    DatasetSpec("avenue", "memae.data.avenue", "video"),
    DatasetSpec("shanghaitech", "memae.data.shanghaitech", "video"),
    DatasetSpec("kddcup99", "memae.data.kddcup99", "records"),
)}
# dataset -> module path (kept for callers that only need the module)
MODULES = {name: s.module for name, s in SPECS.items()}


def spec(name: str) -> DatasetSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise ValueError(f"dataset {name!r} is not implemented yet; available: {', '.join(SPECS)}") from None


def get(name: str) -> ModuleType:
    return spec(name).load()
