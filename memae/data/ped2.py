"""UCSD Ped2 (reference sections 4 and 5): UCSD_Anomaly_Dataset.tar.gz -> the prepared video layout.

Only the UCSDped2 members of the archive (which also holds Ped1) are extracted. Videos are the
folders of .tif frames Train/TrainNNN and Test/TestNNN. A test frame is anomalous when its mask
Test/TestNNN_gt/*.bmp has any pixel set; those labels must agree with the ranges listed in
Test/UCSDped2.m, and a disagreement is an error naming the video.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image

from . import frames
from .frames import Video, VideoError
from .sources import SOURCES

FILES = SOURCES["ped2"]
ROOT = "UCSDped2"
_RANGES = re.compile(r"gt_frame\s*=\s*\[([^\]]*)\]")


def parse_m(path: Path) -> list[np.ndarray]:
    """The anomalous frame numbers (1-based) of each test video listed in UCSDped2.m."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise VideoError(f"{path}: cannot read ({e})") from None
    videos = []
    for body in _RANGES.findall(text):
        numbers = []
        for part in filter(None, (s.strip() for s in body.split(","))):
            m = re.fullmatch(r"(\d+)\s*:\s*(\d+)|(\d+)", part)
            if not m:
                raise VideoError(f"{path}: cannot parse frame range {part!r}")
            lo, hi = (int(m[1]), int(m[2])) if m[1] else (int(m[3]), int(m[3]))
            numbers.extend(range(lo, hi + 1))
        videos.append(np.array(numbers, np.int64))
    if not videos:
        raise VideoError(f"{path}: no 'gt_frame = [...]' entries found")
    return videos


def mask_labels(gt_dir: Path) -> np.ndarray:
    """1 for each mask of gt_dir (sorted by name) with any pixel set."""
    masks = frames.frame_files(gt_dir)
    out = np.zeros(len(masks), np.uint8)
    for i, m in enumerate(masks):
        try:
            with Image.open(m) as im:
                out[i] = np.asarray(im).any()
        except OSError as e:
            raise VideoError(f"{m}: corrupt or unreadable mask ({e})") from None
    return out


def test_labels(test_dir: Path) -> dict[str, np.ndarray]:
    """Frame labels of each TestNNN video from its masks, checked against UCSDped2.m."""
    test_dir = Path(test_dir)
    names = sorted(p.name for p in test_dir.iterdir() if re.fullmatch(r"Test\d+", p.name) and p.is_dir())
    listed = parse_m(test_dir / "UCSDped2.m")
    if len(listed) != len(names):
        raise VideoError(f"{test_dir / 'UCSDped2.m'} lists {len(listed)} test videos but {test_dir} has {len(names)}")
    labels = {}
    for name, listed_frames in zip(names, listed):
        gt = test_dir / f"{name}_gt"
        if not gt.is_dir():
            raise VideoError(f"Ped2 video {name}: mask folder {gt} is missing")
        y = mask_labels(gt)
        from_masks = np.flatnonzero(y) + 1
        if not np.array_equal(from_masks, listed_frames):
            only_m = sorted(set(listed_frames.tolist()) - set(from_masks.tolist()))
            only_masks = sorted(set(from_masks.tolist()) - set(listed_frames.tolist()))
            raise VideoError(f"Ped2 video {name}: masks in {gt} and UCSDped2.m disagree (frames only in the .m: "
                             f"{only_m[:10]}, only in the masks: {only_masks[:10]})")
        labels[name] = y
    return labels


def find_videos(scratch: Path) -> dict[str, list[Video]]:
    root = frames.find_dir(scratch, ROOT, "Ped2")
    train = sorted(p for p in (root / "Train").glob("Train[0-9]*") if p.is_dir())
    test = sorted(p for p in (root / "Test").glob("Test[0-9]*") if p.is_dir() and not p.name.endswith("_gt"))
    labels = test_labels(root / "Test")
    return {"train": [Video(p.name, p) for p in train],
            "test": [Video(p.name, p, labels[p.name], f"{p.name}_gt masks") for p in test]}


def prepare(raw: Path, out: Path, params: dict | None = None, workers: int = 1) -> dict:
    return frames.extract_and_decode("ped2", [Path(raw) / f.name for f in FILES], out, params, workers,
                                     find_videos, include=lambda name: f"/{ROOT}/" in f"/{name}")
