import numpy as np
import pytest
from PIL import Image

from memae.data import ped2
from memae.data.archive import extract
from memae.data.frames import VideoError, open_split

from .synth import fetched, span_labels

SIZE = {"train_videos": 2, "test_videos": 3, "frames": 24, "height": 48, "width": 72}
# The real Test/UCSDped2.m, copied by hand: the anomalous frames of each of the 12 test videos.
REAL_RANGES = [(61, 180), (95, 180), (1, 146), (31, 180), (1, 129), (1, 159),
               (46, 180), (1, 180), (1, 120), (1, 150), (1, 180), (88, 180)]


def test_parse_m_single_multiple_and_empty_ranges(tmp_path):
    m = tmp_path / "UCSDped2.m"
    m.write_text("TestVideoFile = {};\nTestVideoFile{end+1}.gt_frame = [61:64];\n"
                 "TestVideoFile{end+1}.gt_frame = [1:2, 5:6 ,9];\nTestVideoFile{end+1}.gt_frame = [];\n")
    got = ped2.parse_m(m)
    assert [g.tolist() for g in got] == [[61, 62, 63, 64], [1, 2, 5, 6, 9], []]


def _masks(folder, anomalous, n=6):
    folder.mkdir(parents=True)
    for t in range(1, n + 1):
        m = np.zeros((8, 8), np.uint8)
        if t in anomalous:
            m[3, 4] = 255            # a single pixel set makes the frame anomalous
        Image.fromarray(m).save(folder / f"{t:03d}.bmp")


def test_labels_from_masks_must_agree_with_m_file(tmp_path):
    test = tmp_path / "Test"
    for name in ("Test001", "Test002"):
        (test / name).mkdir(parents=True)
    _masks(test / "Test001_gt", {2, 3})
    _masks(test / "Test002_gt", {5, 6})
    (test / "UCSDped2.m").write_text("TestVideoFile{end+1}.gt_frame = [2:3];\nTestVideoFile{end+1}.gt_frame = [5:6];\n")
    labels = ped2.test_labels(test)
    assert labels["Test001"].tolist() == [0, 1, 1, 0, 0, 0]
    assert labels["Test002"].tolist() == [0, 0, 0, 0, 1, 1]
    (test / "UCSDped2.m").write_text("TestVideoFile{end+1}.gt_frame = [2:3];\nTestVideoFile{end+1}.gt_frame = [4:6];\n")
    with pytest.raises(VideoError, match=r"Ped2 video Test002: masks .* disagree .*only in the .m: \[4\]"):
        ped2.test_labels(test)


def test_synthetic_archive_prepares_with_labels_from_masks(tmp_path):
    raw = fetched("ped2", tmp_path, SIZE)
    out = tmp_path / "data" / "prepared" / "ped2"
    summary = ped2.prepare(raw, out, {"data": {"frame_size": [32, 32]}}, workers=2)
    test = open_split(out / "test")
    assert test.names == ["Test001", "Test002", "Test003"]
    expected = span_labels(3, 24)
    assert test.labels.tolist() == expected
    assert open_split(out / "train").names == ["Train001", "Train002"]   # Ped1 is left out
    assert summary["test"] == {"videos": 3, "frames": 72, "anomalous_share": pytest.approx(np.mean(expected))}
    assert test.frames.shape == (72, 32, 32)
    assert sorted(p.name for p in out.parent.iterdir()) == ["ped2"]


@pytest.mark.realdata
def test_real_ped2_ground_truth(shared_datasets, tmp_path):
    gt = shared_datasets / "ucsd_ped2_gt"
    root = extract(gt / "UCSDped2_Test_gt_masks.tar.gz", tmp_path / "gt")
    test = root / "UCSD_Anomaly_Dataset.v1p2" / "UCSDped2" / "Test"
    (test / "UCSDped2.m").write_bytes((gt / "UCSDped2.m").read_bytes())
    for i in range(1, 13):                    # the frame folders are not shared; the masks are
        (test / f"Test{i:03d}").mkdir()
    labels = ped2.test_labels(test)
    assert list(labels) == [f"Test{i:03d}" for i in range(1, 13)]
    assert sum(len(y) for y in labels.values()) == 2010
    for (name, y), (a, b) in zip(labels.items(), REAL_RANGES):
        assert np.flatnonzero(y).tolist() == list(range(a - 1, b)), name
