"""The tracked-results contract (.gitignore): every file dvc.yaml names as metrics or plots is one
git tracks, so `dvc metrics diff` and `dvc plots diff` have it at HEAD; a run's own files (models,
scores, logs other than the plotted ones) stay local."""
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent


def ignored(paths: list[str]) -> set[str]:
    """The paths .gitignore ignores (whether or not they exist or are tracked now)."""
    r = subprocess.run(["git", "check-ignore", "--no-index", "--stdin"], cwd=REPO, input="\n".join(paths),
                       capture_output=True, text=True)
    assert r.returncode in (0, 1), r.stderr
    return set(r.stdout.split())


def dvc_files() -> dict[str, list[str]]:
    """{"metrics": [...], "plots": [...]}: the files dvc.yaml declares, its foreach stages expanded."""
    doc = yaml.safe_load((REPO / "dvc.yaml").read_text())
    metrics = []
    for stage in doc["stages"].values():
        items = stage.get("foreach")
        body = stage.get("do", stage)
        for entry in body.get("metrics", []):
            path = next(iter(entry)) if isinstance(entry, dict) else entry
            if items is None:
                metrics.append(path)
            else:
                keys = items if isinstance(items, list) else list(items)
                metrics += [path.replace("${key}", k).replace("${item}", k) for k in keys]
    plots = []
    for entry in doc["plots"]:
        name, props = next(iter(entry.items())) if isinstance(entry, dict) else (entry, None)
        y = (props or {}).get("y")
        plots += list(y) if isinstance(y, dict) else [name]
    return {"metrics": metrics, "plots": plots}


def test_dvc_yaml_declares_metrics_and_plots_of_each_kind():
    files = dvc_files()
    assert "results/mnist/metrics.json" in files["metrics"] and "results/mnist/params.json" in files["metrics"]
    assert "results/mnist/studies/metrics.json" in files["metrics"]
    plots = files["plots"]
    assert any(p.endswith("/train_log.json") for p in plots)     # training curves
    assert "results/ped2/sweep/metrics.json" in plots            # the memory-size sweep
    assert "results/kddcup99/roc/memae.json" in plots             # ROC


@pytest.mark.parametrize("kind", ["metrics", "plots"])
def test_every_file_dvc_yaml_names_is_tracked(kind):
    files = dvc_files()[kind]
    assert files and not ignored(files), f"git-ignored, so missing at HEAD for dvc {kind}: {sorted(ignored(files))}"


def test_run_files_stay_local():
    local = [f"results/mnist/memae/class0/seed0/{f}" for f in ("model.pt", "scores.npz", "metrics.json",
                                                              "checkpoint.pt")]
    local += ["results/mnist/memae/class1/seed0/train_log.json", "results/mnist/ae/class0/seed0/train_log.json",
              "results/mnist/memae/class0/seed1/train_log.json",
              "results/mnist/studies/code256/memae/class0/seed0/train_log.json",
              "results/mnist/studies/code256/memae/class0/seed0/metrics.json",
              "results/mnist/roc/memae.png", "results/mnist/other.json"]
    assert ignored(local) == set(local)


def test_what_running_python_leaves_in_a_stage_dep_does_not_change_the_stage():
    # The DVC stages depend on the folders memae/ and workflow/ whole: byte code and the package's
    # install metadata in them would make every checkout's stages differ from a committed dvc.lock
    from .conftest import venv_bin
    paths = ["memae/__pycache__/train.cpython-311.pyc", "memae/data/__pycache__/mnist.cpython-312.pyc",
             "workflow/rules/__pycache__/x.pyc", "memae_repro.egg-info/PKG-INFO",
             "memae/train.py", "workflow/rules/train.smk", "memae/templates/report.html.j2"]
    r = subprocess.run([str(Path(venv_bin()) / "dvc"), "check-ignore", *paths], cwd=REPO, capture_output=True, text=True,
                       env={"DVC_NO_ANALYTICS": "1", "PATH": "/usr/bin:/bin"})
    assert r.returncode in (0, 1), r.stderr
    assert set(r.stdout.split()) == set(paths[:4])


def test_the_committed_dvc_lock_vouches_for_the_tracked_results():
    # dvc.lock records what each stage wrote when `dvc repro` last ran it; the tracked files of a
    # locked stage must be those bytes (a results file rewritten by hand, or by Snakemake outside
    # DVC, without `dvc repro` would leave the lock vouching for numbers that are not there)
    import hashlib
    lock_path = REPO / "dvc.lock"
    assert lock_path.exists(), "dvc.lock is committed (written by `dvc repro`)"
    lock = yaml.safe_load(lock_path.read_text())["stages"]
    declared = set()
    for name, stage in yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"].items():
        declared |= {f"{name}@{k}" for k in stage["foreach"]} if "foreach" in stage else {name}
    assert lock and set(lock) <= declared, set(lock) - declared
    for name, stage in lock.items():
        for out in stage["outs"]:
            path = REPO / out["path"]
            assert path.exists() and not ignored([out["path"]]), f"{name}: {out['path']} is not tracked"
            assert hashlib.md5(path.read_bytes()).hexdigest() == out["md5"], \
                f"{out['path']} is not what `dvc repro {name}` wrote: rerun it (or `dvc commit {name}` " \
                "if the file came from the same runs)"
