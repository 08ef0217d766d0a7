"""The records protocol (reference section 4, DAGMM's convention) of KDDCUP99.

Reads the prepared layout of memae/data/kddcup99.py: features.npy (float32, one row per record)
and labels.npy (1 = anomaly). Split "all" with seed k: a seeded split of the records, the last
`eval.test_fraction` (50%) of a permutation for testing; the model trains on the non-anomalous
records of the rest and is tested on the test records, where the top
`eval.threshold_top_fraction` (20%) of scores are flagged as anomalies. Score: each record's
reconstruction MSE; metrics: precision, recall and F1 of the anomaly class, and the AUC.
"""
from __future__ import annotations

import numpy as np
import torch

from ..data import arrays
from . import ScoreTable, held_out_count
from .samples import ArrayTest, score_samples


# eval.test_fraction decides which records train (memae.protocols.train_data_settings)
TRAIN_DATA_EVAL_KEYS = ("test_fraction",)


def _split(prepared, seed: int, params: dict) -> tuple[np.ndarray, np.ndarray]:
    n = len(arrays.load(prepared, "labels"))
    perm = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * params["eval"]["test_fraction"]))
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def _train_val_indices(prepared, seed: int, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """The record numbers that train and that are held out for validation: the non-anomalous
    records of the training part, in a seeded order, less the hold-out, capped at
    train.max_train_samples (from the labels alone)."""
    train_idx, _ = _split(prepared, seed, params)
    y = arrays.load(prepared, "labels", mmap=False)
    idx = train_idx[y[train_idx] == 0]
    idx = np.random.default_rng(seed + 1).permutation(idx)
    n_val = held_out_count(len(idx), params["train"]["val_fraction"])
    val, train = idx[:n_val], idx[n_val:]
    cap = params["train"]["max_train_samples"]
    if cap:
        train = train[:cap]
    return train, val


def _train_val(prepared, seed: int, params: dict) -> tuple[np.ndarray, np.ndarray]:
    train, val = _train_val_indices(prepared, seed, params)
    x = arrays.load(prepared, "features")
    return np.ascontiguousarray(x[np.sort(train)]), np.ascontiguousarray(x[np.sort(val)])


def train_sizes(prepared, split: str, seed: int, params: dict) -> tuple[int, int]:
    """(training, held-out) record counts that these settings give, for memae.evaluate's check of
    runs trained before train_log.json recorded eval.test_fraction (TRAIN_DATA_EVAL_KEYS)."""
    train, val = _train_val_indices(prepared, seed, params)
    return len(train), len(val)


def train_data(prepared, split: str, seed: int, params: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The non-anomalous records of the training part, less a seeded validation hold-out (none
    when train.val_fraction is 0)."""
    train, val = _train_val(prepared, seed, params)
    return torch.from_numpy(train), torch.from_numpy(val)


def test_data(prepared, split: str, seed: int, params: dict) -> ArrayTest:
    """The test records and their labels; with eval.threshold_population train_test, the training
    records as the reference whose scores join the threshold's population."""
    _, test_idx = _split(prepared, seed, params)
    x = arrays.load(prepared, "features")
    y = arrays.load(prepared, "labels", mmap=False)
    reference = None
    if params["eval"].get("threshold_population", "test") == "train_test":
        reference = _train_val(prepared, seed, params)[0]
    return ArrayTest(np.ascontiguousarray(x[test_idx]), y[test_idx].astype(np.int64), reference)


def score(net, test: ArrayTest, params: dict, variant, device) -> ScoreTable:
    """Each test record's reconstruction MSE (and each reference record's)."""
    return score_samples(net, test, params, device)


def flag_top(scores: np.ndarray, fraction: float) -> np.ndarray:
    """Flag the `fraction` highest scores (ties broken by order) as anomalies."""
    k = int(round(len(scores) * fraction))
    pred = np.zeros(len(scores), dtype=np.int64)
    pred[np.argsort(-scores, kind="stable")[:k]] = 1
    return pred


def flag_above_percentile(scores: np.ndarray, population: np.ndarray, fraction: float) -> np.ndarray:
    """Flag the scores above the (1 - fraction) quantile of `population` (danieltan07/dagmm's
    reading: the 80th percentile of the train and test scores together)."""
    threshold = np.percentile(np.asarray(population, np.float64), 100.0 * (1.0 - fraction))
    return (np.asarray(scores) > threshold).astype(np.int64)


def metrics(table: ScoreTable, params: dict) -> dict:
    """Precision, recall and F1 of the anomaly class at the DAGMM threshold, and the AUC.

    eval.threshold_population "test" (default): the `threshold_top_fraction` highest test scores
    are flagged (tnakae/DAGMM's reading). "train_test": the threshold is the (1 - fraction)
    quantile of the training and test scores together (danieltan07/dagmm's); the table's
    reference_scores are then the scores of the run's training records.
    """
    from sklearn.metrics import precision_recall_fscore_support, roc_auc_score   # not at the top: training never needs it
    scores, labels = table.scores, table.labels
    fraction = params["eval"]["threshold_top_fraction"]
    population = params["eval"].get("threshold_population", "test")
    if population == "train_test":
        if table.reference_scores is None:
            raise ValueError("eval.threshold_population train_test needs the training records' scores")
        pred = flag_above_percentile(scores, np.concatenate([table.reference_scores, scores]), fraction)
    else:
        pred = flag_top(scores, fraction)
    p, r, f, _ = precision_recall_fscore_support(labels, pred, average="binary", zero_division=0)
    return {"precision": float(p), "recall": float(r), "f1": float(f),
            "auc": float(roc_auc_score(labels, scores))}
