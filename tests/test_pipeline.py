"""The whole pipeline on synthetic data (profile smoke) in a temporary git repo: DVC runs one
Snakemake target per dataset, and editing one dataset's params reruns that dataset only."""
import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from .conftest import REPO, venv_bin

pytestmark = pytest.mark.pipeline


def sh(cmd, cwd, env):
    r = subprocess.run(cmd, cwd=cwd, env=env, shell=True, capture_output=True, text=True)
    if r.returncode:
        raise AssertionError(f"`{cmd}` failed ({r.returncode}):\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}")
    return r.stdout + r.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A clone-like copy of the tracked files with profile smoke, after one full `dvc repro`."""
    root = tmp_path_factory.mktemp("project")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for rel in filter(None, tracked.decode().split("\0")):
        src = REPO / rel
        if src.is_file():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / rel)
    pipe = yaml.safe_load((root / "params/pipeline.yaml").read_text())
    pipe["profile"] = "smoke"
    (root / "params/pipeline.yaml").write_text(yaml.safe_dump(pipe, sort_keys=False))
    env = {**os.environ, "PATH": f"{venv_bin()}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    env.pop("MEMAE_MIRROR", None)
    sh("git init -q && git add -A && git commit -qm init", root, env)
    out = sh("dvc repro", root, env)
    sh("git add -A && git commit -qm 'first repro'", root, env)
    return root, env, out, pipe["profiles"]["smoke"]["datasets"]


def test_smoke_repro_produces_every_dataset_and_the_report(project):
    root, env, out, datasets = project
    for ds in datasets:
        m = json.loads((root / "results" / ds / "metrics.json").read_text())
        assert m["profile"] == "smoke" and m["variants"], ds
        for stats in m["variants"].values():
            rates = [s["mean"] for k, s in stats.items() if k in ("auc", "auc_macro", "precision", "recall", "f1")]
            assert rates and all(0.0 <= r <= 1.0 for r in rates), (ds, stats)
    html = (root / "reports/index.html").read_text()
    for title in ("Table 1", "Table 2", "Table 3", "Ablation"):
        assert title in html
    assert (root / "data/smoke/raw/mnist/train-images-idx3-ubyte.gz").exists()
    # each stage's Snakemake run printed what it trains and about how long (memae.estimate), for the
    # smoke profile's one-job-per-dataset and chunked jobs alike, and never fell back to no estimate
    assert "memae: this run trains" in out and "no time estimate" not in out, out[-3000:]


def test_snakemake_agrees_nothing_is_left_to_do(project):
    root, env, _, _ = project
    out = sh("snakemake --cores 1 -n", root, env)
    assert "Nothing to be done" in out


def test_editing_one_dataset_param_reruns_that_dataset_and_the_report_only(project):
    root, env, _, datasets = project
    mnist_metrics = root / "results/mnist/metrics.json"
    mnist_model = root / "results/mnist/memae/class0/seed0/model.pt"
    kdd_model = root / "results/kddcup99/memae/all/seed0/model.pt"
    before = {p: p.stat().st_mtime_ns for p in (mnist_metrics, mnist_model, kdd_model)}
    params = root / "params/kddcup99.yaml"
    text = params.read_text()
    assert "  lr: 0.0001\n" in text
    params.write_text(text.replace("  lr: 0.0001\n", "  lr: 0.0002\n", 1))

    status = sh("dvc status", root, env)
    assert "dataset@kddcup99" in status and not re.search(r"^dataset@mnist:", status, re.M)
    out = sh("dvc repro", root, env)
    ran = set(re.findall(r"Running stage '([^']+)'", out))
    # the KDD studies stage follows params/kddcup99.yaml too (a KDD setting can move its studies)
    assert ran == {"dataset@kddcup99", "studies@kddcup99", "report"}, out
    assert mnist_metrics.stat().st_mtime_ns == before[mnist_metrics]
    assert mnist_model.stat().st_mtime_ns == before[mnist_model]
    assert kdd_model.stat().st_mtime_ns != before[kdd_model]
    diff = sh("dvc params diff", root, env)
    assert "train.lr" in diff and "0.0002" in diff
    sh("dvc metrics diff", root, env)


def test_unknown_params_key_stops_the_run_naming_file_and_key(project, tmp_path):
    root, env, _, _ = project
    params = root / "params/mnist.yaml"
    original = params.read_text()
    try:
        params.write_text(original.replace("  epochs: 100", "  epochs: 100\n  warmup: 3", 1))
        r = subprocess.run("snakemake --cores 1 -n", cwd=root, env=env, shell=True,
                           capture_output=True, text=True)
        assert r.returncode != 0
        assert "mnist.yaml" in r.stdout + r.stderr and "train.warmup" in r.stdout + r.stderr
    finally:
        params.write_text(original)
