"""reports/index.html: the paper's tables, reported next to reproduced, with the protocols, figures
and provenance behind them, rendered with jinja2 into one self-contained file."""
from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

import jinja2
import yaml
from tqdm import tqdm

from . import codedigest
from . import datasets as dataset_modules
from . import figures, provenance
from . import layout
from . import results as results_file
from .config import load_params, load_pipeline
from .datasets import primary_metric, stand_in
from .results import MetricsError
from .studies import CLAIM_ORDER, ordered
from .variants import VARIANTS

TEMPLATES = Path(__file__).resolve().parent / "templates"   # package data: installed with memae
VERDICTS = ("reproduced", "above", "short", "not run")
# What a dataset's results may be stood in for by (labelled as an approximation), its primary metric
# and whether the paper shows its memory-size figure: the registry's (memae.datasets).


def load_reported(path: Path) -> dict:
    doc = yaml.safe_load(Path(path).read_text())
    for t in doc["tables"]:
        for ds in t["datasets"]:
            if ds not in dataset_modules.SPECS:
                raise MetricsError(f"{path}: table {t['id']} names dataset {ds!r}, which the registry "
                                   f"(memae/datasets.py) does not hold; registered: {', '.join(dataset_modules.SPECS)}")
        for variant in t["cells"]:
            if variant not in VARIANTS:
                raise MetricsError(f"{path}: table {t['id']} names unknown variant {variant!r}")
        for metric in t["metrics"]:
            if metric not in doc["tolerances"]:
                raise MetricsError(f"{path}: table {t['id']} uses metric {metric!r} with no tolerance")
    return doc


# The one reader of results/<dataset>/metrics.json (memae.results: the schema is checked there).
load_metrics = results_file.read


def known_datasets(reported: dict) -> list[str]:
    """The datasets of the paper's tables, then any other the registry holds."""
    names = [ds for t in reported["tables"] for ds in t["datasets"]] + list(dataset_modules.SPECS)
    return list(dict.fromkeys(names))


def load_results(results: Path, names: list[str], selected: list[str]) -> dict[str, dict]:
    """The metrics of the selected datasets that ran (a "not run" file counts as no results)."""
    metrics = {}
    for ds in names:
        path = layout.metrics_path(results, ds)
        if ds in selected and path.exists():
            m = load_metrics(path)
            if m["status"] == "run":
                metrics[ds] = m
    return metrics


def verdict(reported: float | None, mean: float | None, tol: float) -> str:
    if reported is None:
        return "no reported value"
    if mean is None:
        return "not run"
    delta = mean - reported
    if abs(delta) <= tol + 1e-12:
        return "reproduced"
    return "above" if delta > 0 else "short"


def not_run_reason(dataset: str, selected: list[str], data_root: Path | None = None) -> str:
    """Why a dataset of the tables has no results (load_reported admits registered datasets only):
    with data_root, a selected dataset whose raw files are missing names them and the fix."""
    if dataset not in selected:
        return "not selected in params/pipeline.yaml (datasets)"
    from .missing import data_missing_reason
    return (data_root is not None and data_missing_reason(dataset, data_root)) or "no results yet: run the pipeline"


def results_for(ds: str, metrics: dict[str, dict]) -> tuple[str | None, dict | None]:
    """The results a table column shows: the dataset's own, else a labelled stand-in's."""
    for name in (ds, stand_in(ds)):
        if name in metrics:
            return name, metrics[name]
    return None, None


def code_states(metrics: dict[str, dict]) -> dict[str, dict]:
    """Per dataset shown: were its runs computed by the checkout's code? (memae.codedigest.check:
    state "current", "stale" or "not recorded", the runs concerned, the changed modules and the
    text to show, which says how to rerun stale runs)."""
    return {ds: codedigest.check(ds, m.get("code")) for ds, m in metrics.items()}


