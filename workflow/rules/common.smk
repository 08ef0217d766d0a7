# Loads and validates params at start-up (an unknown key or a wrong type stops here, naming the
# file and the key) and builds the target lists.
# Parse time imports only torch-free, matplotlib-free modules: the registry, params and the layout.
import os
import shlex
import sys
from pathlib import Path

from memae import datasets as registry
from memae.config import ParamsError, digest, load_params, load_pipeline
from memae.layout import (fetch_stamps, metrics_path, prepared_summary, run_config, run_dir, run_pattern,
                          settings_path, study_path, sweep_path, sweep_points)

unknown = set(config) - {"profile", "datasets", "studies"}
if unknown:
    sys.exit(f"unknown --config key(s): {', '.join(sorted(unknown))} "
             "(only 'profile', 'datasets' and 'studies' are read)")
# Every dataset of the registry that the workflow runs (memae/datasets.py); the profile selects
# which of them run. Each needs its params file.
ALL_DATASETS = sorted(registry.WORKFLOW_DATASETS)
_missing = [ds for ds in ALL_DATASETS if not Path("params", f"{ds}.yaml").is_file()]
if _missing:
    sys.exit("params error: dataset(s) " + ", ".join(_missing) + " are registered in memae/datasets.py but have "
             "no params file: add " + ", ".join(f"params/{ds}.yaml" for ds in _missing) + " (README, "
             "\"Adding a dataset\"), or register them with workflow=False")
try:
    PIPE = load_pipeline("params", config.get("profile"))
    PROFILE = PIPE["profile"]
    if "datasets" in config:  # --config datasets=[mnist,cifar10_jpeg] overrides the profile's list
        PIPE["datasets"] = config["datasets"] if isinstance(config["datasets"], list) else [config["datasets"]]
    bad = [ds for ds in PIPE["datasets"] if ds not in ALL_DATASETS]
    if bad:
        raise ParamsError(f"params/pipeline.yaml or --config: unknown dataset(s) {', '.join(bad)}; "
                          f"known: {', '.join(ALL_DATASETS)}")
    bad = [ds for ds in PIPE.get("one_job_per_dataset") or [] if ds not in ALL_DATASETS]
    if bad:
        raise ParamsError(f"params/pipeline.yaml one_job_per_dataset: unknown dataset(s) {', '.join(bad)}; "
                          f"known: {', '.join(ALL_DATASETS)}")
    PARAMS = {ds: load_params(ds, PROFILE) for ds in PIPE["datasets"]}
except ParamsError as e:
    sys.exit(f"params error: {e}")

DATASETS = PIPE["datasets"]
# A paper (top-level) value changed since the baseline commit at a key the profile overrides is not
# what runs: under `dvc exp run -S` (which would record it as the setting) that stops the run,
# elsewhere it warns (memae/overrides.py).
from memae.overrides import shadowed

for _msg in shadowed(DATASETS, PROFILE, "params"):
    if "DVC_EXP_BASELINE_REV" in os.environ:
        sys.exit(f"params error: {_msg}")
    print(f"warning: {_msg}", file=sys.stderr)
# Datasets the profile does not run still get results/<dataset>/metrics.json, saying so, so that
# every DVC stage has its metrics file and the report names the reason.
UNSELECTED = [ds for ds in ALL_DATASETS if ds not in DATASETS]
DATA = PIPE["data_root"]
RESULTS = PIPE["results_root"]
SYNTHETIC = "--synthetic" if PIPE["synthetic_data"] else ""
# Training and scoring jobs use the GPU where the run declares one (`resources: gpu: N`, set by the
# profile workflow/profiles/gpu, or --resources gpu=N); otherwise (workflow/profiles/default, a
# CPU-only machine) they ask for none. Nothing imports torch to find out: the profile says so.
# Locally every job uses the first GPU and N is the number of slots it is shared in: a job of a
# small model (MNIST, CIFAR-10, KDDCUP99: they leave a large GPU mostly idle) takes one slot, so up
# to N of them run side by side; a video job takes every slot (the paper-size model wants the
# whole GPU). Under a cluster executor each job asks for one GPU of its own.
_declared = workflow.global_resources.get("gpu")
GPU_SLOTS = int(getattr(_declared, "value", _declared) or 0)
GPU = 1 if GPU_SLOTS > 0 else 0
# Datasets whose training and scoring need more memory on a cluster (resources: mem_mb).
VIDEO_DATASETS = registry.of_kind("video")


def gpus(wildcards, dataset=None):
    """The `gpu` a training or scoring job declares: one GPU under a cluster executor (--executor
    slurm), whose submit host rarely has a GPU; locally, where the run declares a GPU, one of its
    GPU_SLOTS slots, or all of them for a video dataset; else none. On a cluster without GPUs:
    --set-resources with gpu=0 for train, evaluate, train_study and evaluate_study (the grouped
    rules take theirs: like() below)."""
    ex = workflow.executor_plugin
    if ex is not None and not ex.common_settings.local_exec:
        return 1
    if not GPU:
        return 0
    ds = dataset or getattr(wildcards, "dataset", None)
    return GPU_SLOTS if ds in VIDEO_DATASETS else 1

def like(rule_name, model, runs=1):
    """Give a generated rule (train_group_<ds>_<i>, evaluate_group_..., train_dataset_<ds>, ...) what
    --set-threads and --set-resources give the rule whose work it does (`model`: train, evaluate,
    train_study or evaluate_study), so that a cluster profile names those four only (README, "On a
    SLURM cluster"); a runtime given to the model is per run, and a job of `runs` runs does them one
    after another, so it gets `runs` times as much. What is given to the generated rule by its own
    name still wins. (Snakemake keeps these settings in private attributes: pinned 9.27.1, and
    tests/test_registry.py fails if that changes.)"""
    rs, generated = workflow.resource_settings, workflow.get_rule(rule_name)
    own_threads = rs._parsed_overwrite_threads.get(rule_name)
    threads = rs._parsed_overwrite_threads.get(model)
    if threads is not None and own_threads is None:
        generated.resources["_cores"] = threads
    given = rs._parsed_overwrite_resources.get(model, {})
    generated.resources.update(given)
    runtime = given.get("runtime")
    if runtime is not None and isinstance(runtime.value, (int, float)):
        generated.resources["runtime"] = runtime.value * runs
    generated.resources.update(rs._parsed_overwrite_resources.get(rule_name, {}))


wildcard_constraints:
    dataset="[a-z0-9_]+",
    variant="[a-z0-9_]+",
    split="[a-z0-9_]+",
    seed="[0-9]+",


def runs(ds):
    """(variant, split, seed) of every run of a dataset: its variants, then its memory-size sweep
    points (memae with N items, named memae_n<N>; the params' own N is the memae run)."""
    p = PARAMS[ds]["protocol"]
    variants = list(p["variants"])
    variants += [v for _, v in sweep_points(PARAMS[ds]) if v not in variants]
    return [(v, s, k) for v in variants for s in p["splits"] for k in p["seeds"]]


def sweep_target(ds):
    """results/<ds>/sweep/metrics.json when the dataset has a memory-size sweep, else nothing."""
    return [str(sweep_path(RESULTS, ds))] if PARAMS[ds]["protocol"].get("sweep_num_items") else []


def run_files(ds, name):
    return [str(run_dir(RESULTS, ds, v, s, k) / name) for v, s, k in runs(ds)]


def train_digest(w):
    return digest(run_config(w.dataset, w.variant, w.split, int(w.seed), PARAMS[w.dataset]))


def eval_digest(w):
    return digest([train_digest(w), PARAMS[w.dataset]["eval"]])
