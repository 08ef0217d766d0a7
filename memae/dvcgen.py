"""dvc.yaml, written from the registry and the params files: DVC cannot read Python, so the lists of
datasets its stages and plots need are generated here, never kept by hand.

From memae/datasets.py (WORKFLOW_DATASETS, in registry order, and `paper_sweep`) and params/:
- stage `dataset`: one foreach item per workflow dataset, naming the params file its own starts
  from (its `like:`, itself otherwise), which the stage tracks too;
- stage `studies`: one item per dataset that has studies (memae.config.load_studies, `like:`
  followed, as the workflow reads them), likewise;
- the report's deps: every dataset's metrics file and every studies summary;
- plots: the memory-size sweep of each dataset whose spec has paper_sweep, and one ROC plot per
  dataset over its main variants (the paper profile's protocol.variants).

`make dvc` (python -m memae.dvcgen) writes dvc.yaml; `--check` exits 1 while the file differs;
tests/test_registry.py fails while the committed dvc.yaml is not what this writes. Torch-free.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from .config import load_params, load_studies
from .datasets import SPECS, WORKFLOW_DATASETS
from .layout import sweep_path

RESULTS = "results"

HEADER = """\
# Written by `make dvc` (python -m memae.dvcgen, memae/dvcgen.py) from the registry
# (memae/datasets.py) and the params files: edit those, or memae/dvcgen.py, and run `make dvc`;
# tests/test_registry.py fails while this file differs from what `make dvc` writes.
# One stage per dataset (a `foreach` over the registry's workflow datasets, memae/datasets.py),
# each running that dataset's Snakemake target (the DAG lives in workflow/, not here), plus the
# studies and the report. Editing params/kddcup99.yaml and running `dvc repro` reruns
# dataset@kddcup99, studies@kddcup99 and the report, nothing else. The profile comes from
# params/pipeline.yaml. `dvc params diff` and `dvc metrics diff` compare against git.
# A dataset the profile does not select (params/pipeline.yaml `datasets`) gets a metrics file
# saying "not run" and why; `dvc repro dataset@<name>` runs one stage. results/ped2/metrics.json waits
# for the Ped2 memory-size sweep (results/ped2/sweep/metrics.json, shown in the report).
# Each item names the params file the dataset's file starts from (`like:` in it: avenue and
# shanghaitech like ped2, cifar10_jpeg like cifar10; itself otherwise), which its stage tracks too.
# $MEMAE_SNAKEMAKE_ARGS (empty unless set) reaches every Snakemake call, e.g. a cluster:
#   MEMAE_SNAKEMAKE_ARGS="--profile mycluster --workflow-profile workflow/profiles/slurm" dvc repro
"""

STUDIES_COMMENT = """\
  # What moves the number: the studies a profile selects (params/pipeline.yaml `studies`) of each
  # dataset that declares studies (params/<dataset>.yaml `studies:`, or the file it is `like:`); the
  # summary file says "not run" when none is selected. Each study's own file is
  # results/<dataset>/studies/<name>/metrics.json.
"""

PLOTS_COMMENT = """\
# Curves for `dvc plots show` and `dvc plots diff`, drawn from the files a run wrote (one not yet
# written is skipped with a warning): loss and validation loss per epoch of seed 0's MemAE run, and
# Ped2's memory-size sweep (AUC against the number of memory items), and the ROC curve of each
# dataset's main variants (results/<dataset>/roc/<variant>.json, written by the workflow's roc rule
# from the runs' scores.npz: the curve the report draws, TPR averaged over the runs at fixed FPRs).
# git tracks every file named here (.gitignore; tests/test_tracked_results.py), so `dvc plots diff`
# compares with HEAD; the training curves are those two runs' train_log.json (the other runs' logs
# stay local).
"""

# The two training curves drawn (chosen runs, not a list of datasets: .gitignore names the same two)
LOSS_PLOTS = """\
  - results/kddcup99/memae/all/seed0/train_log.json:
      x: epoch
      y: [recon, val_recon]
  - results/mnist/memae/class0/seed0/train_log.json:
      x: epoch
      y: [recon, val_recon]
