"""Studies: a named change of one dataset's settings, run against a baseline that differs in that
change only. Settings are checked like the main ones; deltas and the report's why-paragraphs are
checked against values computed by hand from made-up runs."""
import json
import shutil
from pathlib import Path

import pytest
import yaml

from memae.config import ParamsError, load_params, load_studies, study_params
from memae.report import what_moves
from memae.studies import aggregate_study, base_tag, resolve_tag, reused_training, select

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def pdir(tmp_path):
    """A copy of params/ whose MNIST file we may edit."""
    d = tmp_path / "params"
    shutil.copytree(REPO / "params", d)
    return d


def _edit(pdir, dataset, fn):
    path = pdir / f"{dataset}.yaml"
    doc = yaml.safe_load(path.read_text())
    fn(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_a_study_changes_only_its_arm_and_shorten_changes_both(params_dir):
    params = load_params("mnist", "paper", params_dir)
    spec = load_studies("mnist", params_dir)["cosine"]
    study, base = study_params(params, spec, "study"), study_params(params, spec, "base")
    assert study["memory"]["addressing"] == "cosine" and base["memory"]["addressing"] == "dot"
    assert study["protocol"]["seeds"] == base["protocol"]["seeds"] == [0]      # shortened alike
    assert params["protocol"]["seeds"] == [0, 1, 2]                            # main untouched
    assert {k: v for k, v in study.items() if k not in ("memory", "protocol")} == \
        {k: v for k, v in base.items() if k not in ("memory", "protocol")}


def test_a_network_written_in_the_other_form_replaces_the_network(params_dir):
    params = load_params("mnist", "paper", params_dir)
    studies = load_studies("mnist", params_dir)
    short_form = study_params(params, studies["code1024"], "study")["model"]
    assert "encoder" not in short_form and short_form["channels"] == [16, 32, 64]
    written = study_params(params, studies["code256"], "study")["model"]
    assert [layer["channels"] for layer in written["encoder"]] == [16, 32, 64]
    assert written["encoder"][0]["kernel"] == 1


def test_every_declared_study_builds_a_network_that_closes_its_shapes(params_dir):
    import math

    from memae.models import build_model
    from memae.variants import get_variant
    sizes = {"code256": 256, "code1024": 1024}
    for ds, shape in (("mnist", [1, 28, 28]), ("kddcup99", [118])):
        params = load_params(ds, "paper", params_dir)
        for name, spec in load_studies(ds, params_dir).items():
            p = study_params(params, spec, "study")
            net = build_model(p["model"], p["memory"], get_variant("memae"), shape)
            if ds == "mnist":
                import torch
                z = net.encoder(torch.zeros(2, *shape))
                assert math.prod(z.shape[1:]) == sizes.get(name, 72), name
                assert net(torch.zeros(2, *shape))[0].shape == (2, *shape), name


def test_the_baseline_is_the_main_runs_unless_the_shortening_changes_a_setting(pdir):
    studies = load_studies("mnist", pdir)
    quick = load_params("mnist", "quick", pdir)      # quick runs seed 0 only already
    paper = load_params("mnist", "paper", pdir)      # seeds [0, 1, 2]; the studies shorten to [0]
    assert base_tag(studies["cosine"], quick) is None
    assert base_tag(studies["cosine"], paper) is None   # seed 0 of the main runs, not a retraining
    # a seed outside the main runs, or a shortened epoch count, trains a baseline of its own
    _edit(pdir, "mnist", lambda d: d["studies"]["cosine"].__setitem__("shorten", {"protocol": {"seeds": [7]}}))
    _edit(pdir, "mnist", lambda d: d["studies"]["code256"].__setitem__("shorten", {"train": {"epochs": 5}}))
    _edit(pdir, "mnist", lambda d: d["studies"]["code1024"].__setitem__("shorten", {"train": {"epochs": 5}}))
    studies = load_studies("mnist", pdir)
    assert base_tag(studies["cosine"], paper).startswith("base_")
    tag = base_tag(studies["code256"], paper)
    assert tag.startswith("base_") and tag != base_tag(studies["cosine"], paper)
    assert base_tag(studies["code1024"], paper) == tag      # the same shortening shares a baseline
    assert resolve_tag("mnist", tag, "paper", pdir)["train"]["epochs"] == 5
    assert resolve_tag("mnist", "cosine", "paper", pdir)["memory"]["addressing"] == "cosine"
    with pytest.raises(ParamsError, match="no study"):
        resolve_tag("mnist", "base_00000000", "paper", pdir)


def test_a_study_that_changes_only_scoring_reuses_its_baselines_models_and_no_other_does(pdir):
    # KDDCUP99's threshold_train_test sets eval.threshold_population only: its runs would train
    # with the baseline's settings, so the workflow copies the baseline's model instead of training
    # again. Under the paper profile the baseline is the main runs of seeds 0-4 (shorten drops
    # seeds only); under smoke (seeds [0, 1]) the shortening adds seeds, so a baseline of its own.
    studies = load_studies("kddcup99", pdir)
    paper = load_params("kddcup99", "paper", pdir)
    smoke = load_params("kddcup99", "smoke", pdir)
    r = Path("results")
    assert reused_training(r, "kddcup99", paper, studies["threshold_train_test"], "memae", "all", 3) \
        == r / "kddcup99" / "memae" / "all" / "seed3"
    tag = base_tag(studies["threshold_train_test"], smoke)
    assert tag.startswith("base_")
    assert reused_training(r, "kddcup99", smoke, studies["threshold_train_test"], "ae", "all", 4) \
        == r / "kddcup99" / "studies" / tag / "ae" / "all" / "seed4"
    # every other KDD study changes training (epochs, shrinkage, addressing): it trains
    for name in ("epochs30", "lambda2n", "lambda3n", "cosine"):
        for params in (paper, smoke):
            assert reused_training(r, "kddcup99", params, studies[name], "memae", "all", 0) is None, name
    # a seed or variant the baseline does not run has nothing to reuse
    assert reused_training(r, "kddcup99", paper, studies["threshold_train_test"], "memae", "all", 7) is None
    # an eval-only study declared by a user reuses too, and one that also touches training does not
    _edit(pdir, "mnist", lambda d: d["studies"].update(
        fraction={"description": "anomalies 10% of the test set", "set": {"eval": {"anomaly_fraction": 0.1}}},
        fraction_lr={"description": "and another lr", "set": {"eval": {"anomaly_fraction": 0.1},
                                                               "train": {"lr": 0.01}}}))
    studies, paper = load_studies("mnist", pdir), load_params("mnist", "paper", pdir)
    assert reused_training(r, "mnist", paper, studies["fraction"], "ae", "class2", 1) \
        == r / "mnist" / "ae" / "class2" / "seed1"
    assert reused_training(r, "mnist", paper, studies["fraction_lr"], "ae", "class2", 1) is None
    # an eval key that decides what trains: KDDCUP99's records protocol trains on the records it does
    # not test on, so another test_fraction trains again (it would otherwise score a model that
    # trained on some of its test records)
    _edit(pdir, "kddcup99", lambda d: d["studies"].update(
        half={"description": "test on 30%", "set": {"eval": {"test_fraction": 0.3}}}))
    studies, paper = load_studies("kddcup99", pdir), load_params("kddcup99", "paper", pdir)
    assert reused_training(r, "kddcup99", paper, studies["half"], "memae", "all", 0) is None


def test_a_baseline_of_fewer_seeds_reads_only_those_main_runs(pdir, tmp_path):
    # Paper profile (seeds 0, 1, 2), one class; the lambda3n study (MemAE only) shortens to seed 0.
    # Main memae runs: seed 0 -> 0.80, seeds 1 and 2 -> 0.50 (their mean would be 0.60); the study
    # arm's seed 0 -> 0.85. The delta is against seed 0 alone: +0.05.
    _edit(pdir, "mnist", lambda d: d["protocol"].__setitem__("splits", ["class0"]))
    results = tmp_path / "results"
    for seed, auc in ((0, 0.80), (1, 0.50), (2, 0.50)):
        _run(results / "mnist", "memae", "class0", seed, auc)
        _run(results / "mnist", "memae_nonspar", "class0", seed, 0.75)
        _run(results / "mnist", "ae", "class0", seed, 0.70)
    _run(results / "mnist" / "studies" / "lambda3n", "memae", "class0", 0, 0.85)
    m = aggregate_study("mnist", "lambda3n", "paper", results, tmp_path / "m.json", pdir)
    assert m["delta"]["memae"]["auc"]["base"] == pytest.approx(0.80)
    assert m["delta"]["memae"]["auc"]["delta"] == pytest.approx(0.05)
    assert m["base"]["seeds"] == [0]
    assert m["order_holds"] == {"base": True, "study": None}        # 0.80 > 0.75 > 0.70 at seed 0
    assert m["baseline"] == "the main runs of seed 0"
    assert not list((results / "mnist" / "studies").glob("base_*"))


def test_selection_names_studies_that_exist(params_dir):
    assert select(["mnist:cosine"], ["mnist"], params_dir) == {"mnist": ["cosine"]}
    assert set(select(["mnist:all"], ["mnist"], params_dir)["mnist"]) == set(load_studies("mnist", params_dir))
    assert set(select(["all"], ["mnist", "kddcup99"], params_dir)) == {"mnist", "kddcup99"}
    with pytest.raises(ParamsError, match="declares no study 'nope'"):
        select(["mnist:nope"], ["mnist"], params_dir)
    with pytest.raises(ParamsError, match="not run"):
        select(["kddcup99:cosine"], ["mnist"], params_dir)


@pytest.mark.parametrize("bad, match", [
    ({"description": "x", "set": {"memory": {"adressing": "cosine"}}}, "unknown key 'studies.s.set.memory.adressing'"),
    ({"description": "x"}, "needs 'description' and 'set'"),
    ({"description": "x", "set": {}, "extra": 1}, "unknown key 'studies.s.extra'"),
    ({"description": "x", "set": {"eval": {"clip_error": "mae"}}}, "clip_error"),
])
def test_malformed_studies_are_params_errors(pdir, bad, match):
    _edit(pdir, "mnist", lambda d: d.__setitem__("studies", {"s": bad}))
    with pytest.raises(ParamsError, match=match):
        load_studies("mnist", pdir)


@pytest.mark.parametrize("name", ["base_x", "all", "Upper"])
def test_reserved_or_odd_study_names_are_refused(pdir, name):
    _edit(pdir, "mnist", lambda d: d.__setitem__("studies", {name: {"description": "x", "set": {}}}))
    with pytest.raises(ParamsError, match="study name"):
        load_studies("mnist", pdir)


def _run(root: Path, variant: str, split: str, seed: int, auc: float) -> None:
    d = root / variant / split / f"seed{seed}"
    d.mkdir(parents=True)
    (d / "metrics.json").write_text(json.dumps({"metrics": {"auc": auc}, "eval_s": 1.0}))
    (d / "train_log.json").write_text(json.dumps({"train_s": 2.0, "code": {"commit": "abc", "dirty": False}}))


def test_study_deltas_and_orderings_from_made_up_runs(pdir, tmp_path):
    # Two classes, one seed (quick). Baseline (the main quick runs): ae 0.9/0.8, nonSpar 0.7/0.7,
    # memae 0.95/0.85 -> means 0.85, 0.70, 0.90: memae > ae > nonSpar, the order does not hold.
    # Study (cosine, memory variants only): nonSpar 0.9/0.9, memae 0.6/0.8 -> 0.90, 0.70.
    _edit(pdir, "mnist", lambda d: d["protocol"].__setitem__("splits", ["class0", "class1"]))
    results = tmp_path / "results"
    base = {"ae": (0.9, 0.8), "memae_nonspar": (0.7, 0.7), "memae": (0.95, 0.85)}
    study = {"memae_nonspar": (0.9, 0.9), "memae": (0.6, 0.8)}
    for root, values in ((results / "mnist", base), (results / "mnist" / "studies" / "cosine", study)):
        for v, aucs in values.items():
            for split, auc in zip(("class0", "class1"), aucs):
                _run(root, v, split, 0, auc)
    out = results / "mnist" / "studies" / "cosine" / "metrics.json"
    m = aggregate_study("mnist", "cosine", "quick", results, out, pdir)
    assert json.loads(out.read_text())["delta"] == m["delta"]
    assert m["delta"]["memae_nonspar"]["auc"]["delta"] == pytest.approx(0.20)
    assert m["delta"]["memae"]["auc"]["delta"] == pytest.approx(-0.20)
    assert "ae" not in m["delta"]                                   # the study does not run it
    assert m["order_holds"] == {"base": False, "study": None}       # study arm lacks the AE
    assert m["baseline"] == "the main runs"
    assert m["study"]["code"]["trained_at_commits"] == ["abc"]       # read from each run's log
    with pytest.raises(ParamsError, match="no study 'cosin'"):
        aggregate_study("mnist", "cosin", "quick", results, out, pdir)
    assert m["changes"] == [{"key": "memory.addressing", "main": "dot", "study": "cosine"},
                            {"key": "protocol.variants", "main": ["ae", "memae_nonspar", "memae"],
                             "study": ["memae_nonspar", "memae"]}]

    # The report: MemAE is short of a made-up paper value of 0.98 by 0.08; this study lowers it.
    tables = [{"rows": [{"variant": "memae", "label": "MemAE", "cells": [
        {"dataset": "mnist", "stand_in": None, "metric": "auc", "verdict": "short",
         "reported": 0.98, "mean": 0.90, "delta": -0.08}]}]}]
    moves = what_moves(results, ["mnist", "kddcup99"], tables)
    assert [d["dataset"] for d in moves] == ["mnist"]
    why = moves[0]["why"]
    assert len(why) == 1 and "MemAE is 0.0800 short" in why[0]
    assert "No study raises it" in why[0] and "cosine (-0.2000)" in why[0]

    # Main numbers from the paper profile, the study from quick: the paragraph names the study's
    # profile (its delta was measured at quick's length, not at the main numbers').
    from memae import results as results_file
    results_file.write(results / "mnist" / "metrics.json", {
        "dataset": "mnist", "profile": "paper", "status": "run", "data": "real", "splits": ["class0"],
        "seeds": [0], "variants": {"memae": {"auc": {"mean": 0.9, "std": None, "n": 1}}}})
    why = what_moves(results, ["mnist"], tables)[0]["why"]
    assert "cosine (quick profile) (-0.2000)" in why[0]
    assert what_moves(results, ["mnist"], tables)[0]["studies"][0]["profile"] == "quick"

    # A study that shortened the epochs of both arms: the paragraph names the length its delta is from.
    m = json.loads(out.read_text())
    m["shortened"] = [{"key": "train.epochs", "main": 100, "study": 20}]
    out.write_text(json.dumps(m))
    assert "cosine (quick profile, 20 epochs) (-0.2000)" in what_moves(results, ["mnist"], tables)[0]["why"][0]
