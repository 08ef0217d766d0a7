"""The results contract: results/<dataset>/metrics.json has one writer (write) and one reader
(read), and both check its shape; a study's file has its reader here too (read_study).

A dataset that ran (written by `memae aggregate`):
  {"dataset", "profile", "status": "run", "data": "real" | "synthetic", "params_digest",
   "protocol", "splits": [...], "seeds": [...],
   "variants": {"<variant>": {"<metric>": {"mean": x, "std": y | null, "n": k}}},
   "per_split": {"<variant>": {"<metric>": {"<split>": x}}}, "wall_time_s", "code", "aggregated_at"}
  plus, in a partial file (`memae aggregate --seeds`: some of the profile's seeds have run),
  "seeds_planned": the profile's seeds (a strict superset of "seeds"); likewise
  "variants_planned" (`memae aggregate --variants`: some of the profile's variants have run).
A dataset the profile does not select (written by the workflow's not_selected rule):
  {"dataset", "profile", "status": "not run", "reason", "variants": {}}

Files written before `status` and `data` were recorded (the tracked results of record) read as
status "run" and data None (unknown: the report then takes it from the file's own profile).

`code` holds, besides the commits, `digests`: the code digests the runs recorded (memae.codedigest:
{"train"|"score": {"digests": {digest: {"runs", "modules"}}, "not_recorded": n}}), against which
the report and `memae compare` flag stale runs; a file without it reads as "code digest not
recorded". It is provenance: check() does not require it.
"""
from __future__ import annotations

import json
from numbers import Real
from pathlib import Path

from .finite import require_finite

STATUSES = ("run", "not run")
DATA = ("real", "synthetic")


def roc_path(results: str | Path, dataset: str, variant: str) -> Path:
    """The ROC points of a dataset's variant (memae.roc.write_roc_points), tracked in git beside
    the metrics: results/<dataset>/roc/<variant>.json (dvc.yaml plots them; the report draws them
    where the runs' scores are not there, e.g. in a fresh clone)."""
    return Path(results) / dataset / "roc" / f"{variant}.json"


class MetricsError(ValueError):
    pass


def is_number(x, none_ok: bool = False) -> bool:
    return (x is None and none_ok) or (isinstance(x, Real) and not isinstance(x, bool))


SHAPE = ('{"dataset", "profile", "status", "splits": [...], "seeds": [...], '
         '"variants": {"<variant>": {"<metric>": {"mean": x, "std": y, "n": k}}}}')


def check(m, where, legacy: bool = False) -> dict:
    """m if it has the contract's shape, else MetricsError naming `where` and what is wrong.
    legacy: accept a file without `status` and `data` (written before they were recorded)."""
    def bad(what: str):
        raise MetricsError(f"{where}: {what}; expected {SHAPE}; rerun `memae aggregate` for this dataset")

    if not isinstance(m, dict):
        bad("not a JSON object")
    for key in ("dataset", "profile"):
        if not isinstance(m.get(key), str):
            bad(f"{key!r} is {m.get(key)!r}, not a string")
    status = m.get("status", "run" if legacy else None)
    if status not in STATUSES:
        bad(f"status is {status!r}, not one of {STATUSES}")
    if not isinstance(m.get("variants"), dict):
        bad("'variants' is not an object")
    if status == "not run":
        if not isinstance(m.get("reason"), str):
            bad("a 'not run' file needs its reason")
        if m["variants"]:
            bad("a 'not run' file has no variants")
        return m
    data = m.get("data", None if legacy else "missing")
    if data not in DATA and not (legacy and data is None):
        bad(f"data is {data!r}, not one of {DATA}")
    if not (isinstance(m.get("splits"), list) and isinstance(m.get("seeds"), list)):
        bad("'splits' and 'seeds' must be lists")
    if "seeds_planned" in m:   # only in a partial file: the profile's seeds
        planned = m["seeds_planned"]
        if not (isinstance(planned, list) and set(m["seeds"]) < set(planned)):
            bad(f"'seeds_planned' {planned!r} must hold every seed of 'seeds' {m['seeds']!r} and more")
    if "variants_planned" in m:   # only in a file of some of the profile's variants
        planned = m["variants_planned"]
        if not (isinstance(planned, list) and set(m["variants"]) < set(planned)):
            bad(f"'variants_planned' {planned!r} must hold every variant of 'variants' "
                f"{sorted(m['variants'])!r} and more")
    for variant, stats in m["variants"].items():
        if not isinstance(stats, dict):
            bad(f"variant {variant!r} is not an object of metrics")
        for metric, s in stats.items():
            if not (isinstance(s, dict) and is_number(s.get("mean")) and is_number(s.get("std"), none_ok=True)
                    and isinstance(s.get("n"), int)):
                bad(f"{variant} {metric} is {s!r}, not {{mean, std, n}}")
    # NaN or infinity would render as "nan ± ..." and compare as reproduced: refuse it
    require_finite({**m["variants"], "per_split": m.get("per_split")}, where, "metric",
                   "Rerun `memae aggregate` for this dataset; it refuses non-finite run metrics.")
    return m


def _load(path: Path, what: str) -> object:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise MetricsError(f"{path}: cannot read {what} ({e})") from None


def read(path: Path) -> dict:
    """A results/<dataset>/metrics.json, checked; `status` and `data` always present."""
    m = _load(path, "metrics")
    if isinstance(m, dict) and "dataset" not in m:
        m["dataset"] = Path(path).parent.name
    check(m, path, legacy=True)
    m.setdefault("status", "run")
    if m["status"] == "run":
        m.setdefault("data", None)
    return m


def write(path: Path, m: dict) -> dict:
    """Write a results/<dataset>/metrics.json atomically, after checking it (nothing is written
    when it does not hold to the contract)."""
    from .data.arrays import write_json
    check(m, f"{path} (not written)")
    write_json(path, m)
    return m


STUDY_KEYS = {"description", "metric", "delta", "order_holds", "changes", "shortened", "study", "baseline"}


def read_study(path: Path) -> dict:
    """A results/<dataset>/studies/<study>/metrics.json written by `memae study`, checked."""
    m = _load(path, "study metrics; rerun `memae study`")
    if not (isinstance(m, dict) and STUDY_KEYS <= set(m)):
        raise MetricsError(f"{path}: not a study metrics file; rerun `memae study` for it")
    for v, ms in m["delta"].items():
        for k, d in ms.items():
            for arm in ("study", "base", "delta"):
                if not is_number(d.get(arm)) or d[arm] != d[arm] or abs(d[arm]) == float("inf"):
                    raise MetricsError(f"{path}: {v} {k} {arm} is {d.get(arm)!r}, not a finite number")
    return m


def shortened_epochs(study: dict) -> int | None:
    """The epochs a study's `shorten` ran both arms at, when it changed them (its deltas were
    measured at that length, not at the main numbers'); None when the arms ran the main epochs."""
    return next((c["study"] for c in study.get("shortened") or []
                 if c["key"] == "train.epochs" and c["main"] != c["study"]), None)


def not_run(dataset: str, profile: str, reason: str) -> dict:
    """The metrics file of a dataset that did not run, saying why."""
    return {"dataset": dataset, "profile": profile, "status": "not run", "reason": reason, "variants": {}}
