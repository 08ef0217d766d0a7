"""CIFAR-10 from the binary archive (cifar-10-binary.tar.gz): plain bytes, no pickle is ever loaded.

Each record of cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin is 1 label byte and 3072
pixel bytes (the red, green and blue 32x32 planes). Prepared like MNIST, in the layout of
memae/data/imageset.py (train_images / test_images N x 32 x 32 x 3 uint8, and labels), for the
one-class protocol (memae.protocols.oneclass).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import archive, imageset
from .sources import SOURCES

FILES = SOURCES["cifar10"]
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
FOLDER = "cifar-10-batches-bin"
BATCHES = {"train": [f"data_batch_{i}.bin" for i in range(1, 6)], "test": ["test_batch.bin"]}
RECORD = 1 + 3 * 32 * 32
BATCH_BYTES = 10_000 * RECORD


def parse_records(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Binary records -> (images N x 32 x 32 x 3 uint8, labels int64)."""
    if len(data) % RECORD:
        raise ValueError(f"{where}: {len(data)} bytes is not a whole number of {RECORD}-byte records; "
                         "the archive is damaged, fetch it again")
    rec = np.frombuffer(data, np.uint8).reshape(-1, RECORD)
    labels = rec[:, 0].astype(np.int64)
    if labels.size and labels.max() >= len(CLASSES):
        raise ValueError(f"{where}: label {labels.max()} out of range 0-9")
    images = rec[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def prepare(raw: Path, out: Path, params: dict | None = None, workers: int = 1) -> dict:
    path = Path(raw) / FILES[0].name
    wanted = {f"{FOLDER}/{b}" for names in BATCHES.values() for b in names}
    # a batch holds 10,000 records: a bigger member is refused before it is read into memory
    members = archive.read_members(path, lambda name: name.lstrip("./") in wanted, max_member=BATCH_BYTES)
    members = {k.lstrip("./"): v for k, v in members.items()}
    parts = {}
    for split, names in BATCHES.items():
        missing = [n for n in names if f"{FOLDER}/{n}" not in members]
        if missing:
            raise ValueError(f"{path}: {', '.join(missing)} missing from {FOLDER}/; is it the binary archive?")
        images, labels = zip(*(parse_records(members[f"{FOLDER}/{n}"], f"{path}:{n}") for n in names))
        parts[f"{split}_images"], parts[f"{split}_labels"] = np.concatenate(images), np.concatenate(labels)
    return imageset.write_prepared(out, parts, "cifar10", "CIFAR-10", CLASSES)
