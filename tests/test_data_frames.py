import os
import tarfile

import numpy as np
import pytest
from PIL import Image

from memae.data import frames, synthetic
from memae.data.frames import Video, VideoError, open_split, write_split


def frame_folder(folder, values, shape=(8, 12)):
    """A folder of PNG frames, frame t filled with values[t] (plus a hidden file to be skipped)."""
    folder.mkdir(parents=True)
    for t, v in enumerate(values):
        Image.fromarray(np.full(shape, v, np.uint8)).save(folder / f"{t + 1:03d}.png")
    (folder / ".DS_Store").write_bytes(b"junk")
    return folder


@pytest.mark.parametrize("workers", [1, 2])
def test_frames_offsets_labels_round_trip(tmp_path, workers):
    a = frame_folder(tmp_path / "a", [10, 20, 30])
    b = frame_folder(tmp_path / "b", [40, 50])
    c = frame_folder(tmp_path / "c", [60, 70, 80, 90])
    videos = [Video("a", a), Video("b", b, np.array([0, 1])), Video("c", c, np.array([1, 1, 0, 0]))]
    s = write_split(videos, tmp_path / "out", (8, 12), workers, "toy")
    assert s == {"videos": 3, "frames": 9, "anomalous_share": 3 / 9}
    sp = open_split(tmp_path / "out")
    assert sp.names == ["a", "b", "c"]
    assert sp.offsets.tolist() == [0, 3, 5, 9]
    assert sp.labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 0, 0]
    assert sp.frames[:, 0, 0].tolist() == [10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert sp.video(1).shape == (2, 8, 12) and (sp.video(1)[1] == 50).all()
    assert not sp.frames.flags.writeable


def test_resize_to_frame_size_keeps_flat_frames_flat(tmp_path):
    a = frame_folder(tmp_path / "a", [100, 200], shape=(24, 36))
    write_split([Video("a", a)], tmp_path / "out", (16, 16), 1, "toy")
    sp = open_split(tmp_path / "out")
    assert sp.frames.shape == (2, 16, 16)
    assert (sp.frames[0] == 100).all() and (sp.frames[1] == 200).all()


def test_label_count_differing_from_frames_names_video_and_counts(tmp_path):
    a = frame_folder(tmp_path / "a", [1, 2, 3])
    with pytest.raises(VideoError, match=r"video v7: 5 frame labels in 7_label.mat but 3 frames in"):
        write_split([Video("v7", a, np.zeros(5), "7_label.mat")], tmp_path / "out", (8, 12), 1, "toy")


def test_corrupt_frame_is_named(tmp_path):
    a = frame_folder(tmp_path / "a", [1, 2])
    (a / "002.png").write_bytes(b"not a png")
    with pytest.raises(VideoError, match="002.png: corrupt"):
        write_split([Video("a", a)], tmp_path / "out", (8, 12), 1, "toy")


def test_avi_frames_are_counted_without_decoding_and_decoded_once(tmp_path):
    rng = np.random.default_rng(0)
    source, _ = synthetic.moving_object_video(23, 48, 64, rng)
    synthetic.write_avi(tmp_path / "v.avi", source)
    assert frames.count_frames(tmp_path / "v.avi") == 23
    write_split([Video("v", tmp_path / "v.avi")], tmp_path / "out", (48, 64), 1, "toy")
    got = open_split(tmp_path / "out").frames
    # lossy MPEG-4 and limited-range luma: close to the source, not equal
    assert np.abs(got.astype(int) - source.astype(int)).mean() < 6


def test_truncated_or_garbage_video_is_an_error_naming_it(tmp_path):
    source, _ = synthetic.moving_object_video(30, 48, 64, np.random.default_rng(1))
    synthetic.write_avi(tmp_path / "v.avi", source)
    data = (tmp_path / "v.avi").read_bytes()
    (tmp_path / "v.avi").write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError, match=r"video v: 30 frame labels but \d+ frames in .*v.avi"):
        write_split([Video("v", tmp_path / "v.avi", np.zeros(30))], tmp_path / "out", (48, 64), 1, "toy")
    (tmp_path / "w.avi").write_bytes(b"RIFF" + os.urandom(2000))
    with pytest.raises(VideoError, match="w.avi: cannot open as a video"):
        write_split([Video("w", tmp_path / "w.avi")], tmp_path / "out", (48, 64), 1, "toy")


def _tiny_dataset(raw):
    raw.mkdir()
    with tarfile.open(raw / "d.tar.gz", "w:gz") as tf:
        for split in ("train", "test"):
            src = frame_folder(raw.parent / "src" / split / "v1", [5, 6, 7])
            tf.add(src, f"d/{split}/v1")


def _find(scratch):
    root = scratch / "d.tar.gz" / "d"
    return {s: [Video("v1", root / s / "v1")] for s in ("train", "test")}


def test_second_prepare_with_unchanged_inputs_does_nothing(tmp_path, capsys):
    raw, out = tmp_path / "raw", tmp_path / "data" / "prepared" / "toy"
    _tiny_dataset(raw)
    params = {"data": {"frame_size": [8, 12]}}
    s1 = frames.extract_and_decode("toy", [raw / "d.tar.gz"], out, params, 1, _find)
    assert s1["train"]["frames"] == 3 and s1["test"]["frames"] == 3
    before = os.stat(out / "train" / "frames.u8").st_mtime_ns
    assert frames.extract_and_decode("toy", [raw / "d.tar.gz"], out, params, 1, _find) == s1
    assert "up to date" in capsys.readouterr().out
    assert os.stat(out / "train" / "frames.u8").st_mtime_ns == before
    # a changed frame size (or a changed raw file) prepares again
    s3 = frames.extract_and_decode("toy", [raw / "d.tar.gz"], out, {"data": {"frame_size": [4, 6]}}, 1, _find)
    assert s3["frame_size"] == [4, 6] and open_split(out / "test").frames.shape == (3, 4, 6)
    assert sorted(p.name for p in out.parent.iterdir()) == ["toy"]   # no scratch or tmp left


def test_missing_raw_file_says_to_fetch(tmp_path):
    with pytest.raises(FileNotFoundError, match="memae fetch"):
        frames.extract_and_decode("toy", [tmp_path / "nothing.tar.gz"], tmp_path / "out", None, 1, _find)


def test_open_split_of_unprepared_folder_says_to_prepare(tmp_path):
    with pytest.raises(FileNotFoundError, match="memae prepare"):
        open_split(tmp_path)


def test_truncated_frame_is_named(tmp_path):
    a = frame_folder(tmp_path / "a", [1, 2], shape=(64, 64))
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(a / "002.tif")
    (a / "002.png").unlink()
    data = (a / "002.tif").read_bytes()
    (a / "002.tif").write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError, match="002.tif: corrupt"):
        write_split([Video("a", a)], tmp_path / "out", (8, 12), 1, "toy")
