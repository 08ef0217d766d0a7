"""ROC curves with numpy alone: the workflow's `roc` rule (python -m memae.roc OUT SCORES...) writes
the ROC points of each variant of a dataset, and the report draws the same curves.

The rule runs once per dataset x variant; importing sklearn (about 1.1 s) and matplotlib (about
0.5 s) in each of those jobs cost more than the curves themselves, so the curve is computed here the
way sklearn.metrics.roc_curve computes it (scores sorted descending with a stable sort, one point
per distinct score, collinear points dropped: drop_intermediate=True), with the same floating-point
operations, so the points are the same (tests/test_roc.py compares with sklearn on tied and untied
scores).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

FPR_GRID = np.linspace(0.0, 1.0, 201)


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) of binary labels (1 = anomalous, the positive class) against scores (higher =
    more anomalous), as sklearn.metrics.roc_curve(labels, scores) returns them."""
    y = np.asarray(labels).ravel() == 1
    s = np.asarray(scores).ravel()
    order = np.argsort(s, kind="mergesort")[::-1]
    s, y = s[order], y[order]
    ends = np.r_[np.where(np.diff(s))[0], y.size - 1]   # the last index of each distinct score
    tps = np.cumsum(y, dtype=np.float64)[ends]
    fps = 1 + ends - tps
    if len(fps) > 2:   # drop the points that lie on a straight line between their neighbours
        keep = np.where(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])[0]
        fps, tps = fps[keep], tps[keep]
    tps, fps = np.r_[0, tps], np.r_[0, fps]
    return fps / fps[-1], tps / tps[-1]


def load_scores(path: Path) -> dict:
    """scores.npz of a run: `scores` (higher = more anomalous) and `labels` (1 = anomaly). Video
    runs (memae.video.score_videos) add `video` and `frame` per scored frame and `names`; their
    scores are already normalised per video (1 - regularity), as the AUC protocol uses them."""
    with np.load(path) as f:
        data = {k: f[k] for k in f.files}
    if "scores" not in data or "labels" not in data or len(data["scores"]) != len(data["labels"]):
        raise ValueError(f"{path}: expected arrays 'scores' and 'labels' of equal length, "
                         f"found {sorted(data)}; rerun `memae evaluate` for this run")
    return data


def runs_tpr(score_files: list[Path]) -> list[tuple[np.ndarray, dict]]:
    """Each run's TPR at the FPRs of FPR_GRID (its ROC curve, interpolated), with its scores, for
    the scores.npz files given that exist and hold both classes."""
    out = []
    for path in score_files:
        if not Path(path).exists():
            continue
        s = load_scores(Path(path))
        if len(np.unique(s["labels"])) < 2:
            continue
        fpr, tpr = roc_curve(s["labels"], s["scores"])
        out.append((np.interp(FPR_GRID, fpr, tpr), s))
    return out


def write_roc_points(out: Path, score_files: list[Path]) -> list[dict]:
    """The ROC curve of one variant of a dataset, as the report draws it (TPR averaged over its
    runs at each FPR of FPR_GRID), as rows {fpr, tpr} for `dvc plots`; no rows when no run has
    scores with both classes."""
    from .data.arrays import write_json
    tprs = [t for t, _ in runs_tpr(score_files)]
    mean = np.mean(tprs, axis=0) if tprs else []
    rows = [{"fpr": round(float(f), 6), "tpr": round(float(t), 6)} for f, t in zip(FPR_GRID, mean)]
    write_json(Path(out), rows)
    return rows


if __name__ == "__main__":   # the workflow's roc rule: python -m memae.roc OUT SCORES...
    if len(sys.argv) < 2:
        sys.exit("usage: python -m memae.roc OUT.json SCORES.npz...")
    written = write_roc_points(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]])
    print(f"wrote {sys.argv[1]}: {len(written)} points from {len(sys.argv) - 2} run(s)")