def build_tables(reported: dict, metrics: dict[str, dict], selected: list[str],
                 data_root: Path | None = None) -> list[dict]:
    tols = reported["tolerances"]
    code = code_states(metrics)
    tables = []
    for t in reported["tables"]:
        rows = []
        for variant, by_ds in t["cells"].items():
            cells = []
            for ds in t["datasets"]:
                shown, m = results_for(ds, metrics)
                for metric in t["metrics"]:
                    rep = (by_ds.get(ds) or {}).get(metric)
                    got = (m or {}).get("variants", {}).get(variant, {}).get(metric)
                    mean = got["mean"] if got else None
                    reason = None
                    if not got:
                        reason = (not_run_reason(ds, selected, data_root) if m is None else
                                  f"variant {variant} has not run on every split of the {shown} profile yet"
                                  if variant in (m.get("variants_planned") or []) else
                                  f"variant {variant} not in the {shown} run" if variant not in m["variants"]
                                  else f"metric {metric} not in the {shown} results")
                    cells.append({
                        "dataset": ds, "metric": metric, "reported": rep, "tolerance": tols[metric],
                        "mean": mean, "std": got.get("std") if got else None,
                        "n": got.get("n") if got else None,
                        "delta": None if rep is None or mean is None else mean - rep,
                        "verdict": verdict(rep, mean, tols[metric]), "reason": reason,
                        "stand_in": shown if shown not in (None, ds) else None,
                        # the code state of the runs behind the number (None: nothing shown)
                        "code": code[shown]["state"] if got else None,
                    })
            rows.append({"variant": variant, "label": VARIANTS[variant].label, "cells": cells})
        shown = [results_for(ds, metrics)[0] for ds in t["datasets"]]
        tables.append({**t, "rows": rows, "shown": [ds for ds in shown if ds]})
    return tables


def count_verdicts(tables: list[dict]) -> dict:
    """Counts of verdicts over every reported number, and the reasons behind the 'not run' ones."""
    cells = [c for t in tables for r in t["rows"] for c in r["cells"] if c["reported"] is not None]
    counts = {k: sum(c["verdict"] == k for c in cells) for k in VERDICTS}
    reasons: dict[str, set] = {}
    for c in cells:
        if c["verdict"] == "not run":
            reasons.setdefault(c["reason"], set()).add(c["dataset"])
    return {"counts": counts, "total": len(cells), "outside": counts["above"] + counts["short"],
            "not_run": {r: sorted(ds) for r, ds in reasons.items()}}


def main_claim(reported: dict, metrics: dict[str, dict]) -> list[dict]:
    """Per dataset of the main tables: does memae > memae_nonspar > ae hold, in the paper and here?"""
    rows = []
    for t in reported["tables"]:
        if not set(CLAIM_ORDER) <= set(t["cells"]) or t["id"] == "ablation":
            continue
        for ds in t["datasets"]:
            metric = primary_metric(ds)
            shown, m = results_for(ds, metrics)
            ours = {v: ((m or {}).get("variants", {}).get(v, {}).get(metric) or {}).get("mean")
                    for v in CLAIM_ORDER}
            paper = {v: (t["cells"][v].get(ds) or {}).get(metric) for v in CLAIM_ORDER}
            rows.append({"dataset": ds, "metric": metric, "ours": ours, "holds": ordered(ours),
                         "paper": paper, "paper_holds": ordered(paper),
                         "stand_in": shown if shown not in (None, ds) else None})
    return rows


CLIP_ERROR_TEXT = {
    "official": "as the official test script, the L2 norm of the residual over channels averaged over "
                "the clip's pixels for the memory variants and the MSE for the AE",
    "mse": "the MSE of the clip for every variant",
    "l2": "the L2 norm of the residual over channels, averaged over the clip's pixels, for every variant",
}
THRESHOLD_TEXT = {
    "test": "the 20% highest test scores are flagged",
    "train_test": "scores above the 80th percentile of the training and test scores together are flagged",
}


def network_text(model: dict) -> str:
    """The network as the paper writes it: Conv(k, s, c) layers, or the MLP's widths."""
    if model["kind"] == "mlp":
        return f"fully connected {'-'.join(map(str, [*model['hidden'], model['code_dim']]))}, mirrored"
    if model.get("encoder"):
        fmt = lambda name, layers: "-".join(f"{name}({l['kernel']},{l['stride']},{l['channels']})"
                                            for l in layers)
        return f"{fmt('Conv', model['encoder'])}, then {fmt('Dconv', model['decoder'])}"
    return ("-".join(f"Conv({k},{s},{c})" for c, k, s in
                     zip(model["channels"], model["kernels"], model["strides"])) + ", mirrored")


