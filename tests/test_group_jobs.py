"""One job per dataset (params/pipeline.yaml one_job_per_dataset; the smoke profile's datasets but
MNIST): `memae train-group` with several variants and `memae evaluate-group` write the files that one
`memae train` and one `memae evaluate` process per run write, with the same weights, training
history, scores and metrics. Run on smoke-size synthetic MNIST (a conv image model) and Ped2 (the
video model and clip scoring), through the command line as the workflow calls it."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from memae import cli, datasets
from memae.config import load_params
from memae.data import synthetic

TIMING = {"train_s", "eval_s"}   # wall seconds: the only keys allowed to differ


def _prepare(dataset, root, params_dir):
    p = load_params(dataset, "smoke", params_dir)
    synthetic.make_mirror(dataset, root / "raw", p["data"]["synthetic_size"])
    datasets.get(dataset).prepare(root / "raw" / dataset, root / "prepared", p)
    return root / "prepared", p


def _json(path):
    return {k: v for k, v in json.loads(path.read_text()).items() if k not in TIMING}


@pytest.mark.parametrize("dataset", ["mnist", "ped2"])
def test_one_job_for_a_datasets_runs_writes_what_one_job_per_run_writes(dataset, tmp_path, params_dir):
    prepared, p = _prepare(dataset, tmp_path, params_dir)
    variants, splits, seeds = ["ae", "memae"], p["protocol"]["splits"][:2], p["protocol"]["seeds"][:1]
    common = ["--profile", "smoke", "--params-dir", str(params_dir), "--threads", "1"]
    runs = [(v, s, k) for v in variants for s in splits for k in seeds]

    def folder(root, v, s, k):
        return root / dataset / v / s / f"seed{k}"

    alone, grouped = tmp_path / "alone", tmp_path / "grouped"
    for v, s, k in runs:
        out = folder(alone, v, s, k)
        assert cli.main(["train", dataset, "--prepared", str(prepared), "--variant", v, "--split", s,
                         "--seed", str(k), "--out", str(out), *common]) == 0
        assert cli.main(["evaluate", dataset, "--prepared", str(prepared), "--run", str(out), *common]) == 0
    assert cli.main(["train-group", dataset, "--prepared", str(prepared), "--variant", *variants,
                     "--splits", *splits, "--seeds", *map(str, seeds), "--results", str(grouped), *common]) == 0
    assert cli.main(["evaluate-group", dataset, "--prepared", str(prepared), "--run",
                     *[str(folder(grouped, *r)) for r in runs], *common]) == 0

    weights = set()
    for r in runs:
        a, g = folder(alone, *r), folder(grouped, *r)
        wa = torch.load(a / "model.pt", weights_only=False)["model"]
        wg = torch.load(g / "model.pt", weights_only=False)["model"]
        assert wa.keys() == wg.keys() and all(torch.equal(wa[n], wg[n]) for n in wa), r
        weights.add(tuple(float(t.float().sum()) for t in wa.values()))
        assert _json(a / "train_log.json") == _json(g / "train_log.json"), r
        assert _json(a / "metrics.json") == _json(g / "metrics.json"), r
        with np.load(a / "scores.npz") as sa, np.load(g / "scores.npz") as sg:
            assert sa.files == sg.files and all(np.array_equal(sa[f], sg[f]) for f in sa.files), r
    assert len(weights) == len(runs)   # the runs differ from each other: the comparison is not vacuous


def test_evaluate_group_stops_at_a_run_without_a_model_naming_it(tmp_path, params_dir, capsys):
    prepared, p = _prepare("mnist", tmp_path, params_dir)
    run = tmp_path / "results" / "mnist" / "ae" / "class0" / "seed0"
    run.mkdir(parents=True)
    assert cli.main(["evaluate-group", "mnist", "--prepared", str(prepared), "--run", str(run),
                     "--profile", "smoke", "--params-dir", str(params_dir)]) == 1
    assert str(run / "model.pt") in capsys.readouterr().err
    assert not (run / "metrics.json").exists()