"""


def starts_from(dataset: str, params_dir: Path) -> str:
    """The params file a dataset's file starts from: its `like:`, itself when it has none. A stage
    tracks its own file and that one; memae.config follows `like:` further, so a file that is
    `like:` one that is itself `like:` another would leave the last file untracked: refused."""
    read = lambda name: yaml.safe_load((Path(params_dir) / f"{name}.yaml").read_text()) or {}
    like = read(dataset).get("like", dataset)
    if like != dataset and "like" in read(like):
        raise ValueError(f"params/{dataset}.yaml is like: {like}, which is like: {read(like)['like']}: "
                         f"dvc.yaml tracks one `like:` step; make params/{dataset}.yaml like: the file at the "
                         "end of the chain (or teach memae/dvcgen.py to track every file of the chain)")
    return like


def with_studies(params_dir: Path) -> list[str]:
    """The workflow datasets that have studies, as the workflow reads them, in registry order."""
    return [ds for ds in WORKFLOW_DATASETS if load_studies(ds, params_dir)]


def main_variants(dataset: str, params_dir: Path) -> list[str]:
    return list(load_params(dataset, "paper", params_dir)["protocol"]["variants"])


def _items(datasets: list[str], params_dir: Path) -> str:
    return "".join(f"      {ds}: {{like: {starts_from(ds, params_dir)}}}\n" for ds in datasets)


def _do(target: str, metrics: list[str]) -> str:
    """The `do:` of a foreach stage over {<dataset>: {like: <file>}}: run the dataset's Snakemake
    target; track the code, the pipeline's params, its params file and the one it starts from."""
    return ("    do:\n"
            f"      cmd: snakemake --cores all $MEMAE_SNAKEMAKE_ARGS {RESULTS}/${{key}}/{target}\n"
            "      deps:\n        - memae\n        - workflow\n"
            "      params:\n        - params/pipeline.yaml:\n        - params/${key}.yaml:\n"
            "        - params/${item.like}.yaml:\n"
            "      metrics:\n" + "".join(f"        - {RESULTS}/${{key}}/{m}:\n            cache: false\n" for m in metrics))


def render(params_dir: Path | str = "params") -> str:
    """The text of dvc.yaml for the registry and the params files in params_dir."""
    params_dir = Path(params_dir)
    studied = with_studies(params_dir)
    out = [HEADER, "stages:\n",
           "  dataset:\n    foreach:\n", _items(list(WORKFLOW_DATASETS), params_dir),
           _do("metrics.json", ["metrics.json", "params.json"]),
           STUDIES_COMMENT, "  studies:\n    foreach:\n", _items(studied, params_dir),
           _do("studies/metrics.json", ["studies/metrics.json"]),
           "  report:\n    cmd: snakemake --cores all $MEMAE_SNAKEMAKE_ARGS reports/index.html\n    deps:\n",
           *(f"      - {RESULTS}/{ds}/studies/metrics.json\n" for ds in studied),
           *(f"      - {RESULTS}/{ds}/metrics.json\n" for ds in WORKFLOW_DATASETS),
           "      - params/reported.yaml\n      - memae\n    outs:\n      - reports/index.html:\n"
           "          cache: false\n",
           PLOTS_COMMENT, "plots:\n", LOSS_PLOTS]
    for ds in WORKFLOW_DATASETS:
        if SPECS[ds].paper_sweep:
            out.append(f"  - {sweep_path(RESULTS, ds).as_posix()}:\n      x: num_items\n      y: auc\n")
    for ds in WORKFLOW_DATASETS:
        out.append(f"  - roc_{ds}:\n      title: ROC, {ds}\n      x: fpr\n      x_label: false-positive rate\n"
                   "      y_label: true-positive rate\n      y:\n")
        out += [f"        {RESULTS}/{ds}/roc/{v}.json: tpr\n" for v in main_variants(ds, params_dir)]
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m memae.dvcgen", description=__doc__.split("\n\n")[0])
    ap.add_argument("--params", default="params", help="the params folder (default: params)")
    ap.add_argument("--out", default="dvc.yaml", help="the file to write (default: dvc.yaml)")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 when the file differs")
    a = ap.parse_args(argv)
    text, out = render(a.params), Path(a.out)
    current = out.read_text() if out.exists() else None
    if a.check:
        if current != text:
            print(f"{out} differs from what `make dvc` writes (python -m memae.dvcgen): run `make dvc`",
                  file=sys.stderr)
            return 1
        return 0
    if current != text:
        out.write_text(text)
        print(f"wrote {out}")
    else:
        print(f"{out} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
