"""ShanghaiTech Campus (reference sections 4 and 5): shanghaitech.tar.gz -> the prepared video layout.

Its public direct mirror is dead, so the archive is downloaded by hand (see the `manual` text in
memae/data/sources.py) and verified against its sha256 by `memae fetch` before use. Training videos
are training/videos/SS_VVV.avi (decoded with PyAV); test videos are folders of frames
testing/frames/SS_VVVV/NNN.jpg, labelled by testing/test_frame_mask/SS_VVVV.npy (one 0/1 per frame).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import frames
from .frames import Video, VideoError
from .sources import SOURCES

FILES = SOURCES["shanghaitech"]
_WANTED = ("training/videos/", "testing/frames/", "testing/test_frame_mask/")


def npy_labels(path: Path) -> np.ndarray:
    try:
        y = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise VideoError(f"{path}: cannot read as a .npy array ({e})") from None
    if y.ndim != 1 or not np.isin(y, (0, 1)).all():
        raise VideoError(f"{path}: expected one 0/1 value per frame, got shape {y.shape}")
    return y.astype(np.uint8)


def find_videos(scratch: Path) -> dict[str, list[Video]]:
    train = sorted(p for p in frames.find_dir(scratch, "training/videos", "ShanghaiTech").glob("*.avi")
                   if not p.name.startswith("."))
    test_frames = frames.find_dir(scratch, "testing/frames", "ShanghaiTech")
    masks = frames.find_dir(scratch, "testing/test_frame_mask", "ShanghaiTech")
    tests = []
    for d in sorted(p for p in test_frames.iterdir() if p.is_dir()):
        npy = masks / f"{d.name}.npy"
        if not npy.exists():
            raise VideoError(f"ShanghaiTech video {d.name}: label file {npy} is missing")
        tests.append(Video(d.name, d, npy_labels(npy), npy.name))
    return {"train": [Video(p.stem, p) for p in train], "test": tests}


def prepare(raw: Path, out: Path, params: dict | None = None, workers: int = 1) -> dict:
    return frames.extract_and_decode("shanghaitech", [Path(raw) / f.name for f in FILES], out, params, workers,
                                     find_videos, include=lambda name: any(w in name for w in _WANTED))
