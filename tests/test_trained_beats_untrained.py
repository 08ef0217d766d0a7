"""The smoke data tells a trained model from an untrained one: on the synthetic KDDCUP99 records
and one-class images, a network that was never trained (0 epochs: its initial weights, scored as
`memae evaluate` scores any run) is at chance, and the same network trained for a few epochs
through memae.train / memae.evaluate separates normal from anomalous. A broken trainer (one that
leaves the weights as they were) fails here."""
import copy

import numpy as np
import pytest

from memae import datasets
from memae.config import load_params
from memae.data import synthetic
from memae.evaluate import evaluate
from memae.train import train


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """dataset -> its prepared folder, from the synthetic raw files the smoke profile fetches."""
    root = tmp_path_factory.mktemp("smoke")
    sizes = {"kddcup99": {"records": 3000}, "mnist": {"train_per_class": 60, "test_per_class": 20},
             "cifar10": {"train_per_class": 60, "test_per_class": 20}}
    out = {}
    for ds, size in sizes.items():
        synthetic.make_mirror(ds, root / "raw", size)
        datasets.get(ds).prepare(root / "raw" / ds, root / "prepared" / ds)
        out[ds] = root / "prepared" / ds
    return out


def scores(prepared, tmp_path, ds, variant, splits, epochs, lr):
    """Mean over splits of the run's metrics after `epochs` epochs (0: the untrained network)."""
    params = copy.deepcopy(load_params(ds, "smoke"))
    params["train"].update(epochs=epochs, lr=lr)
    runs = []
    for split in splits:
        run = tmp_path / f"{variant}-{split}-{epochs}"
        train(ds, prepared[ds], variant, split, 0, params, run, threads=1)
        runs.append(evaluate(ds, prepared[ds], run, params, threads=1)["metrics"])
    return {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}


@pytest.mark.parametrize("variant", ["ae", "memae_nonspar", "memae"])
def test_kdd_smoke_records_are_separated_only_after_training(prepared, tmp_path, variant):
    untrained = scores(prepared, tmp_path, "kddcup99", variant, ["all"], 0, 3e-3)
    trained = scores(prepared, tmp_path, "kddcup99", variant, ["all"], 30, 3e-3)
    # ~20% anomalies: flagging the top 20% at random gives F1 ~0.2, AUC ~0.5
    assert abs(untrained["auc"] - 0.5) < 0.1 and untrained["f1"] < 0.45, untrained
    assert trained["auc"] > 0.9 and trained["f1"] > 0.8, trained


@pytest.mark.parametrize("ds,variant,epochs", [("mnist", "ae", 30), ("mnist", "memae", 30),
                                               ("cifar10", "ae", 10)])
def test_one_class_smoke_images_are_separated_only_after_training(prepared, tmp_path, ds, variant, epochs):
    splits = ["class0", "class3", "class7"]
    untrained = scores(prepared, tmp_path, ds, variant, splits, 0, 3e-3)
    trained = scores(prepared, tmp_path, ds, variant, splits, epochs, 3e-3)
    assert abs(untrained["auc"] - 0.5) < 0.1, untrained
    assert trained["auc"] > 0.85, trained
