"""CUHK Avenue (reference sections 4 and 5): Avenue_Dataset.zip + ground_truth_demo.zip -> the
prepared video layout.

Videos are training_videos/NN.avi and testing_videos/NN.avi, decoded with PyAV. Test frame labels
come from ground_truth_demo/testing_label_mask/N_label.mat, variable volLabel (one mask per frame;
a frame is anomalous when its mask has any pixel set). A mask count that differs from the video's
frame count is an error naming the video and both counts.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

from . import frames
from .frames import Video, VideoError
from .sources import SOURCES

FILES = SOURCES["avenue"]
_WANTED = ("training_videos/", "testing_videos/", "testing_label_mask/")


def mat_labels(path: Path) -> np.ndarray:
    """Per-frame labels from an N_label.mat file: 1 where the frame's volLabel mask has any pixel set."""
    try:
        vol = scipy.io.loadmat(path)["volLabel"]
    except KeyError:
        raise VideoError(f"{path}: no variable 'volLabel'") from None
    except (OSError, ValueError, NotImplementedError, TypeError) as e:
        raise VideoError(f"{path}: cannot read as a MATLAB file ({e})") from None
    return np.array([np.asarray(m).any() for m in vol.ravel()], np.uint8)


def _videos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.avi") if not p.name.startswith("."))


def find_videos(scratch: Path) -> dict[str, list[Video]]:
    train = _videos(frames.find_dir(scratch, "training_videos", "Avenue"))
    test = _videos(frames.find_dir(scratch, "testing_videos", "Avenue"))
    masks = frames.find_dir(scratch, "testing_label_mask", "Avenue")
    tests = []
    for p in test:
        mat = masks / f"{int(p.stem)}_label.mat"
        if not mat.exists():
            raise VideoError(f"Avenue video {p.name}: label file {mat} is missing")
        tests.append(Video(p.stem, p, mat_labels(mat), f"{mat.name} (volLabel)"))
    return {"train": [Video(p.stem, p) for p in train], "test": tests}


def prepare(raw: Path, out: Path, params: dict | None = None, workers: int = 1) -> dict:
    return frames.extract_and_decode("avenue", [Path(raw) / f.name for f in FILES], out, params, workers,
                                     find_videos, include=lambda name: any(w in name for w in _WANTED))
