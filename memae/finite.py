"""No NaN or infinity passes silently: a metric that is not a finite number stops evaluate, aggregate,
report and compare with an error naming the file and the metric."""
from __future__ import annotations

import math
from numbers import Real
from pathlib import Path

import numpy as np


class NonFiniteError(ValueError):
    pass


def bad_numbers(tree, prefix: str = "") -> list[tuple[str, float]]:
    """(key path, value) of every NaN or infinite number in a tree of dicts and lists."""
    if isinstance(tree, dict):
        return [b for k, v in tree.items() for b in bad_numbers(v, f"{prefix}{k}.")]
    if isinstance(tree, (list, tuple)):
        return [b for i, v in enumerate(tree) for b in bad_numbers(v, f"{prefix}{i}.")]
    if isinstance(tree, Real) and not isinstance(tree, bool) and not math.isfinite(tree):
        return [(prefix.rstrip("."), float(tree))]
    return []


def require_finite(tree, path: Path | str, what: str, hint: str = "") -> None:
    """Raise NonFiniteError naming path and the first non-finite metric of tree."""
    bad = bad_numbers(tree)
    if bad:
        key, value = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise NonFiniteError(f"{path}: {what} '{key}' is {value}{more}, not a finite number. "
                             f"{hint or 'Check the run that produced it and run it again.'}")


def why_undefined(labels, scores) -> str:
    """What to tell the user when a run's metrics are not finite."""
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    if len(np.unique(labels)) < 2:
        return (f"The test set has one class only ({int(labels.sum())} anomalous of {len(labels)}): the "
                "metric is undefined there; check the prepared data and the eval settings.")
    if not np.isfinite(scores).all():
        return "The scores are not finite: train the run again (and check the prepared data)."
    return ("The metric is undefined on this test set (auc_macro: no test video holds both normal and "
            "anomalous frames); check the prepared data and the eval settings.")
