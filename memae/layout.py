"""Where each file lives and what each run is called: run folders, fetch stamps, memory-size sweep
points, study arms, and a run's config with its digest.

Torch-free and matplotlib-free: the workflow imports this (with memae.config and memae.datasets) at
parse time, and so do fetch, aggregate, provenance and the report.

  <data>/raw/<ds>/<file>                          a fetched raw file
  <data>/raw/<ds>/.<file>.verified                its stamp, written by `memae fetch` once verified
  <data>/prepared/<ds>/summary.json               written last by `memae prepare`
  <results>/<ds>/<variant>/<split>/seed<k>/       one run (model.pt, train_log.json, metrics.json, scores.npz)
  <results>/<ds>/metrics.json, params.json        the dataset's aggregated metrics, the settings that ran
  <results>/<ds>/sweep/metrics.json               its memory-size sweep
  <results>/<ds>/studies/<tag>/<variant>/...      the runs of a study arm or of a shortened baseline
  <results>/<ds>/studies/<study>/metrics.json     one study: both arms and the deltas
  <results>/<ds>/studies/metrics.json             every selected study of the dataset
"""
from __future__ import annotations

import copy
import re
from pathlib import Path

from .config import digest, study_params
from .variants import Variant, get_variant

# --- data -----------------------------------------------------------------------------------------

PREPARED_SUMMARY = "summary.json"   # the file `memae prepare` writes last: the prepare job's output


def raw_dir(data: str | Path, dataset: str) -> Path:
    return Path(data) / "raw" / dataset


def prepared_dir(data: str | Path, dataset: str) -> Path:
    return Path(data) / "prepared" / dataset


def prepared_summary(data: str | Path, dataset: str) -> Path:
    """The prepare job's output (the Snakemake wildcard "{dataset}" gives its pattern)."""
    return prepared_dir(data, dataset) / PREPARED_SUMMARY


def stamp_name(file_name: str) -> str:
    """The name of the stamp `memae fetch` writes beside a raw file once it is verified."""
    return f".{file_name}.verified"


def stamp_path(raw: str | Path, file_name: str) -> Path:
    return Path(raw) / stamp_name(file_name)


def fetch_stamps(data: str | Path, dataset: str) -> list[str]:
    """The stamps of every raw file of a dataset: a fetch job's outputs (never the files
    themselves, which Snakemake would delete before rerunning the job)."""
    from .datasets import files
    return [f"{data}/raw/{dataset}/{stamp_name(rf.name)}" for rf in files(dataset)]


# --- runs -----------------------------------------------------------------------------------------

def arm_root(results: str | Path, dataset: str, tag: str | None = None) -> Path:
    """Where one arm's runs live: the main runs for tag None, else results/<ds>/studies/<tag>."""
    return Path(results) / dataset if tag is None else Path(results) / dataset / "studies" / tag


def run_in(arm: str | Path, variant: str, split: str, seed: int | str) -> Path:
    """One run's folder under an arm root (arm_root): <arm>/<variant>/<split>/seed<k>."""
    return Path(arm) / variant / split / f"seed{seed}"


def run_dir(results: str | Path, dataset: str, variant: str, split: str, seed: int | str,
            tag: str | None = None) -> Path:
    """One run's folder: results/<ds>/<variant>/<split>/seed<k> (under studies/<tag> for a study)."""
    return run_in(arm_root(results, dataset, tag), variant, split, seed)


def run_pattern(results: str, tag: str | None = None) -> str:
    """The run folder with Snakemake wildcards: {dataset}, {variant}, {split}, {seed} (and {tag})."""
    return str(run_dir(results, "{dataset}", "{variant}", "{split}", "{seed}", tag))


def metrics_path(results: str | Path, dataset: str) -> Path:
    return Path(results) / dataset / "metrics.json"


def settings_path(results: str | Path, dataset: str) -> Path:
    """The settings that ran (the profile's overlay applied), beside the metrics."""
    return Path(results) / dataset / "params.json"


