"""MNIST: the four IDX files (gzip) -> prepared uint8 arrays for the one-class protocol."""
from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from . import imageset
from .sources import SOURCES

FILES = SOURCES["mnist"]
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (optionally gzip-compressed) into an array, checking its header."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"{path}: cannot read ({e}); fetch it again") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: IDX header truncated")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_DTYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(f"{path}: IDX body has {len(data) - header} bytes, header says {expected}")
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def prepare(raw: Path, out: Path, params: dict | None = None, workers: int = 1) -> dict:
    raw = Path(raw)
    parts = {
        "train_images": read_idx(raw / "train-images-idx3-ubyte.gz"),
        "train_labels": read_idx(raw / "train-labels-idx1-ubyte.gz").astype(np.int64),
        "test_images": read_idx(raw / "t10k-images-idx3-ubyte.gz"),
        "test_labels": read_idx(raw / "t10k-labels-idx1-ubyte.gz").astype(np.int64),
    }
    for split, prefix in (("train", "train"), ("test", "t10k")):
        if len(parts[f"{split}_images"]) != len(parts[f"{split}_labels"]):
            raise ValueError(f"{raw}: {split} images and labels differ in count")
        labels = parts[f"{split}_labels"]
        bad = np.flatnonzero((labels < 0) | (labels > 9))
        if bad.size:
            raise ValueError(f"{raw / f'{prefix}-labels-idx1-ubyte.gz'}: record {bad[0] + 1} has label "
                             f"{labels[bad[0]]}, outside the digits 0-9 ({bad.size} such record(s)); "
                             "fetch the file again")
    return imageset.write_prepared(out, parts, "mnist", "MNIST", [str(i) for i in range(10)])
