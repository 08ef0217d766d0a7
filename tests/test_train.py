"""Training: seeded and deterministic on CPU, resumable from its checkpoint, clear NaN errors."""
import json

import numpy as np
import pytest
import torch

from memae.config import load_params
from memae.data import mnist, synthetic
from memae.evaluate import evaluate
from memae.train import TrainingError, train

from .interrupt import interrupted_after_checkpoint


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist")
    synthetic.make_mirror("mnist", root / "raw", {"train_per_class": 40, "test_per_class": 10})
    mnist.prepare(root / "raw" / "mnist", root / "prepared")
    return root / "prepared"


@pytest.fixture
def params(params_dir):
    p = load_params("mnist", "smoke", params_dir)
    p["train"]["epochs"] = 3
    return p


def weights(run):
    return torch.load(run / "model.pt", weights_only=False)["model"]


def test_same_seed_same_weights_other_seed_differs(prepared, params, tmp_path):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        train("mnist", prepared, "memae", "class3", seed, params, tmp_path / name, threads=1)
    a, b, c = (weights(tmp_path / n) for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_interrupted_run_resumes_to_the_same_result(prepared, params, tmp_path):
    train("mnist", prepared, "memae", "class1", 0, params, tmp_path / "full", threads=1)
    with interrupted_after_checkpoint(epoch=1):
        train("mnist", prepared, "memae", "class1", 0, params, tmp_path / "cut", threads=1)
    assert not (tmp_path / "cut" / "model.pt").exists()
    log = train("mnist", prepared, "memae", "class1", 0, params, tmp_path / "cut", threads=1)
    assert [h["epoch"] for h in log["history"]] == [1, 2, 3]
    full, cut = weights(tmp_path / "full"), weights(tmp_path / "cut")
    assert all(torch.equal(full[k], cut[k]) for k in full)
    # a finished run leaves no checkpoint that could stand in for a later run on other data
    assert not (tmp_path / "full" / "checkpoint.pt").exists()


def test_changed_settings_do_not_resume_a_foreign_checkpoint(prepared, params, tmp_path, capsys):
    # an interrupted run leaves a checkpoint of 2 epochs at the old learning rate
    with interrupted_after_checkpoint(epoch=1):
        train("mnist", prepared, "ae", "class0", 0, params, tmp_path / "r", threads=1)
    assert (tmp_path / "r" / "checkpoint.pt").exists()
    # the same run with a halved learning rate must start afresh, not resume at epoch 3
    params["train"]["lr"] = params["train"]["lr"] / 2
    log = train("mnist", prepared, "ae", "class0", 0, params, tmp_path / "r", threads=1)
    assert "belongs to other settings: starting afresh" in capsys.readouterr().out
    assert log["config"]["train"]["lr"] == params["train"]["lr"]
    fresh = train("mnist", prepared, "ae", "class0", 0, params, tmp_path / "fresh", threads=1)
    assert log["history"] == fresh["history"]
    new, clean = weights(tmp_path / "r"), weights(tmp_path / "fresh")
    assert all(torch.equal(new[k], clean[k]) for k in clean)


def test_nan_loss_stops_with_a_clear_error(prepared, params, tmp_path):
    params["train"]["lr"] = 1e30
    with pytest.raises(TrainingError, match=r"loss became .* lower train\.lr in params/mnist\.yaml"):
        train("mnist", prepared, "ae", "class0", 0, params, tmp_path / "nan", threads=1)


def test_evaluate_writes_scores_and_auc_consistent_with_labels(prepared, params, tmp_path):
    run = tmp_path / "ev"
    train("mnist", prepared, "memae", "class2", 0, params, run, threads=1)
    r = evaluate("mnist", prepared, run, params, threads=1)
    s = np.load(run / "scores.npz")
    labels = s["labels"]
    assert r["n_test"] == len(labels) and r["n_anomalous"] == int(labels.sum())
    assert 0.0 <= r["metrics"]["auc"] <= 1.0
    assert json.loads((run / "metrics.json").read_text())["metrics"] == r["metrics"]
