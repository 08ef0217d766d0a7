# Loads and validates params at start-up (an unknown key or a wrong type stops here, naming the
# file and the key) and builds the target lists.
import sys

from memae.aggregate import run_dir
from memae.config import ParamsError, digest, load_params, load_pipeline
from memae.data.sources import SOURCES
from memae.train import run_config

try:
    PIPE = load_pipeline("params", config.get("profile"))
    PROFILE = PIPE["profile"]
    PARAMS = {ds: load_params(ds, PROFILE) for ds in PIPE["datasets"]}
except ParamsError as e:
    sys.exit(f"params error: {e}")
unknown = set(config) - {"profile"}
if unknown:
    sys.exit(f"unknown --config key(s): {', '.join(sorted(unknown))} (only 'profile' is read)")

DATASETS = PIPE["datasets"]
DATA = PIPE["data_root"]
RESULTS = PIPE["results_root"]
SYNTHETIC = "--synthetic" if PIPE["synthetic_data"] else ""


def runs(ds):
    p = PARAMS[ds]["protocol"]
    return [(v, s, k) for v in p["variants"] for s in p["splits"] for k in p["seeds"]]


def run_files(ds, name):
    return [str(run_dir(RESULTS, ds, v, s, k) / name) for v, s, k in runs(ds)]


def train_digest(w):
    return digest(run_config(w.dataset, w.variant, w.split, int(w.seed), PARAMS[w.dataset]))


def eval_digest(w):
    return digest([train_digest(w), PARAMS[w.dataset]["eval"]])
