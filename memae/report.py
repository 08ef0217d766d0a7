"""reports/index.html: the paper's tables, reported next to reproduced, rendered with jinja2."""
from __future__ import annotations

import datetime
import json
import os
import subprocess
from pathlib import Path

import jinja2
import yaml

from . import datasets as dataset_modules
from .variants import VARIANTS

TEMPLATES = Path(__file__).resolve().parent.parent / "reports" / "templates"


class MetricsError(ValueError):
    pass


def load_reported(path: Path) -> dict:
    doc = yaml.safe_load(Path(path).read_text())
    for t in doc["tables"]:
        for variant in t["cells"]:
            if variant not in VARIANTS:
                raise MetricsError(f"{path}: table {t['id']} names unknown variant {variant!r}")
    return doc


def load_metrics(path: Path) -> dict:
    try:
        m = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise MetricsError(f"{path}: cannot read metrics ({e})") from None
    ok = isinstance(m, dict) and isinstance(m.get("variants"), dict) and all(
        isinstance(v, dict) and all(isinstance(s, dict) and "mean" in s for s in v.values())
        for v in m["variants"].values())
    if not ok:
        raise MetricsError(f"{path}: not a metrics file of the expected shape "
                           '{"variants": {"<variant>": {"<metric>": {"mean": x, "std": y, "n": k}}}}')
    return m


def verdict(reported: float | None, mean: float | None, tol: float) -> str:
    if reported is None:
        return "no reported value"
    if mean is None:
        return "not run"
    delta = mean - reported
    if abs(delta) <= tol:
        return "reproduced"
    return "above" if delta > 0 else "short"


def not_run_reason(dataset: str, selected: list[str]) -> str:
    if dataset not in dataset_modules.MODULES:
        return "not implemented in this version of the pipeline"
    if dataset not in selected:
        return "not selected in params/pipeline.yaml (datasets)"
    return "no results yet: run the pipeline"


def build_tables(reported: dict, metrics: dict[str, dict], selected: list[str]) -> list[dict]:
    tols = reported["tolerances"]
    tables = []
    for t in reported["tables"]:
        rows = []
        for variant, by_ds in t["cells"].items():
            cells = []
            for ds in t["datasets"]:
                for metric in t["metrics"]:
                    rep = (by_ds.get(ds) or {}).get(metric)
                    got = metrics.get(ds, {}).get("variants", {}).get(variant, {}).get(metric)
                    mean = got["mean"] if got else None
                    cells.append({
                        "dataset": ds, "metric": metric, "reported": rep,
                        "mean": mean, "std": got.get("std") if got else None,
                        "n": got.get("n") if got else None,
                        "delta": None if rep is None or mean is None else mean - rep,
                        "verdict": verdict(rep, mean, tols[metric]),
                        "reason": None if got else (
                            not_run_reason(ds, selected) if ds not in metrics else
                            f"variant {variant} not in the {ds} run"),
                    })
            rows.append({"variant": variant, "label": VARIANTS[variant].label, "cells": cells})
        tables.append({**t, "rows": rows})
    return tables


def git_state() -> dict:
    def git(*args):
        try:
            return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def render(results: Path, reported_path: Path, selected: list[str], out: Path) -> dict:
    reported = load_reported(reported_path)
    metrics = {}
    for ds in dataset_modules.MODULES:
        path = Path(results) / ds / "metrics.json"
        if path.exists() and ds in selected:
            metrics[ds] = load_metrics(path)
    tables = build_tables(reported, metrics, selected)
    cells = [c for t in tables for r in t["rows"] for c in r["cells"] if c["reported"] is not None]
    counts = {k: sum(c["verdict"] == k for c in cells) for k in ("reproduced", "above", "short", "not run")}
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    html = env.get_template("index.html.j2").render(
        tables=tables, metrics=metrics, reported=reported, counts=counts, git=git_state(),
        generated=datetime.datetime.now().isoformat(timespec="seconds"))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html)
    os.replace(tmp, out)
    return {"tables": tables, "counts": counts}
