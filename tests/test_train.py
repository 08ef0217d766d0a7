"""Training: seeded and deterministic on CPU, resumable from its checkpoint, clear NaN errors."""
import json

import numpy as np
import pytest
import torch

from memae import train as train_mod
from memae.config import load_params
from memae.data import mnist, synthetic
from memae.evaluate import evaluate
from memae.train import TrainingError, train


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


def test_interrupted_run_resumes_to_the_same_result(prepared, params, tmp_path, monkeypatch):
    train("mnist", prepared, "memae", "class1", 0, params, tmp_path / "full", threads=1)

    real_save = train_mod._save_atomic
    saves = []

    def crash_after_second_checkpoint(obj, path):
        real_save(obj, path)
        if path.name == "checkpoint.pt":
            saves.append(obj["epoch"])
            if len(saves) == 2:
                raise KeyboardInterrupt("simulated interruption")

    monkeypatch.setattr(train_mod, "_save_atomic", crash_after_second_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        train("mnist", prepared, "memae", "class1", 0, params, tmp_path / "cut", threads=1)
    monkeypatch.setattr(train_mod, "_save_atomic", real_save)
    assert not (tmp_path / "cut" / "model.pt").exists()
    log = train("mnist", prepared, "memae", "class1", 0, params, tmp_path / "cut", threads=1)
    assert [h["epoch"] for h in log["history"]] == [1, 2, 3]
    full, cut = weights(tmp_path / "full"), weights(tmp_path / "cut")
    assert all(torch.equal(full[k], cut[k]) for k in full)
    # a finished run leaves no checkpoint that could stand in for a later run on other data
    assert not (tmp_path / "full" / "checkpoint.pt").exists()


def test_changed_settings_do_not_resume_a_foreign_checkpoint(prepared, params, tmp_path):
    train("mnist", prepared, "ae", "class0", 0, params, tmp_path / "r", threads=1)
    params["train"]["lr"] = params["train"]["lr"] / 2
    log = train("mnist", prepared, "ae", "class0", 0, params, tmp_path / "r", threads=1)
    assert log["config"]["train"]["lr"] == params["train"]["lr"]
    assert len(log["history"]) == params["train"]["epochs"]


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
