import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from memae.aggregate import mean_std
from memae.protocols import ScoreTable, oneclass, records

PARAMS = {"eval": {"threshold_top_fraction": 0.2}}


def mann_whitney_auc(scores, labels):
    """AUC by counting pairs: P(score of an anomaly > score of a normal), ties count 1/2."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return (greater + 0.5 * ties) / (len(pos) * len(neg))


def test_auc_agrees_with_pair_counting_and_sklearn():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    scores = rng.normal(labels * 0.7, 1.0).round(1)  # rounding creates ties
    got = oneclass.metrics(ScoreTable(scores, labels), {})["auc"]
    assert got == pytest.approx(mann_whitney_auc(scores, labels))
    assert got == pytest.approx(roc_auc_score(labels, scores))


def test_top_fraction_threshold_precision_recall_f1_by_hand():
    # 10 samples, top 20% = the 2 highest scores are flagged.
    scores = np.array([0.9, 0.1, 0.8, 0.2, 0.3, 0.05, 0.4, 0.6, 0.0, 0.7])
    labels = np.array([1, 0, 0, 0, 0, 0, 0, 1, 0, 1])
    pred = records.flag_top(scores, 0.2)
    assert pred.tolist() == [1, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    m = records.metrics(ScoreTable(scores, labels), PARAMS)
    # flagged {0, 2}: one true anomaly of two flagged, of three anomalies in all
    assert m["precision"] == pytest.approx(1 / 2)
    assert m["recall"] == pytest.approx(1 / 3)
    assert m["f1"] == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))


def test_summary_uses_sample_std_and_none_for_one_seed():
    s = mean_std([0.9, 0.92, 0.94])
    assert s["mean"] == pytest.approx(0.92) and s["std"] == pytest.approx(0.02) and s["n"] == 3
    assert mean_std([0.5]) == {"mean": 0.5, "std": None, "n": 1}


def test_oneclass_test_set_has_the_requested_anomaly_share(tmp_path):
    labels = np.repeat(np.arange(10), 100)
    np.save(tmp_path / "test_labels.npy", labels)
    np.save(tmp_path / "test_images.npy", np.zeros((1000, 4, 4), np.uint8))
    params = {"eval": {"anomaly_fraction": 0.3}, "data": {"scale": "unit"}}
    test = oneclass.test_data(tmp_path, "class3", 0, params)
    y = test.labels
    assert (y == 0).sum() == 100 and y.mean() == pytest.approx(0.3, abs=0.01)
    full = {"eval": {"anomaly_fraction": None}, "data": {"scale": "unit"}}
    assert len(oneclass.test_data(tmp_path, "class3", 0, full).labels) == 1000
