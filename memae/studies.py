"""Studies: what moves each number.

A study is a named change (`set`) of one dataset's settings, declared in params/<dataset>.yaml
under `studies:`. It runs the dataset's variants x splits x seeds with that change and is compared
with a baseline that differs from it in that change only:
  - without `shorten`, the baseline is the dataset's main runs (results/<dataset>/<variant>/...);
  - with `shorten` (fewer seeds or epochs, applied to both arms and said so in the results), the
    baseline is the main settings shortened the same way: the main runs of those seeds where the
    shortening only drops seeds, else its own runs, trained once per distinct `shorten` and
    shared by every study that shortens alike.
The main tables never take a study's numbers; the report shows each study's delta.

Layout (memae.layout, torch-free, read by the workflow):
  results/<ds>/studies/<study>/<variant>/<split>/seed<k>/   the study arm's runs
  results/<ds>/studies/base_<digest>/<variant>/...          a shortened baseline's runs
  results/<ds>/studies/<study>/metrics.json                 one study: both arms and the deltas
  results/<ds>/studies/metrics.json                         every selected study of the dataset
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from .config import ParamsError, digest, load_params, load_studies, study_params
from .data.arrays import write_json
from .datasets import primary_metric
from .layout import arm_root, base_tag, run_dir, study_path

# The paper's main claim, per dataset: each variant beats the next on the primary metric (the
# registry's, memae.datasets). The report's main-claim check uses the same order and metric.
CLAIM_ORDER = ("memae", "memae_nonspar", "ae")


def describe_baseline(dataset: str, tag: str | None, base: dict, params: dict) -> str:
    """The baseline of a study, in words."""
    if tag is not None:
        return f"the main settings shortened alike (results/{dataset}/studies/{tag})"
    seeds = base["protocol"]["seeds"]
    if seeds == params["protocol"]["seeds"]:
        return "the main runs"
    return f"the main runs of seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"


# Settings only scoring reads, under every protocol: a study arm that differs from its baseline in
# these alone (and in which runs it lists) scores the baseline's trained models. Any other
# difference trains, including eval keys that decide what trains (eval.test_fraction: the records
# protocol trains on the part of the records it does not test on).
SCORING_ONLY = ("eval.batch_size", "eval.anomaly_fraction", "eval.threshold_top_fraction",
                "eval.threshold_population", "eval.clip_error")
_RUN_LISTS = ("protocol.seeds", "protocol.splits", "protocol.variants")


def reused_training(results: str | Path, dataset: str, params: dict, study: dict, variant: str,
                    split: str, seed: int) -> Path | None:
    """The baseline run (a folder under `results`) that one run of a study arm would train again
    bit for bit, or None.

    A study that changes only how runs are scored (KDDCUP99's threshold_train_test changes
    eval.threshold_population) trains with its baseline's settings: training is seeded and
    deterministic, so training again would give the baseline's weights at the cost of a full run.
    The workflow's train job of such a run copies the baseline's model and training log instead
    (copy_trained_run), and the study's own evaluate job scores that model with the study's
    settings. `params` are the dataset's resolved settings (the profile applied), `study` its spec
    (memae.config.load_studies)."""
    if not trains_as_baseline(params, study):   # then every key a run's config holds is the baseline's
        return None
    p = study_params(params, study, "base")["protocol"]
    if variant not in p["variants"] or split not in p["splits"] or seed not in p["seeds"]:
        return None
    return run_dir(results, dataset, variant, split, seed, base_tag(study, params))


def trains_as_baseline(params: dict, study: dict) -> bool:
    """Whether a study's arm differs from its baseline only in scoring-only settings and in which
    runs it lists (the arm-wide half of reused_training; the workflow asks once per arm)."""
    a, b = _flatten(study_params(params, study, "study")), _flatten(study_params(params, study, "base"))
    return {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)} <= set(SCORING_ONLY + _RUN_LISTS)


def copy_trained_run(source: str | Path, model: str | Path, log: str | Path) -> str:
    """A study run's training, copied from the baseline run `source` (see reused_training): its
    model.pt as it is, and its train_log.json with `reused_from` added (so aggregates count no
    training time for it). Returns the line the job's log gets for it."""
    source = Path(source)
    shutil.copyfile(source / "model.pt", model)
    train_log = json.loads((source / "train_log.json").read_text())
    write_json(log, {**train_log, "reused_from": str(source)})
    return f"{model}: same training settings as {source}: its model is reused, not trained again\n"


def resolve_tag(dataset: str, tag: str, profile: str, params_dir: Path = Path("params")) -> dict:
    """The settings the runs under results/<ds>/studies/<tag> train with: tag is a study name (its
    study arm) or base_<digest> (the shortened baseline of the studies that shorten alike)."""
    params = load_params(dataset, profile, params_dir)
    studies = load_studies(dataset, params_dir)
    if tag in studies:
        return study_params(params, studies[tag], "study")
    for study in studies.values():
        if base_tag(study, params) == tag:
            return study_params(params, study, "base")
    raise ParamsError(f"params/{dataset}.yaml: no study and no shortened baseline named {tag!r}; "
                      f"studies: {', '.join(studies) or 'none'}")