def protocol(ds: str, profile: str, params_dir: Path, m: dict | None) -> dict:
    """The protocol of one dataset in plain words, with the memory settings and the profile's
    changes to the paper settings."""
    profile = (m or {}).get("profile", profile)
    path = Path(params_dir) / f"{ds}.yaml"
    params = load_params(ds, profile, params_dir) if path.exists() else None
    text = (m or {}).get("protocol") or (
        " ".join(params["protocol"]["description"].split()) if params else f"no {path.name} yet")
    memory = training = None
    if params:
        mem, tr = params["memory"], params["train"]
        memory = (f"N = {mem['num_items']} items, {mem['addressing']}-product addressing"
                  if mem["addressing"] == "dot" else f"N = {mem['num_items']} items, cosine addressing")
        memory += (f", shrinkage λ = {mem['shrink_thres']} (MemAE), one query per "
                   f"{'image' if mem['granularity'] == 'image' else 'code position'}")
        training = f"{tr['epochs']} epochs, batch {tr['batch_size']}, Adam lr {tr['lr']}"
        training += f". Network: {network_text(params['model'])}"
        ev = params["eval"]
        if ev.get("clip_error"):
            training += ". Clip error: " + CLIP_ERROR_TEXT[ev["clip_error"]]
        if ev.get("threshold_population"):
            training += ". Threshold: " + THRESHOLD_TEXT[ev["threshold_population"]]
    return {"dataset": ds, "text": text, "memory": memory, "training": training, "profile": profile,
            "changes": provenance.profile_changes(ds, profile, params_dir) if params else []}


def per_class(metrics: dict[str, dict]) -> list[dict]:
    """Per-class values of one-class datasets: rows = classes, columns = variants."""
    out = []
    for ds, m in metrics.items():
        per = m.get("per_split") or {}
        metric = primary_metric(ds)
        variants = [v for v in m["variants"] if metric in per.get(v, {})]
        if not variants:
            continue
        rows = [{"split": s, "values": [per[v][metric].get(s) for v in variants]} for s in m["splits"]]
        out.append({"dataset": ds, "metric": metric, "variants": [VARIANTS[v].label for v in variants],
                    "rows": rows, "seeds": len(m["seeds"])})
    return out


def _fmt(v) -> str:
    return "null" if v is None else json.dumps(v) if isinstance(v, (list, dict)) else str(v)


def _study_row(dataset: str, name: str, m: dict) -> dict:
    metric = m["metric"]
    rows = [{"variant": v, "label": VARIANTS[v].label, **d[metric]}
            for v, d in m["delta"].items() if metric in d]
    return {"name": name, "metric": metric, "description": m["description"], "baseline": m["baseline"],
            "changes": [f"{c['key']}: {_fmt(c['main'])} → {_fmt(c['study'])}" for c in m["changes"]],
            "shortened": [f"{c['key']}: {_fmt(c['main'])} → {_fmt(c['study'])}" for c in m["shortened"]
                          if c["main"] != c["study"]],   # a shortening this profile already runs is none
            "rows": rows, "order_base": m["order_holds"]["base"], "order_study": m["order_holds"]["study"],
            "seeds": m["study"]["seeds"], "profile": m.get("profile"),
            "epochs": results_file.shortened_epochs(m),
            # were both arms computed by the checkout's code? (stale study arms are flagged like
            # stale main runs: memae.codedigest)
            "code": codedigest.check_arms(dataset, m)}


def _why(dataset: str, studies: list[dict], tables: list[dict], profile: str | None = None) -> list[str]:
    """For each main-table number of this dataset that is short of the paper, what the studies
    measured: the changes that raise it most and lower it most, and whether one closes the gap.
    profile: the main numbers' profile; a study run under another one is named with its profile
    (its delta was measured at that profile's length, not at the main numbers')."""
    def name(s: dict) -> str:
        notes = ([] if profile is None or s.get("profile") in (None, profile) else [f"{s['profile']} profile"]) \
            + ([f"{s['epochs']} epochs"] if s.get("epochs") is not None else []) \
            + (["stale code"] if s["code"]["state"] == "stale" else [])
        return s["name"] + (f" ({', '.join(notes)})" if notes else "")
    out = []
    for t in tables:
        for row in t["rows"]:
            for c in row["cells"]:
                shown = c["stand_in"] or c["dataset"]
                if shown != dataset or c["verdict"] != "short" or c["metric"] != studies[0]["metric"]:
                    continue
                moves = sorted(((r["delta"], s) for s in studies for r in s["rows"]
                                if r["variant"] == row["variant"]), key=lambda x: -x[0])
                text = (f"{row['label']} is {abs(c['delta']):.4f} short of the paper's "
                        f"{c['reported']:.4f} ({c['mean']:.4f}).")
                if not moves:
                    out.append(text + " No study here varies this variant.")
                    continue
                up = [f"{name(s)} ({d:+.4f})" for d, s in moves if d > 0]
                down = [f"{name(s)} ({d:+.4f})" for d, s in moves if d < 0]
                text += (f" Studies that raise it: {', '.join(up)}." if up else
                         " No study raises it.")
                if down:
                    text += f" Studies that lower it: {', '.join(down)}."
                best, s = moves[0]
                text += (f" {name(s)} alone would close the gap (measured {best:+.4f} against a gap of "
                         f"{abs(c['delta']):.4f}, under the study's own seeds and epochs)."
                         if best >= abs(c["delta"]) else
                         f" No study run here closes the gap ({len(studies)} run).")
                out.append(text)
    return out


