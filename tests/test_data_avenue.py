import zipfile

import numpy as np
import pytest
import scipy.io

from memae.data import avenue
from memae.data.frames import VideoError, open_split

from .synth import fetched, span_labels

SIZE = {"train_videos": 2, "test_videos": 2, "frames": 20, "height": 48, "width": 64}


def test_mat_labels_any_pixel_of_each_vollabel_mask(tmp_path):
    cell = np.empty((1, 4), dtype=object)
    for t, hit in enumerate([0, 1, 0, 1]):
        m = np.zeros((6, 5), np.uint8)
        m[2, 1] = hit
        cell[0, t] = m
    scipy.io.savemat(tmp_path / "3_label.mat", {"volLabel": cell})
    assert avenue.mat_labels(tmp_path / "3_label.mat").tolist() == [0, 1, 0, 1]
    scipy.io.savemat(tmp_path / "x.mat", {"other": cell})
    with pytest.raises(VideoError, match="x.mat: no variable 'volLabel'"):
        avenue.mat_labels(tmp_path / "x.mat")


@pytest.fixture
def raw(tmp_path):
    return fetched("avenue", tmp_path, SIZE)


def test_synthetic_zips_prepare_with_vollabel_labels(raw, tmp_path):
    out = tmp_path / "data" / "prepared" / "avenue"
    summary = avenue.prepare(raw, out, {"data": {"frame_size": [24, 32]}}, workers=2)
    test = open_split(out / "test")
    assert test.names == ["01", "02"] and test.offsets.tolist() == [0, 20, 40]
    assert test.labels.tolist() == span_labels(2, 20)
    assert summary["train"]["frames"] == 40 and test.frames.shape == (40, 24, 32)


def test_mask_count_differing_from_frames_names_video_and_both_counts(raw, tmp_path):
    gt = raw / "ground_truth_demo.zip"
    cell = np.empty((1, 17), dtype=object)
    for t in range(17):
        cell[0, t] = np.zeros((4, 4), np.uint8)
    scipy.io.savemat(tmp_path / "2_label.mat", {"volLabel": cell})
    with zipfile.ZipFile(gt, "w") as zf:
        zf.write(tmp_path / "2_label.mat", "ground_truth_demo/testing_label_mask/2_label.mat")
        with zipfile.ZipFile(tmp_path / "mirror" / "avenue" / "ground_truth_demo.zip") as good:
            zf.writestr("ground_truth_demo/testing_label_mask/1_label.mat",
                        good.read("ground_truth_demo/testing_label_mask/1_label.mat"))
    out = tmp_path / "data" / "prepared" / "avenue"
    with pytest.raises(VideoError, match=r"avenue test video 02: 17 frame labels in 2_label.mat .* but 20 frames"):
        avenue.prepare(raw, out, {"data": {"frame_size": [24, 32]}})
    assert not (tmp_path / "data" / "prepared").exists() or not any((tmp_path / "data" / "prepared").iterdir())