def select(spec: list[str], datasets: list[str], params_dir: Path = Path("params")) -> dict[str, list[str]]:
    """`<dataset>:<study>` / `<dataset>:all` / `all` entries -> {dataset: [study, ...]}, checked
    against the studies each params file declares. Only datasets in `datasets` (those run) count."""
    out: dict[str, list[str]] = {}
    for entry in spec:
        ds, _, name = str(entry).partition(":")
        targets = datasets if ds == "all" else [ds]
        for d in targets:
            if d not in datasets:
                raise ParamsError(f"studies: {entry!r} names dataset {d!r}, which is not run "
                                  f"(datasets: {', '.join(datasets)})")
            known = load_studies(d, params_dir)
            names = list(known) if name in ("", "all") or ds == "all" else [name]
            for n in names:
                if n not in known:
                    raise ParamsError(f"studies: params/{d}.yaml declares no study {n!r} "
                                      f"(declared: {', '.join(known) or 'none'})")
                out.setdefault(d, [])
                if n not in out[d]:
                    out[d].append(n)
    return out


def _flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _lookup(params: dict, dotted: str):
    node = params
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def changes(params: dict, over: dict) -> list[dict]:
    """Each key an overlay sets, with the value it replaces: [{key, main, study}]."""
    return [{"key": k, "main": _lookup(params, k), "study": v} for k, v in _flatten(over).items()]


def ordered(values: dict) -> bool | None:
    """Whether memae > memae_nonspar > ae; None when one of them is missing."""
    if any(values.get(v) is None for v in CLAIM_ORDER):
        return None
    return all(values[a] > values[b] for a, b in zip(CLAIM_ORDER, CLAIM_ORDER[1:]))


def compare_arms(dataset: str, study: dict, base: dict) -> dict:
    """Per variant and metric: study mean, baseline mean and their delta; and whether
    memae > memae_nonspar > ae holds on the primary metric in each arm."""
    metric = primary_metric(dataset)
    delta = {}
    for variant, stats in study["variants"].items():
        b = base["variants"].get(variant)
        if not b:
            continue
        delta[variant] = {m: {"study": s["mean"], "base": b[m]["mean"], "delta": s["mean"] - b[m]["mean"]}
                          for m, s in stats.items() if m in b}
    primary = lambda arm: {v: (arm["variants"].get(v, {}).get(metric) or {}).get("mean") for v in CLAIM_ORDER}
    return {"metric": metric, "delta": delta,
            "order_holds": {"study": ordered(primary(study)), "base": ordered(primary(base))}}


def aggregate_study(dataset: str, name: str, profile: str, results: Path, out: Path,
                    params_dir: Path = Path("params")) -> dict:
    """results/<ds>/studies/<name>/metrics.json: both arms (mean, std over seeds), the deltas and
    the change in words."""
    from .aggregate import collect   # the training stack is not needed to plan the workflow
    params = load_params(dataset, profile, params_dir)
    studies = load_studies(dataset, params_dir)
    if name not in studies:
        raise ParamsError(f"{Path(params_dir) / (dataset + '.yaml')}: no study {name!r} "
                          f"(declared: {', '.join(studies) or 'none'})")
    spec = studies[name]
    study_p, base_p = study_params(params, spec, "study"), study_params(params, spec, "base")
    tag = base_tag(spec, params)
    study = collect(arm_root(results, dataset, name), study_p)
    base = collect(arm_root(results, dataset, tag), base_p)
    result = {
        "dataset": dataset, "study": name, "profile": profile, "description": spec["description"],
        "changes": changes(params, spec["set"]),
        "shortened": changes(params, spec["shorten"]),
        "baseline": describe_baseline(dataset, tag, base_p, params),
        "params_digest": {"study": digest(study_p), "base": digest(base_p)},
        "study": study, "base": base, **compare_arms(dataset, study, base),
        "aggregated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_json(out, result)
    return result


def summarise_studies(dataset: str, names: list[str], profile: str, results: Path, out: Path) -> dict:
    """results/<ds>/studies/metrics.json: per study and variant, the delta of each metric (the
    numbers `dvc metrics diff` follows), read from the per-study files."""
    studies = {}
    for name in names:
        path = study_path(results, dataset, name)
        m = json.loads(path.read_text())
        studies[name] = {"description": m["description"], "metric": m["metric"],
                         "order_holds": m["order_holds"],
                         "delta": {v: {k: d["delta"] for k, d in ms.items()} for v, ms in m["delta"].items()}}
    result = {"dataset": dataset, "profile": profile, "status": "run" if names else "not run",
              "reason": None if names else "no study of this dataset selected (params/pipeline.yaml "
                                               "studies, or --config studies=[<dataset>:<study>])",
              "studies": studies}
    write_json(out, result)
    return result
