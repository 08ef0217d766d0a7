"""A DVC experiment records what ran: `dvc exp run -S` on a key the active profile does not
override (train.lr under smoke) changes the settings that run, and `dvc exp show --json` shows the
new value in the experiment's params, in the settings that ran (results/kddcup99/params.json,
tracked by dvc.yaml as metrics) and in what the training itself recorded (seed 0's MemAE
train_log.json, committed with the experiment), next to metrics that differ from the baseline
experiment's. The failing case (-S on a key the profile overrides) is tests/test_overrides.py."""
import json
import subprocess

import pytest
import yaml

from .conftest import git_copy

pytestmark = pytest.mark.pipeline

PARAMS = "params/kddcup99.yaml"
NEW_LR = 0.01


def dvc(root, env, *args):
    r = subprocess.run(["dvc", *args], cwd=root, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"dvc {' '.join(args)} failed ({r.returncode}):\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    return r.stdout


def experiments(show: list) -> dict:
    """name -> data of each experiment in `dvc exp show --json` (DVC 3: a list of rows, the
    workspace and then each commit, a commit's experiments under `experiments`: groups whose
    `revs` hold the experiments, each with its `name`, `rev` and `data`: params, metrics)."""
    found = {}
    for row in show:
        for group in row.get("experiments") or []:
            for rev in group["revs"]:
                assert rev.get("error") is None, rev
                found[rev["name"]] = {"rev": rev["rev"], **rev["data"]}
    return found


def test_dvc_exp_run_set_records_the_value_that_ran_and_the_metrics_move(tmp_path):
    root = tmp_path
    env = git_copy(root, ("params/", "workflow/", "memae/", "dvc.yaml", ".dvc/", ".dvcignore", ".gitignore"))
    pipeline = root / "params/pipeline.yaml"
    text = pipeline.read_text()
    assert text.count("\nprofile: paper\n") == 1
    pipeline.write_text(text.replace("\nprofile: paper\n", "\nprofile: smoke\n"))
    subprocess.run("git commit -qam smoke", cwd=root, env=env, shell=True, check=True)
    raw = yaml.safe_load((root / PARAMS).read_text())
    old_lr = raw["train"]["lr"]
    assert old_lr != NEW_LR and "lr" not in raw["profiles"]["smoke"].get("train", {})

    dvc(root, env, "exp", "run", "-n", "base", "dataset@kddcup99")
    dvc(root, env, "exp", "run", "-n", "lr", "-S", f"{PARAMS}:train.lr={NEW_LR}", "dataset@kddcup99")
    exps = experiments(json.loads(dvc(root, env, "exp", "show", "--json")))
    assert {"base", "lr"} <= exps.keys(), list(exps)
    base, exp = exps["base"], exps["lr"]

    for e, lr in ((base, old_lr), (exp, NEW_LR)):
        # what the experiment records as its setting
        assert e["params"][PARAMS]["data"]["train"]["lr"] == lr
        assert e["params"]["params/pipeline.yaml"]["data"]["profile"] == "smoke"
        # the settings that ran, resolved after the profile's overlay (a dvc metrics file)
        ran = e["metrics"]["results/kddcup99/params.json"]["data"]
        assert ran["profile"] == "smoke" and ran["train"]["lr"] == lr, ran
        assert ran["train"]["epochs"] == raw["profiles"]["smoke"]["train"]["epochs"]   # the overlay did apply
        assert e["metrics"]["results/kddcup99/metrics.json"]["data"]["profile"] == "smoke"

    # the metrics moved: every variant's AUC (continuous, unlike F1 at a fixed fraction) differs from the baseline experiment's
    before = base["metrics"]["results/kddcup99/metrics.json"]["data"]["variants"]
    after = exp["metrics"]["results/kddcup99/metrics.json"]["data"]["variants"]
    assert before.keys() == after.keys() and before
    for variant in before:
        assert after[variant]["auc"]["mean"] != before[variant]["auc"]["mean"], (variant, before, after)

    # what the training itself used, as committed with each experiment
    for e, lr in ((base, old_lr), (exp, NEW_LR)):
        log = subprocess.run(["git", "show", f"{e['rev']}:results/kddcup99/memae/all/seed0/train_log.json"],
                             cwd=root, env=env, capture_output=True, text=True, check=True).stdout
        assert json.loads(log)["config"]["train"]["lr"] == lr
