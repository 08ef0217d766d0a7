"""The evaluation protocols, by role: how a dataset's prepared data become training samples, a
test set, one score table and the paper's metrics. A dataset's role is the `protocol` of its
registry entry (memae.datasets.spec(name).protocol):

- "oneclass" (memae.protocols.oneclass): images, one class normal (MNIST, CIFAR-10, image folders);
- "records" (memae.protocols.records): tabular records, the top 20% of scores flagged (KDDCUP99);
- "video" (memae.protocols.video): frame scores from stride-1 clips (Ped2, Avenue, ShanghaiTech).

Every protocol module provides the same four functions:

    train_data(prepared, split, seed, params) -> (train, val)
        training and validation samples: a float tensor (N, ...) or a memae.protocols.video.ClipSource,
        both with len(), .shape, .device, [index tensor or slice] -> float batch, .to(device);
    test_data(prepared, split, seed, params) -> the protocol's test set;
    score(net, test, params, variant, device) -> ScoreTable;
    metrics(table, params) -> dict of metric name -> value.

A protocol whose scoring settings decide the training data (records: eval.test_fraction) names
them in TRAIN_DATA_EVAL_KEYS (training records their values in train_log.json and its
checkpoints; memae.evaluate compares them before scoring) and provides
train_sizes(prepared, split, seed, params) -> (n_train, n_val), the check for runs trained before
those values were recorded.

Protocols read the prepared layouts of memae.data (downward only); nothing under memae.data
imports them.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

ROLES = ("oneclass", "records", "video")


def held_out_count(n: int, fraction: float, at_least: int = 1) -> int:
    """How many of n samples (video: frames of one video) the validation hold-out takes: the
    `train.val_fraction` of them, rounded, and at least `at_least`; none when the fraction is 0
    (every sample trains, the run logs no validation loss)."""
    return max(at_least, int(round(n * fraction))) if fraction > 0 else 0


def train_data_settings(protocol: ModuleType, params: dict) -> dict:
    """The scoring settings that decide a protocol's training data (its TRAIN_DATA_EVAL_KEYS; the
    records protocol's eval.test_fraction), which a run's settings digest does not hold: training
    records them and checks them on resume, and memae.evaluate refuses a run trained with others."""
    return {k: params["eval"][k] for k in getattr(protocol, "TRAIN_DATA_EVAL_KEYS", ())}


def get(role: str) -> ModuleType:
    """The protocol module of a role (memae.datasets.spec(name).protocol)."""
    if role not in ROLES:
        raise ValueError(f"unknown protocol {role!r}; the protocols are {', '.join(ROLES)}")
    return importlib.import_module(f"{__name__}.{role}")


@dataclass
class ScoreTable:
    """A run's scores on its test set, one row per scored sample (an image, a record, or a video
    frame that receives a clip's score), as every protocol returns them and scores.npz holds them."""
    scores: np.ndarray                     # float32, higher = more anomalous
    labels: np.ndarray                     # int8, 1 = anomalous
    errors: np.ndarray | None = None       # video: float32 clip error before per-video normalisation
    video: np.ndarray | None = None        # video: int32 index of the row's video in `names`
    frame: np.ndarray | None = None        # video: int32 frame number within its video (0-based)
    names: np.ndarray | None = None        # video: the test videos' names (one per video)
    # scores of the run's training samples, for a threshold drawn from them (records,
    # eval.threshold_population train_test); used by metrics, not written to scores.npz
    reference_scores: np.ndarray | None = None

    SAVED = ("scores", "errors", "labels", "video", "frame", "names")   # scores.npz, in this order

    def __post_init__(self):
        n = len(self.scores)
        for f in ("labels", "errors", "video", "frame"):
            if getattr(self, f) is not None and len(getattr(self, f)) != n:
                raise ValueError(f"score table: {f} has {len(getattr(self, f))} rows, scores {n}")

    def __len__(self) -> int:
        return len(self.scores)

    def columns(self) -> dict[str, np.ndarray]:
        """The arrays scores.npz holds: scores and labels, plus errors, video, frame and names for video."""
        return {k: getattr(self, k) for k in self.SAVED if getattr(self, k) is not None}

    def save(self, path: Path) -> None:
        """Write scores.npz atomically (a temporary file beside it, then renamed)."""
        path = Path(path)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez_compressed(tmp, **self.columns())
        tmp.replace(path)

