"""Small synthetic datasets in the real on-disk formats, for the `smoke` profile and the tests.

make_mirror(dataset, folder) writes the dataset's raw files into folder/<dataset>/ exactly as the
publisher ships them (gzip'd IDX for MNIST, gzip'd CSV for KDDCUP99) and returns a table of
RemoteFile entries with their checksums, so `fetch` verifies them like real downloads.
"""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from .fetch import file_sha256
from .kddcup99 import COLUMNS, SYMBOLIC
from .sources import RemoteFile


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as a gzip-compressed IDX file."""
    a = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        f.write(header + a.tobytes())


def digit_like(labels: np.ndarray, rng: np.random.Generator, size: int = 28) -> np.ndarray:
    """One stroke per image whose angle depends on the class, with jitter and noise."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) - (size - 1) / 2
    out = np.empty((len(labels), size, size), np.uint8)
    for i, c in enumerate(labels):
        angle = np.pi * c / 10 + rng.normal(0, 0.05)
        dx, dy = rng.normal(0, 1.0, 2)
        dist = np.abs((xx - dx) * np.sin(angle) - (yy - dy) * np.cos(angle))
        along = np.abs((xx - dx) * np.cos(angle) + (yy - dy) * np.sin(angle))
        img = np.clip(2.0 - dist, 0, 1) * (along < 9)
        img = img * 230 + rng.uniform(0, 25, img.shape)
        out[i] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def _mnist(folder: Path, rng: np.random.Generator, size: dict) -> None:
    for prefix, n in (("train", size["train_per_class"]), ("t10k", size["test_per_class"])):
        labels = np.repeat(np.arange(10, dtype=np.uint8), n)
        labels = labels[rng.permutation(len(labels))]
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", digit_like(labels, rng))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)


def _kddcup99(folder: Path, rng: np.random.Generator, size: dict) -> None:
    """Attack records (the model's normal data) cluster tightly; "normal." records (~20%) differ."""
    n = size["records"]
    is_anom = rng.random(n) < 0.2
    protocols = np.array(["tcp", "udp", "icmp"])
    services = np.array(["http", "smtp", "ecr_i", "private", "ftp_data", "other"])
    flags = np.array(["SF", "S0", "REJ", "RSTO"])
    rows = []
    for a in is_anom:
        num = rng.normal(0.8 if a else 0.2, 0.05, len(COLUMNS) - 1 - len(SYMBOLIC)).clip(0, 1)
        num[:3] = np.round(num[:3] * (1000 if a else 100))  # duration, byte counts: integers
        sym = [protocols[0 if a else rng.integers(1, 3)], services[rng.integers(0, 2) if a else rng.integers(2, 6)],
               flags[0 if a else rng.integers(0, 4)]]
        vals = [f"{v:g}" for v in num]
        rec = [vals[0], *sym, *vals[1:], "normal." if a else rng.choice(["smurf.", "neptune.", "back."])]
        rows.append(",".join(rec))
    with gzip.GzipFile(folder / "kddcup.data_10_percent.gz", "wb", mtime=0) as f:
        f.write(("\n".join(rows) + "\n").encode())


GENERATORS = {"mnist": (_mnist, True), "kddcup99": (_kddcup99, False)}


def make_mirror(dataset: str, root: Path, size: dict, seed: int = 0) -> tuple[RemoteFile, ...]:
    """Write synthetic raw files under root/<dataset>/ and return their checksum table."""
    if dataset not in GENERATORS:
        raise ValueError(f"no synthetic generator for {dataset!r}; have {', '.join(GENERATORS)}")
    make, content_hash = GENERATORS[dataset]
    folder = Path(root) / dataset
    folder.mkdir(parents=True, exist_ok=True)
    make(folder, np.random.default_rng(seed), size)
    table = []
    for path in sorted(folder.iterdir()):
        h = file_sha256(path, decompress=content_hash)
        table.append(RemoteFile(path.name, (), **({"content_sha256": h} if content_hash else {"sha256": h}),
                                manual="synthetic data: rerun `memae fetch --synthetic`"))
    return tuple(table)
