"""ROC points for `dvc plots` (memae.figures.write_roc_points, the workflow's roc rule): the curve
the report draws, checked against sklearn's roc_curve and a case worked out by hand, and declared
in dvc.yaml for every workflow dataset's main variants."""
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.metrics import roc_curve

from memae import datasets
from memae.config import load_params
from memae.figures import FPR_GRID, write_roc_points

REPO = Path(__file__).resolve().parent.parent


def scores(path, labels, values):
    np.savez(path, scores=np.asarray(values, np.float32), labels=np.asarray(labels, np.int8))
    return path


def test_points_of_a_hand_worked_case(tmp_path):
    # labels 0 0 1 1, scores .1 .4 .35 .8: sklearn's curve is fpr 0 0 .5 .5 1, tpr 0 .5 .5 1 1
    rows = write_roc_points(tmp_path / "roc.json", [scores(tmp_path / "a.npz", [0, 0, 1, 1], [.1, .4, .35, .8])])
    assert json.loads((tmp_path / "roc.json").read_text()) == rows
    pts = {r["fpr"]: r["tpr"] for r in rows}
    assert len(rows) == len(FPR_GRID) and rows[0]["fpr"] == 0.0 and rows[-1]["fpr"] == 1.0
    assert pts[0.25] == 0.5 and pts[0.75] == 1.0 and pts[1.0] == 1.0


def test_points_match_sklearn_roc_curve_averaged_over_runs(tmp_path):
    rng = np.random.default_rng(3)
    files, expected = [], []
    for i in range(3):
        labels = (rng.random(300) < 0.2).astype(np.int8)
        values = rng.normal(labels * (0.5 + i), 1.0)
        files.append(scores(tmp_path / f"run{i}.npz", labels, values))
        fpr, tpr, _ = roc_curve(labels, values.astype(np.float32))
        expected.append(np.interp(FPR_GRID, fpr, tpr))
    # a run scoring one class only, and a run not written yet: left out, as in the report
    files.append(scores(tmp_path / "one_class.npz", np.zeros(10), np.arange(10)))
    files.append(tmp_path / "missing.npz")
    rows = write_roc_points(tmp_path / "roc.json", files)
    assert np.allclose([r["fpr"] for r in rows], FPR_GRID, atol=1e-6)
    assert np.allclose([r["tpr"] for r in rows], np.mean(expected, axis=0), atol=1e-6)
    assert write_roc_points(tmp_path / "none.json", [tmp_path / "missing.npz"]) == []


def test_dvc_plots_declare_the_roc_of_every_dataset_main_variants():
    plots = {}
    for entry in yaml.safe_load((REPO / "dvc.yaml").read_text())["plots"]:
        if isinstance(entry, dict):
            plots.update(entry)
    for ds in datasets.WORKFLOW_DATASETS:
        plot = plots[f"roc_{ds}"]
        assert plot["x"] == "fpr"
        variants = load_params(ds, "paper")["protocol"]["variants"]
        assert plot["y"] == {f"results/{ds}/roc/{v}.json": "tpr" for v in variants}
    snakefile = (REPO / "workflow/rules/report.smk").read_text()
    assert 'return f"{RESULTS}/{ds}/roc/{variant}.json"' in snakefile
