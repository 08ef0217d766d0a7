"""train.val_fraction 0 <= v < 1: 0 holds nothing out (every normal training sample trains, as the
official code does) in every protocol, and a run then logs no validation loss (null, not 0.0)."""
import shutil

import numpy as np
import pytest
import yaml

from memae import ensemble
from memae.config import ParamsError, load_params
from memae.data import kddcup99
from memae.figures import loss_curves
from memae.protocols import held_out_count, oneclass, records, video
from memae.train import train

from .synth import fetched


def test_held_out_count_is_the_old_rule_above_0_and_nothing_at_0():
    assert held_out_count(200, 0.1) == 20 and held_out_count(4, 0.1) == 1      # at least one
    assert held_out_count(120, 0.05, at_least=16) == 16                        # video: one clip
    assert held_out_count(500, 0.05, at_least=16) == 25
    assert held_out_count(200, 0.0) == 0 and held_out_count(200, 0.0, at_least=16) == 0


@pytest.fixture
def pdir(tmp_path, params_dir):
    shutil.copytree(params_dir, tmp_path / "params")
    return tmp_path / "params"


def _set_val_fraction(pdir, value):
    path = pdir / "kddcup99.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["train"]["val_fraction"] = value
    path.write_text(yaml.safe_dump(doc))


@pytest.mark.parametrize("value", [0, 0.0, 0.5])
def test_val_fraction_0_is_accepted(pdir, value):
    _set_val_fraction(pdir, value)
    assert load_params("kddcup99", "smoke", pdir)["train"]["val_fraction"] == value


@pytest.mark.parametrize("value", [-0.01, 1, 1.5])
def test_val_fraction_outside_0_to_1_is_refused(pdir, value):
    _set_val_fraction(pdir, value)
    with pytest.raises(ParamsError, match=r"'train.val_fraction'.*>= 0 and < 1"):
        load_params("kddcup99", "smoke", pdir)


def test_no_protocol_holds_anything_out_at_0(tmp_path):
    train_params = {"val_fraction": 0.0, "max_train_samples": None}
    # oneclass: every training image of the class trains
    labels = np.repeat(np.arange(3), 7)
    np.save(tmp_path / "train_labels.npy", labels)
    np.save(tmp_path / "train_images.npy", np.zeros((len(labels), 2, 2), np.uint8))
    x, val = oneclass.train_data(tmp_path, "class1", 0, {"train": train_params, "data": {"scale": "unit"}})
    assert (len(x), len(val)) == (7, 0)
    # records: every normal record of the training part trains
    n = 200
    y = (np.arange(n) % 5 == 0).astype(np.uint8)
    np.save(tmp_path / "labels.npy", y)
    np.save(tmp_path / "features.npy", np.arange(n, dtype=np.float32)[:, None])
    params = {"eval": {"test_fraction": 0.5}, "train": train_params}
    x, val = records.train_data(tmp_path, "all", 3, params)
    assert len(val) == 0 and len(x) == (y[np.random.default_rng(3).permutation(n)[100:]] == 0).sum()
    # video: every clip of every video trains
    starts, held = video.train_val_starts(np.array([0, 120, 300]), 16, ["a", "b"], "x", 0.0)
    assert held.size == 0 and len(starts) == (120 - 15) + (180 - 15)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("kdd")
    raw = fetched("kddcup99", root, {"records": 300})
    kddcup99.prepare(raw, root / "prepared")
    return root / "prepared"


def _params(params_dir, fraction):
    p = load_params("kddcup99", "smoke", params_dir)
    p["train"].update(epochs=2, val_fraction=fraction)
    return p


def _normal_training_records(prepared, params, seed):
    y = np.load(prepared / "labels.npy")
    perm = np.random.default_rng(seed).permutation(len(y))
    return int((y[perm[int(round(len(y) * params["eval"]["test_fraction"])):]] == 0).sum())


def test_a_run_with_val_fraction_0_trains_on_every_normal_record_and_logs_no_validation_loss(
        prepared, params_dir, tmp_path):
    p0, p5 = _params(params_dir, 0.0), _params(params_dir, 0.05)
    normal = _normal_training_records(prepared, p0, 0)
    results = tmp_path / "results"
    log = train("kddcup99", prepared, "memae", "all", 0, p0, results / "kddcup99/memae/all/seed0", threads=1)
    assert (log["n_train"], log["n_val"]) == (normal, 0)
    assert [h["val_recon"] for h in log["history"]] == [None, None]
    assert all(np.isfinite(h["loss"]) for h in log["history"])
    # the same run holding 5% out: the two parts make up the same normal records
    held = train("kddcup99", prepared, "memae", "all", 0, p5, tmp_path / "held", threads=1)
    assert held["n_val"] == held_out_count(normal, 0.05) and held["n_train"] + held["n_val"] == normal
    assert all(h["val_recon"] > 0 for h in held["history"])
    # grouped training (batched) logs the same
    logs = ensemble.train_group("kddcup99", prepared, "ae", [("all", k, results / f"kddcup99/ae/all/seed{k}")
                                                             for k in (0, 1)], p0, threads=1, mode="batched")
    assert all(lg["n_val"] == 0 and [h["val_recon"] for h in lg["history"]] == [None, None] for lg in logs)
    # the report's loss figure draws the training loss and no validation curve
    fig = loss_curves(results, {"dataset": "kddcup99", "variants": {"memae": {}, "ae": {}}, "splits": ["all"],
                                "seeds": [0, 1]})
    assert fig.missing is None and fig.uri.startswith("data:image/png")
