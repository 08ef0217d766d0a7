# Loads and validates params at start-up (an unknown key or a wrong type stops here, naming the
# file and the key) and builds the target lists.
import json
import os
import sys
from pathlib import Path

import torch

from memae.aggregate import run_dir
from memae.config import ParamsError, digest, load_params, load_pipeline
from memae.data.sources import SOURCES
from memae.train import run_config, sweep_points

unknown = set(config) - {"profile", "datasets", "studies"}
if unknown:
    sys.exit(f"unknown --config key(s): {', '.join(sorted(unknown))} "
             "(only 'profile', 'datasets' and 'studies' are read)")
# Every dataset that has a params file; the profile selects which of them run.
ALL_DATASETS = sorted(p.stem for p in Path("params").glob("*.yaml") if p.stem not in ("pipeline", "reported"))
try:
    PIPE = load_pipeline("params", config.get("profile"))
    PROFILE = PIPE["profile"]
    if "datasets" in config:  # --config datasets=[mnist,cifar10_jpeg] overrides the profile's list
        PIPE["datasets"] = config["datasets"] if isinstance(config["datasets"], list) else [config["datasets"]]
    bad = [ds for ds in PIPE["datasets"] if ds not in ALL_DATASETS]
    if bad:
        raise ParamsError(f"params/pipeline.yaml or --config: unknown dataset(s) {', '.join(bad)}; "
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
# Training and scoring jobs hold one GPU each where CUDA is present (all use the first GPU; the
# profiles cap how many run at once); on a CPU-only machine they ask for none.
GPU = 1 if torch.cuda.is_available() else 0
# Datasets whose training and scoring need more memory on a cluster (resources: mem_mb).
VIDEO_DATASETS = ("ped2", "avenue", "shanghaitech")


def gpus(wildcards):
    """GPUs a training or scoring job declares: one where CUDA is visible here, and one under a
    cluster executor (--executor slurm), whose submit host rarely has a GPU. On a cluster without
    GPUs: --set-resources train:gpu=0 evaluate:gpu=0."""
    ex = workflow.executor_plugin
    return 1 if GPU or (ex is not None and not ex.common_settings.local_exec) else 0

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
    return [f"{RESULTS}/{ds}/sweep/metrics.json"] if PARAMS[ds]["protocol"].get("sweep_num_items") else []


def run_files(ds, name):
    return [str(run_dir(RESULTS, ds, v, s, k) / name) for v, s, k in runs(ds)]


def train_digest(w):
    return digest(run_config(w.dataset, w.variant, w.split, int(w.seed), PARAMS[w.dataset]))


def eval_digest(w):
    return digest([train_digest(w), PARAMS[w.dataset]["eval"]])
