"""Helpers for tests on synthetic raw data: fetch a generated dataset, and its expected labels."""
from pathlib import Path

import numpy as np

from memae.data import synthetic
from memae.data.fetch import fetch


def fetched(dataset: str, root: Path, size: dict) -> Path:
    """Generate dataset's raw files under root/mirror and fetch them (verified) into root/data/raw."""
    table = synthetic.make_mirror(dataset, root / "mirror", size)
    raw = root / "data" / "raw" / dataset
    fetch(dataset, raw, files=table, mirror=root / "mirror" / dataset)
    return raw


def span_labels(n_videos: int, n_frames: int) -> list[int]:
    """Per-frame labels of the synthetic test videos, built from anomaly_spans' [start, end)."""
    y = np.zeros(n_videos * n_frames, np.uint8)
    for i, (a, b) in enumerate(synthetic.anomaly_spans(n_videos, n_frames)):
        y[i * n_frames + a:i * n_frames + b] = 1
    return y.tolist()
