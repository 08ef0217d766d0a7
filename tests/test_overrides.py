"""A paper value changed at a key the active profile overrides does not run: `dvc exp run -S` on
it stops with a message naming the profile's key (it would otherwise record a setting that never
ran); outside an experiment the workflow warns."""
import subprocess

import pytest
import yaml

from memae.overrides import shadowed

from .conftest import git_copy


def _set(path, old, new):
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def test_a_changed_paper_value_under_an_overriding_profile_is_named(tmp_path):
    env = git_copy(tmp_path, ("params/",))
    raw = yaml.safe_load((tmp_path / "params/kddcup99.yaml").read_text())
    quick_epochs = raw["profiles"]["quick"]["train"]["epochs"]
    assert quick_epochs != 50 and "lr" not in raw["profiles"]["quick"].get("train", {})
    f = tmp_path / "params/kddcup99.yaml"
    _set(f, f"  epochs: {raw['train']['epochs']}\n", "  epochs: 50\n")
    _set(f, f"  lr: {raw['train']['lr']}\n", "  lr: 0.0002\n")   # not overridden: it runs

    found = shadowed(["kddcup99", "mnist"], "quick", tmp_path / "params")
    assert len(found) == 1, found
    assert "train.epochs" in found[0] and f"profiles.quick.train.epochs = {quick_epochs}" in found[0]
    assert shadowed(["kddcup99"], "paper", tmp_path / "params") == []   # the paper profile uses it
    subprocess.run("git commit -qam 'paper epochs 50'", cwd=tmp_path, env=env, shell=True, check=True)
    assert shadowed(["kddcup99"], "quick", tmp_path / "params") == []   # the baseline is the commit


@pytest.mark.pipeline
def test_dvc_exp_run_set_on_an_overridden_key_fails_and_plain_snakemake_warns(tmp_path):
    env = git_copy(tmp_path, ("params/", "workflow/", "memae/", "dvc.yaml", ".dvc/", ".dvcignore", ".gitignore"))
    _set(tmp_path / "params/pipeline.yaml", "\nprofile: paper\n", "\nprofile: smoke\n")
    subprocess.run("git commit -qam smoke", cwd=tmp_path, env=env, shell=True, check=True)

    r = subprocess.run(["dvc", "exp", "run", "dataset@kddcup99", "--single-item", "-S",
                        "params/kddcup99.yaml:train.epochs=50"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "params error" in out and "profiles.smoke.train.epochs" in out, out

    subprocess.run("git checkout -q -- params && git status --short", cwd=tmp_path, env=env, shell=True, check=True)
    _set(tmp_path / "params/kddcup99.yaml", "  epochs: 200\n", "  epochs: 50\n")
    r = subprocess.run(["snakemake", "-n", "results/kddcup99/metrics.json"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "warning: params/kddcup99.yaml: train.epochs changed from 200 to 50" in r.stderr
