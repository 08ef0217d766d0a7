import io
import tarfile

import numpy as np
import pytest

from memae.data import cifar10, cifar10_jpeg, synthetic
from memae.protocols import oneclass
from memae.data.archive import ArchiveError
from memae.data.fetch import fetch

from .synth import fetched


def record(label, r, g, b):
    """One binary record: label byte, then the 1024 red, 1024 green and 1024 blue bytes."""
    return bytes([label]) + bytes(r) + bytes(g) + bytes(b)


def test_records_are_label_then_rgb_planes():
    r, g, b = range(0, 1024), [7] * 1024, [200] * 1024
    images, labels = cifar10.parse_records(record(3, [v % 256 for v in r], g, b) + record(9, b, r and g, g), "x")
    assert labels.tolist() == [3, 9]
    assert images.shape == (2, 32, 32, 3) and images.dtype == np.uint8
    assert images[0, 0, 0].tolist() == [0, 7, 200]
    assert images[0, 0, 5].tolist() == [5, 7, 200]          # row 0, column 5 of the red plane
    assert images[0, 1, 0, 0] == 32                          # row 1 starts at byte 32 of the plane
    assert images[1, 31, 31].tolist() == [200, 7, 7]


def test_partial_record_and_bad_label_are_errors():
    with pytest.raises(ValueError, match="batch.bin: 3072 bytes is not a whole number"):
        cifar10.parse_records(bytes(3072), "batch.bin")
    with pytest.raises(ValueError, match="label 12"):
        cifar10.parse_records(record(12, [0] * 1024, [0] * 1024, [0] * 1024), "b")


def test_synthetic_binary_archive_prepares_for_the_one_class_protocol(tmp_path):
    raw = fetched("cifar10", tmp_path, {"train_per_class": 6, "test_per_class": 4})
    s = cifar10.prepare(raw, tmp_path / "prep")
    assert (s["train"], s["test"], s["image_shape"]) == (60, 40, [32, 32, 3])
    params = {"train": {"val_fraction": 0.2, "max_train_samples": None}, "data": {"scale": "unit"},
              "eval": {"anomaly_fraction": None}}
    train, val = oneclass.train_data(tmp_path / "prep", "class3", 0, params)
    assert train.shape == (5, 3, 32, 32) and val.shape == (1, 3, 32, 32)
    test = oneclass.test_data(tmp_path / "prep", "class3", 0, params)
    x, y = test.x, test.labels
    assert len(x) == 40 and y.sum() == 36


def test_python_pickle_archive_or_truncated_archive_is_refused(tmp_path):
    (tmp_path / "raw").mkdir()
    with tarfile.open(tmp_path / "raw" / "cifar-10-binary.tar.gz", "w:gz") as tf:
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"\x80\x04..."))
    with pytest.raises(ValueError, match="data_batch_1.bin.*missing.*binary archive"):
        cifar10.prepare(tmp_path / "raw", tmp_path / "prep")
    path = tmp_path / "raw" / "cifar-10-binary.tar.gz"
    table = synthetic.make_mirror("cifar10", tmp_path / "m", {"train_per_class": 20, "test_per_class": 2})
    data = (tmp_path / "m" / "cifar10" / table[0].name).read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchiveError, match="truncated or corrupt"):
        cifar10.prepare(tmp_path / "raw", tmp_path / "prep")
    assert not (tmp_path / "prep").exists()


@pytest.mark.realdata
def test_shared_jpeg_copy_runs_through_the_image_folder_dataset(shared_datasets, tmp_path, monkeypatch):
    monkeypatch.setenv("MEMAE_MIRROR", str(shared_datasets))
    raw = tmp_path / "data" / "raw" / "cifar10_jpeg"
    fetch("cifar10_jpeg", raw)
    s = cifar10_jpeg.prepare(raw, tmp_path / "data" / "prepared" / "cifar10_jpeg", workers=2)
    assert s["label"] == "CIFAR-10, JPEG copy"
    assert (s["train"], s["test"], s["image_shape"]) == (50_000, 10_000, [32, 32, 3])
    assert s["classes"] == cifar10.CLASSES
    labels = np.load(tmp_path / "data" / "prepared" / "cifar10_jpeg" / "train_labels.npy")
    assert np.bincount(labels).tolist() == [5000] * 10
    assert sorted(p.name for p in (tmp_path / "data" / "prepared").iterdir()) == ["cifar10_jpeg"]
