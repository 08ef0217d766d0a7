"""The one-class image protocol (reference section 4) of MNIST, CIFAR-10 and image folders.

Reads the prepared layout of memae/data/imageset.py. Split "classK": class K is normal. Training
uses class K's training images less a seeded validation hold-out; the test set is class K's test
images (normal) plus images of the other classes (anomalous), subsampled to
`eval.anomaly_fraction` of the test set when that is set. Score: each image's reconstruction MSE;
metric: the AUC.

`data.normalize: gcn_l1_minmax` (a study; left out, images are only scaled) follows Deep SVDD's
one-class preprocessing: each image's global contrast normalisation (its mean subtracted, then
divided by its mean absolute value: the L1 scale), then min-max scaling to [0, 1] by the smallest
and largest value over all of the normal class's training images after that normalisation (Deep
SVDD hard-codes those per class; here they are computed from the training images, never from the
test set). Test images use the training class's bounds, so they may fall slightly outside [0, 1].
"""
from __future__ import annotations

import numpy as np
import torch

from ..data import arrays
from . import ScoreTable, held_out_count
from .samples import ArrayTest, score_samples


def class_of(split: str) -> int:
    if not split.startswith("class") or not split[5:].isdigit():
        raise ValueError(f"one-class split must look like 'class3', got {split!r}")
    return int(split[5:])


def to_float(images: np.ndarray, scale: str) -> np.ndarray:
    """uint8 (N,H,W[,C]) -> float32 (N,C,H,W) in [0,1] ("unit") or [-1,1] ("symmetric")."""
    x = np.asarray(images, dtype=np.float32) / 255.0
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    if scale == "symmetric":
        x = x * 2.0 - 1.0
    elif scale != "unit":
        raise ValueError(f"data.scale must be 'unit' or 'symmetric', got {scale!r}")
    return np.ascontiguousarray(x)


NORMALIZE = ("none", "gcn_l1_minmax")


def gcn_l1(x: np.ndarray) -> np.ndarray:
    """Global contrast normalisation with the L1 scale, per image of a float (N, ...) array: the
    image's mean subtracted, then divided by its mean absolute value (an image of one value stays
    all zeros)."""
    axes = tuple(range(1, x.ndim))
    x = x - x.mean(axis=axes, keepdims=True)
    s = np.abs(x).mean(axis=axes, keepdims=True)
    return np.divide(x, s, out=np.zeros_like(x), where=s > 0)


def _normalizer(prepared, c: int, params: dict):
    """The function data.normalize applies to scaled images of class c's run (the identity when it
    is left out or none); the gcn bounds are computed here, once, from class c's training images."""
    how = params["data"].get("normalize") or "none"
    if how == "none":
        return lambda x: x
    if how != "gcn_l1_minmax":
        raise ValueError(f"data.normalize must be one of {', '.join(NORMALIZE)}, got {how!r}")
    lo, hi = _gcn_bounds(prepared, c, params["data"]["scale"])
    return lambda x: np.ascontiguousarray((gcn_l1(x) - lo) / (hi - lo), dtype=np.float32)


def _gcn_bounds(prepared, c: int, scale: str) -> tuple[float, float]:
    """The smallest and largest value of all class-c training images after gcn_l1."""
    labels = arrays.load(prepared, "train_labels", mmap=False)
    z = gcn_l1(to_float(arrays.load(prepared, "train_images")[np.flatnonzero(labels == c)], scale))
    lo, hi = float(z.min()), float(z.max())
    if not hi > lo:
        raise ValueError(f"{prepared}: class {c}'s training images are all alike after contrast "
                         "normalisation, so data.normalize: gcn_l1_minmax cannot scale them; "
                         "leave data.normalize out (or none) for this dataset")
    return lo, hi


def train_data(prepared, split: str, seed: int, params: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Class K's training images less a seeded hold-out of `train.val_fraction` (at least one;
    none when it is 0)."""
    c = class_of(split)
    labels = arrays.load(prepared, "train_labels", mmap=False)
    idx = np.flatnonzero(labels == c)
    if idx.size == 0:
        raise ValueError(f"{prepared}: no training images of class {c}")
    rng = np.random.default_rng(seed)
    idx = rng.permutation(idx)
    cap = params["train"]["max_train_samples"]
    n_val = held_out_count(len(idx), params["train"]["val_fraction"])
    val, train = idx[:n_val], idx[n_val:]
    if cap:
        train = train[:cap]
    images = arrays.load(prepared, "train_images")
    scale, norm = params["data"]["scale"], _normalizer(prepared, c, params)
    return tuple(torch.from_numpy(norm(to_float(images[np.sort(part)], scale))) for part in (train, val))


def test_data(prepared, split: str, seed: int, params: dict) -> ArrayTest:
    """Class K's test images (label 0) and anomalies from the other classes (label 1)."""
    c = class_of(split)
    labels = arrays.load(prepared, "test_labels", mmap=False)
    normal, anomalous = np.flatnonzero(labels == c), np.flatnonzero(labels != c)
    frac = params["eval"]["anomaly_fraction"]
    if frac is not None:
        n_anom = min(len(anomalous), int(round(len(normal) * frac / (1.0 - frac))))
        rng = np.random.default_rng(10_000 + seed)
        anomalous = np.sort(rng.choice(anomalous, n_anom, replace=False))
    idx = np.concatenate([normal, anomalous])
    y = np.concatenate([np.zeros(len(normal), np.int64), np.ones(len(anomalous), np.int64)])
    images = arrays.load(prepared, "test_images")
    norm = _normalizer(prepared, c, params)
    return ArrayTest(norm(to_float(images[idx], params["data"]["scale"])), y)


def score(net, test: ArrayTest, params: dict, variant, device) -> ScoreTable:
    """Each test image's reconstruction MSE."""
    return score_samples(net, test, params, device)


def metrics(table: ScoreTable, params: dict) -> dict:
    from sklearn.metrics import roc_auc_score   # here, not at the top: a training job never loads sklearn
    return {"auc": float(roc_auc_score(table.labels, table.scores))}
