import numpy as np
import pytest

from memae.cli import main
from memae.data import shanghaitech
from memae.data.fetch import ChecksumError, fetch
from memae.data.sources import SOURCES
from memae.data.frames import open_split

from .synth import fetched, span_labels

SIZE = {"train_videos": 2, "test_videos": 2, "frames": 20, "height": 48, "width": 64}


def test_fetch_without_the_archive_says_exactly_what_to_download_and_where(tmp_path, capsys):
    assert main(["fetch", "shanghaitech", "--dest", str(tmp_path / "raw")]) == 1
    err = capsys.readouterr().err
    assert err.count("error:") == 1
    assert "shanghaitech.tar.gz" in err and "svip-lab.github.io/dataset/campus_dataset.html" in err
    assert "data/raw/shanghaitech" in err and "sha256" in err
    assert not list((tmp_path / "raw").glob("*"))


def test_hand_placed_archive_is_verified_before_use(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "shanghaitech.tar.gz").write_bytes(b"not the archive")
    with pytest.raises(ChecksumError) as e:
        fetch("shanghaitech", raw)
    assert SOURCES["shanghaitech"][0].sha256 in str(e.value)
    assert (raw / "shanghaitech.tar.gz").read_bytes() == b"not the archive"   # left for the user to inspect


def test_synthetic_archive_prepares_avi_training_and_jpg_test_frames(tmp_path):
    raw = fetched("shanghaitech", tmp_path, SIZE)
    out = tmp_path / "data" / "prepared" / "shanghaitech"
    summary = shanghaitech.prepare(raw, out, {"data": {"frame_size": [24, 32]}}, workers=1)
    train, test = open_split(out / "train"), open_split(out / "test")
    assert train.names == ["01_001", "02_002"] and train.offsets.tolist() == [0, 20, 40]
    assert test.names == ["01_0001", "02_0002"]
    expected = span_labels(2, 20)
    assert test.labels.tolist() == expected
    assert summary["test"]["anomalous_share"] == pytest.approx(np.mean(expected))