def sweep_path(results: str | Path, dataset: str) -> Path:
    return Path(results) / dataset / "sweep" / "metrics.json"


def study_path(results: str | Path, dataset: str, study: str | None = None) -> Path:
    """One study's metrics, or (study None) the summary of the dataset's selected studies."""
    root = Path(results) / dataset / "studies"
    return root / "metrics.json" if study is None else root / study / "metrics.json"


# --- memory-size sweep ----------------------------------------------------------------------------

SWEEP_NAME = re.compile(r"^(?P<variant>[a-z0-9_]+?)_n(?P<num_items>\d+)$")


def sweep_name(variant: str, num_items: int) -> str:
    """Run name of a memory-size sweep point, e.g. memae_n500."""
    return f"{variant}_n{num_items}"


def sweep_points(params: dict) -> list[tuple[int, str]]:
    """(N, run name) of each point of the memory-size sweep of memae; the params' own N is the
    memae run itself."""
    n0 = params["memory"]["num_items"]
    return [(n, "memae" if n == n0 else sweep_name("memae", n))
            for n in params["protocol"].get("sweep_num_items", [])]


def resolve_variant(name: str, params: dict) -> tuple[Variant, dict]:
    """A variant name, or a sweep point `<variant>_n<N>`: the variant with memory.num_items = N and
    lambda scaled to keep lambda * N as in the params (the paper gives lambda in units of 1/N)."""
    m = SWEEP_NAME.match(name)
    if not m:
        return get_variant(name), params
    n = int(m["num_items"])
    params = copy.deepcopy(params)
    mem = params["memory"]
    mem["shrink_thres"] = mem["shrink_thres"] * mem["num_items"] / n
    mem["num_items"] = n
    return get_variant(m["variant"]), params


# --- a run's config and its digest ----------------------------------------------------------------

# train.* keys that say how runs are executed, not what they compute (grouped training gives the
# same result as training alone): left out of a run's config, so they never retrain a run.
RUNTIME_KEYS = ("group_seeds", "group_splits")


def run_config(dataset: str, variant: str, split: str, seed: int, params: dict) -> dict:
    """What determines a run's result: changing any of it restarts training from scratch."""
    keys = ("data", "model", "memory", "loss", "train")
    params = resolve_variant(variant, params)[1]
    config = {k: params[k] for k in keys}
    config["train"] = {k: v for k, v in config["train"].items() if k not in RUNTIME_KEYS}
    return {"dataset": dataset, "variant": variant, "split": split, "seed": seed, **config}


def run_digest(dataset: str, variant: str, split: str, seed: int, params: dict) -> str:
    """The digest of a run's config: a training job reruns when it changes."""
    return digest(run_config(dataset, variant, split, seed, params))


# --- study arms -----------------------------------------------------------------------------------

def _fewer_seeds_only(base: dict, params: dict) -> bool:
    """Whether `base` is `params` running a subset of its seeds and nothing else changed: its runs
    are then main runs (a run's settings do not depend on which other seeds run)."""
    if not set(base["protocol"]["seeds"]) <= set(params["protocol"]["seeds"]):
        return False
    drop = lambda p: {**p, "protocol": {k: v for k, v in p["protocol"].items() if k != "seeds"}}
    return drop(base) == drop(params)


def base_tag(study: dict, params: dict) -> str | None:
    """The folder of a study's baseline runs: None when the baseline is (a subset of) the main runs:
    no `shorten`, one that changes nothing under this profile (seeds [0] when the profile runs seed
    0 only), or one that only drops seeds (seeds [0] of the paper profile's [0, 1, 2]: the main
    runs of seed 0, not a second training of the same settings). A shortening that changes
    anything else (e.g. fewer epochs) trains its own baseline runs."""
    base = study_params(params, study, "base")
    if base == params or _fewer_seeds_only(base, params):
        return None
    return f"base_{digest(study['shorten'])[:8]}"
