import gzip
import struct

import numpy as np
import pytest

from memae.data.mnist import read_idx


def write_raw(path, payload: bytes, compress=True):
    (gzip.open if compress else open)(path, "wb").write(payload)


def test_parses_generated_idx_images_and_labels(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_raw(tmp_path / "img.gz", bytes([0, 0, 8, 3]) + struct.pack(">3I", 2, 3, 4) + images.tobytes())
    assert np.array_equal(read_idx(tmp_path / "img.gz"), images)
    labels = np.array([7, 1, 9], np.uint8)
    write_raw(tmp_path / "lab", bytes([0, 0, 8, 1]) + struct.pack(">I", 3) + labels.tobytes(), compress=False)
    assert read_idx(tmp_path / "lab").tolist() == [7, 1, 9]


def test_big_endian_int32_idx(tmp_path):
    values = np.array([1, -2, 300000], dtype=">i4")
    write_raw(tmp_path / "i.gz", bytes([0, 0, 0x0C, 1]) + struct.pack(">I", 3) + values.tobytes())
    assert read_idx(tmp_path / "i.gz").tolist() == [1, -2, 300000]


def test_bad_magic_and_truncated_body_name_the_file(tmp_path):
    write_raw(tmp_path / "bad.gz", b"\x01\x02\x03\x04" + b"\x00" * 8)
    with pytest.raises(ValueError, match="bad.gz.*magic"):
        read_idx(tmp_path / "bad.gz")
    write_raw(tmp_path / "short.gz", bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + b"\x00" * 4)
    with pytest.raises(ValueError, match="short.gz.*4 bytes"):
        read_idx(tmp_path / "short.gz")


def test_corrupt_deflate_stream_names_the_file(tmp_path):
    data = bytearray(gzip.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", 3000) + bytes(3000)))
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "c.gz").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="c.gz"):
        read_idx(tmp_path / "c.gz")
