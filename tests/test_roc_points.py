"""ROC points for `dvc plots` (memae.roc.write_roc_points, the workflow's roc rule): the curve the
report draws, checked against sklearn's roc_curve (memae.roc computes it without sklearn, so that
the rule's jobs skip its import) and a case worked out by hand, and declared in dvc.yaml for every
workflow dataset's main variants."""
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.metrics import roc_curve

from memae import datasets
from memae.config import load_params
from memae.roc import FPR_GRID, roc_curve as numpy_roc_curve, write_roc_points
from memae.results import roc_path

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


@pytest.mark.parametrize("case", ["untied", "ties", "float32_ties", "few_values", "two_points", "one_negative"])
def test_curve_is_sklearns_point_for_point(case):
    """memae.roc.roc_curve against sklearn.metrics.roc_curve: the same points, exactly (ties share
    one point, collinear points dropped as drop_intermediate=True does)."""
    rng = np.random.default_rng(11)
    n = 400
    labels = (rng.random(n) < 0.3).astype(np.int8)
    values = {"untied": rng.normal(labels, 1.0),
              "ties": np.round(rng.normal(labels, 1.0), 1),
              "float32_ties": np.round(rng.normal(labels, 1.0), 2).astype(np.float32),
              "few_values": rng.integers(0, 4, n).astype(np.float64) + labels,
              "two_points": labels.astype(np.float64),
              "one_negative": np.arange(n, dtype=np.float64)}[case]
    if case == "two_points":
        labels, values = labels[:2].copy(), values[:2]
        labels[:] = [0, 1]
    if case == "one_negative":
        labels = np.ones(n, np.int8)
        labels[7] = 0
    fpr, tpr, _ = roc_curve(labels, values)
    ours = numpy_roc_curve(labels, values)
    assert np.array_equal(ours[0], fpr) and np.array_equal(ours[1], tpr)


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
        # the files the workflow's roc rule writes and the report reads are the ones plotted
        assert {str(roc_path("results", ds, v)) for v in variants} == set(plot["y"])
    snakefile = (REPO / "workflow/rules/report.smk").read_text()
    assert "results_file.roc_path(RESULTS, ds, variant)" in snakefile


def test_the_report_draws_the_tracked_points_where_the_runs_scores_are_absent(tmp_path, monkeypatch):
    # a fresh clone has results/<ds>/metrics.json and results/<ds>/roc/<variant>.json (tracked),
    # not the runs' scores.npz: the ROC figure draws the tracked points and says so
    from memae import figures
    drawn = []
    monkeypatch.setattr(figures, "_embed", lambda f: drawn.append(f) or "data:image/png;base64,")
    m = {"dataset": "mnist", "splits": ["class0"], "seeds": [0],
         "variants": {"ae": {"auc": {"mean": 0.75, "std": None, "n": 1}}, "memae": {"auc": {"mean": 0.9}}}}
    results = tmp_path / "results"
    (results / "mnist" / "roc").mkdir(parents=True)
    rows = [{"fpr": 0.0, "tpr": 0.2}, {"fpr": 0.5, "tpr": 0.7}, {"fpr": 1.0, "tpr": 1.0}]
    (results / "mnist" / "roc" / "ae.json").write_text(json.dumps(rows))
    fig = figures.roc_curves(results, m)              # memae has neither scores nor points
    assert fig.missing is None and "tracked in git" in fig.caption and "AE" in fig.caption
    (line,) = [ln for ln in drawn[0].axes[0].lines if ln.get_label().startswith("AE")]
    assert list(line.get_xdata()) == [0.0, 0.5, 1.0] and list(line.get_ydata()) == [0.2, 0.7, 1.0]
    assert "AUC 0.750" in line.get_label()
    # with the run's scores present, those are drawn (the average over runs), not the file
    run = results / "mnist" / "ae" / "class0" / "seed0"
    run.mkdir(parents=True)
    scores(run / "scores.npz", [0, 0, 1, 1], [.1, .4, .35, .8])
    drawn.clear()
    fig = figures.roc_curves(results, m)
    assert "tracked" not in fig.caption
    (line,) = [ln for ln in drawn[0].axes[0].lines if ln.get_label().startswith("AE")]
    assert len(line.get_xdata()) == len(FPR_GRID) and "1 runs" in line.get_label()
    # neither: the figure says what is missing
    (results / "mnist" / "roc" / "ae.json").unlink()
    (run / "scores.npz").unlink()
    assert "no ROC points" in figures.roc_curves(results, m).missing
