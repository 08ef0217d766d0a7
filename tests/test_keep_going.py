"""A dataset whose fetch fails does not stop the others (workflow/profiles/default: keep-going):
they run to the end, and Snakemake still exits non-zero naming the failed job, ending with one
short summary of what is missing and where to put it (workflow/Snakefile onerror, memae.missing)."""
import os
import shutil
import subprocess

import pytest

from .conftest import REPO, venv_bin

pytestmark = pytest.mark.pipeline


def test_a_failed_fetch_stops_only_its_own_dataset(tmp_path):
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, capture_output=True, check=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        if rel.startswith(("params/", "workflow/", "memae/templates/")) and (REPO / rel).is_file():
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, tmp_path / rel)
    # MNIST's source cannot be written (a file stands where `memae fetch --synthetic` puts the
    # smoke profile's mirror of it): its fetch job fails.
    (tmp_path / "data/smoke/mirror").mkdir(parents=True)
    (tmp_path / "data/smoke/mirror/mnist").write_text("not a folder\n")
    env = {**os.environ, "PATH": f"{venv_bin()}:{os.environ['PATH']}"}
    env.pop("MEMAE_MIRROR", None)
    kdd = "data/smoke/raw/kddcup99/.kddcup.data_10_percent.gz.verified"   # KDDCUP99's fetch done
    # One core, MNIST's fetch first: without keep-going nothing of KDDCUP99 would run after it.
    r = subprocess.run(["snakemake", "--cores", "1", kdd, "data/smoke/raw/mnist/.train-images-idx3-ubyte.gz.verified",
                        "--prioritize", "fetch_mnist", "--config", "profile=smoke",
                        "datasets=[mnist,kddcup99]", *(["studies=[]"] if "studies" in
                                                        (tmp_path / "params/pipeline.yaml").read_text() else [])],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out[-3000:]
    assert "fetch_mnist" in out
    assert (tmp_path / kdd).is_file(), out[-3000:]
    assert not (tmp_path / "data/smoke/raw/mnist/.train-images-idx3-ubyte.gz.verified").exists()
    # the summary: MNIST's missing files, where to put them, its log; KDDCUP99 (fetched) not in it
    head = "memae: 1 of 2 selected dataset(s) did not run:"
    assert head in out, out[-3000:]
    summary = out[out.index(head):].splitlines()
    assert summary[1].startswith("  mnist: missing data/smoke/raw/mnist/train-images-idx3-ubyte.gz, "), summary
    assert ("Fix: put train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
            "t10k-labels-idx1-ubyte.gz in data/smoke/raw/mnist/, or set MEMAE_MIRROR=<folder> holding "
            "mnist/<file>") in summary[1]
    assert "logs/fetch_mnist.log" in summary[1]
    assert summary[2].startswith("Every other dataset ran to the end.")
    assert "kddcup99:" not in "\n".join(summary[:3])