def what_moves(results: Path, datasets: list[str], tables: list[dict]) -> list[dict]:
    """Per dataset run with studies: each study's delta against its baseline for each variant, on
    the primary metric, whether memae > nonSpar > ae holds in each arm, and why-paragraphs."""
    out = []
    for ds in datasets:
        files = sorted(Path(results, ds, "studies").glob("*/metrics.json"))
        studies = [_study_row(ds, f.parent.name, load_study(f)) for f in files]
        main = Path(results, ds, "metrics.json")
        profile = results_file.read(main).get("profile") if main.exists() else None
        if studies:
            out.append({"dataset": ds, "metric": studies[0]["metric"], "studies": studies,
                        "why": _why(ds, studies, tables, profile)})
    return out


# The one reader of a study's metrics file (memae.results).
load_study = results_file.read_study


def _figure_reason(ds: str, metrics: dict[str, dict], selected: list[str], data_root: Path | None = None) -> str:
    other = stand_in(ds)
    if other in metrics:
        return f"{not_run_reason(ds, selected, data_root)}; the {other} results stand in for it, see below"
    return not_run_reason(ds, selected, data_root)


def figure_groups(results: Path, names: list[str], metrics: dict[str, dict], selected: list[str],
                  data_root: Path | None = None) -> list[dict]:
    """The figures of each dataset; for one not run, the titles it would have and the reason."""
    groups = []
    for ds in tqdm(names, desc="report figures", unit="dataset"):
        run = ds in metrics
        groups.append({
            "dataset": ds, "figures": figures.dataset_figures(results, metrics[ds]) if run else [],
            "not_run": None if run else {"reason": _figure_reason(ds, metrics, selected, data_root), "titles": [
                figures.TITLES[k] for k in figures.figure_kinds(ds)]}})
        sweep = layout.sweep_path(results, ds)
        paper_sweep = ds in dataset_modules.SPECS and dataset_modules.SPECS[ds].paper_sweep
        if sweep.exists() or (run and paper_sweep):
            fig = figures.memory_sweep(sweep, ds)
            state = codedigest.check(ds, json.loads(sweep.read_text()).get("code")) if sweep.exists() else None
            if state and state["state"] == "stale":   # the sweep's runs, flagged like the main runs
                fig.caption += f" Code {state['text']}."
            groups[-1]["figures"].append(fig)
    return groups


def synthetic_data(metrics: dict[str, dict], params_dir: Path) -> bool:
    """Whether any result shown ran on synthetic data: as each metrics file records it (a file
    written before that was recorded: as its own profile's pipeline settings say)."""
    def synthetic(m: dict) -> bool:
        if m.get("data") is not None:
            return m["data"] == "synthetic"
        return bool(load_pipeline(params_dir, m["profile"])["synthetic_data"])
    return any(synthetic(m) for m in metrics.values())


def render(results: Path, reported_path: Path, selected: list[str], out: Path,
           profile: str = "paper", data_root: Path = Path("data")) -> dict:
    params_dir = Path(reported_path).parent
    reported = load_reported(reported_path)
    names = known_datasets(reported)
    metrics = load_results(results, names, selected)
    tables = build_tables(reported, metrics, selected, data_root)   # names missing data and the fix
    summary = count_verdicts(tables)
    tabled = {ds for t in reported["tables"] for ds in t["datasets"]}   # the paper's datasets
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    html = env.get_template("index.html.j2").render(
        reported=reported, tables=tables, summary=summary, counts=summary["counts"],
        claims=main_claim(reported, metrics), metrics=metrics, profile=profile,
        protocols={ds: protocol(ds, profile, params_dir, metrics.get(ds)) for ds in names},
        per_class=per_class(metrics),
        moves=what_moves(results, [ds for ds in names if ds in metrics], tables),
        figure_groups=figure_groups(results, [ds for ds in names if ds in metrics or ds in tabled],
                                    metrics, selected, data_root),
        prov=provenance.collect(results, metrics, data_root, params_dir),
        code=code_states(metrics),
        synthetic=synthetic_data(metrics, params_dir),
        generated=datetime.datetime.now().isoformat(timespec="seconds"))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html)
    os.replace(tmp, out)
    return {"tables": tables, "counts": summary["counts"], "summary": summary}
