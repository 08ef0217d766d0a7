"""Collect the per-run metrics of one dataset into results/<dataset>/metrics.json.

For one-class datasets (several splits) the per-class values are first averaged over classes for
each seed; mean and std are then taken over seeds (std with ddof=1, null for a single seed).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from . import codedigest
from . import results as results_file
from .config import digest
from .data.arrays import write_json
from .finite import require_finite
from .layout import run_dir, run_in, sweep_points
from .provenance import git_state


def mean_std(values: list[float]) -> dict:
    """Mean and std (ddof=1; null for one value) over seeds, and how many."""
    a = np.asarray(values, dtype=float)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else None, "n": int(len(a))}


def _trained_at(log: dict) -> str:
    """The commit a run's training log records ("<sha> (dirty)" for a tree with local changes)."""
    code = log.get("code") or {}
    if not code.get("commit"):
        return "not recorded"
    return code["commit"] + (" (dirty)" if code.get("dirty") else "")


def aggregate(dataset: str, profile: str, params: dict, results: Path, out: Path,
              synthetic: bool = False, seeds: list[int] | None = None,
              variants: list[str] | None = None) -> dict:
    """results/<dataset>/metrics.json (memae.results: the contract), with its provenance: the
    profile, real or synthetic data, and the digest of the resolved settings.

    seeds: aggregate only these of the profile's seeds (a run in progress: long runs finish seed by
    seed). The file then records `seeds_planned`, the profile's seeds, and every reader shows the
    numbers as partial; the settings digest stays the profile's. variants: likewise, only these of
    the profile's variants (every split and seed of each), recorded with `variants_planned`; the
    variants left out show as not run."""
    proto = params["protocol"]
    partial, chosen = {}, {}
    for key, given, flag in (("seeds", seeds, "--seeds"), ("variants", variants, "--variants")):
        planned = list(proto[key])
        if given is None or list(given) == planned:
            continue
        if not given or [k for k in given if k not in planned] or len(set(given)) != len(given):
            raise ValueError(f"{flag} {' '.join(map(str, given))}: give distinct {key} of the profile's "
                             f"{planned} (params/{dataset}.yaml protocol.{key}, profile {profile})")
        partial[f"{key}_planned"] = planned
        chosen[key] = [k for k in planned if k in given]
    digest_of = params
    params = {**params, "protocol": {**proto, **chosen}}
    result = {"dataset": dataset, "profile": profile, "status": "run",
              "data": "synthetic" if synthetic else "real", "params_digest": digest(digest_of),
              "protocol": " ".join(params["protocol"]["description"].split()),
              **collect(Path(results) / dataset, params), **partial,
              "aggregated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    require_finite(result["variants"], f"{out} (not written)", "aggregated metric")  # never bare NaN in JSON
    return results_file.write(out, result)


def collect(root: Path, params: dict) -> dict:
    """Mean and std over seeds of the runs under root/<variant>/<split>/seed<k> (an arm root,
    memae.layout) that params' protocol lists: {splits, seeds, variants, per_split, wall_time_s, code}."""
    proto = params["protocol"]
    variants, per_split, wall, trained = {}, {}, {}, set()
    recorded = {"train": [], "score": []}   # each run's code digests (memae.codedigest)
    for variant in proto["variants"]:
        by_seed: dict[int, list[dict]] = {}
        train_s = eval_s = 0.0
        for seed in proto["seeds"]:
            for split in proto["splits"]:
                d = run_in(root, variant, split, seed)
                try:
                    m = json.loads((d / "metrics.json").read_text())
                    log = json.loads((d / "train_log.json").read_text())
                except FileNotFoundError as e:
                    raise FileNotFoundError(f"{e.filename} is missing: run train and evaluate for it") from None
                require_finite(m["metrics"], d / "metrics.json", "metric")
                by_seed.setdefault(seed, []).append({"split": split, **m["metrics"]})
                if "reused_from" not in log:   # a study run that copied its baseline's training trained nothing
                    train_s += log["train_s"]
                trained.add(_trained_at(log))
                recorded["train"].append(codedigest.recorded(log))
                recorded["score"].append(codedigest.recorded(m))
                eval_s += m["eval_s"]
        names = [k for k in by_seed[proto["seeds"][0]][0] if k != "split"]
        variants[variant] = {
            name: mean_std([np.mean([r[name] for r in rows]) for rows in by_seed.values()])
            for name in names}
        if len(proto["splits"]) > 1:
            per_split[variant] = {
                name: {s: float(np.mean([next(r[name] for r in rows if r["split"] == s)
                                         for rows in by_seed.values()])) for s in proto["splits"]}
                for name in names}
        wall[variant] = {"train_s": train_s, "eval_s": eval_s}
    return {"splits": proto["splits"], "seeds": proto["seeds"], "variants": variants,
            "per_split": per_split,
            "wall_time_s": {"total": sum(w["train_s"] + w["eval_s"] for w in wall.values()), **wall},
            "code": {"aggregated_at_commit": git_state(), "trained_at_commits": sorted(trained),
                     # how many runs each code digest computed (None: not recorded); the report
                     # and `memae compare` check them against the checkout's (codedigest.check)
                     "digests": {k: codedigest.tally(v) for k, v in recorded.items()}}}


def aggregate_sweep(dataset: str, params: dict, results: Path, out: Path) -> dict:
    """results/<dataset>/sweep/metrics.json: {"points": [{"num_items": N, "auc": x, "auc_macro": y}]},
    each metric the mean over the seeds (and splits) of the memae run with N memory items; and
    `code`: the code digests its runs recorded, as collect() tallies them (memae.codedigest)."""
    proto, points = params["protocol"], []
    recorded = {"train": [], "score": []}
    for n, variant in sweep_points(params):
        rows = []
        for seed in proto["seeds"]:
            for split in proto["splits"]:
                run = run_dir(results, dataset, variant, split, seed)
                path = run / "metrics.json"
                if not path.exists():
                    raise FileNotFoundError(f"{path} is missing: run train and evaluate for it")
                m = json.loads(path.read_text())
                rows.append(m["metrics"])
                require_finite(rows[-1], path, "metric")
                recorded["score"].append(codedigest.recorded(m))
                log = run / "train_log.json"
                recorded["train"].append(codedigest.recorded(json.loads(log.read_text())) if log.exists() else None)
        points.append({"num_items": n, "variant": variant, "runs": len(rows),
                       **{k: float(np.mean([r[k] for r in rows])) for k in rows[0]}})
    result = {"dataset": dataset, "params_digest": digest(params), "points": points,
              "code": {"digests": {k: codedigest.tally(v) for k, v in recorded.items()}}}
    write_json(out, result)
    return result
