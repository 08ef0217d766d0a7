"""The workflow's slurm profile against a real SLURM cluster: a single-node cluster on loopback
(slurmctld, slurmd, slurmdbd on MariaDB, munge: tests/slurm/start_cluster.sh) runs KDDCUP99's
smoke DAG through snakemake-executor-plugin-slurm. The jobs must have run as SLURM jobs (sacct)
and give the same numbers as the same DAG run locally. Needs root and Debian's slurm-wlm,
slurmdbd, munge and mariadb-server (.ci/run installs them); skipped otherwise."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, venv_bin

pytestmark = [pytest.mark.slurm, pytest.mark.pipeline]

SCRIPTS = REPO / "tests" / "slurm"
TOOLS = ("munged", "mariadbd", "mariadb-install-db", "slurmdbd", "slurmctld", "slurmd", "sbatch",
         "sacct", "sacctmgr", "setpriv")
TARGET = "results/kddcup99/metrics.json"
CONFIG = ["--config", "profile=smoke", "datasets=[kddcup99]"]
# Jobs that must run on the submit host (localrules), never as SLURM jobs.
LOCAL_RULES = {"fetch_kddcup99", "aggregate", "sweep", "report"}
LIMIT_S = 900   # the whole cluster run; it is killed (timeout -s KILL) past this


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root to start munge, MariaDB and the SLURM daemons"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return (f"SLURM test cluster not installable here: {', '.join(missing)} missing "
                "(apt-get install slurm-wlm slurmdbd munge mariadb-server; .ci/run does)")
    conf = Path("/etc/slurm/slurm.conf")
    if conf.exists() and not conf.is_symlink():
        return f"{conf} belongs to a real SLURM installation; the test cluster would replace it"
    return None


def _copy_project(root: Path) -> None:
    """The work tree as it would be committed: tracked files and new ones git does not ignore."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, capture_output=True, check=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        src = REPO / rel
        if src.is_file() and not rel.startswith("results/"):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / rel)


def _run(cmd: list[str], cwd: Path, env: dict, limit: int) -> subprocess.CompletedProcess:
    t0 = time.monotonic()
    r = subprocess.run(["timeout", "-s", "KILL", str(limit), *cmd], cwd=cwd, env=env,
                       capture_output=True, text=True)
    if r.returncode:
        raise AssertionError(f"{' '.join(cmd)} failed ({r.returncode}; 137 = killed after {limit}s):\n"
                             f"{r.stdout[-4000:]}\n{r.stderr[-6000:]}")
    print(f"{time.monotonic() - t0:6.1f} s  {' '.join(cmd[:3])} ...")   # shown with pytest -s
    return r


def _config(root: Path) -> list[str]:
    """KDDCUP99 alone, with no studies where the pipeline has them (they name other datasets)."""
    pipeline = yaml.safe_load((root / "params/pipeline.yaml").read_text())
    return CONFIG + (["studies=[]"] if "studies" in pipeline else [])


def _planned(root: Path, env: dict) -> dict[str, int]:
    """rule -> number of jobs, from the dry run's job stats."""
    out = _run(["snakemake", "-n", TARGET, *_config(root)], root, env, 300).stdout
    stats = out[out.index("Job stats:"):].splitlines()[3:]
    planned = {}
    for line in stats:
        name, _, count = line.partition(" ")
        if name == "total":
            break
        planned[name] = int(count)
    return planned


def _numbers(root: Path) -> dict:
    """What the run computed: each run's metrics and the aggregated statistics."""
    runs = {str(p.parent.relative_to(root / "results")): json.loads(p.read_text())["metrics"]
            for p in sorted((root / "results/kddcup99").glob("*/all/seed*/metrics.json"))}
    agg = json.loads((root / TARGET).read_text())
    settings = json.loads((root / "results/kddcup99/params.json").read_text())
    return {"runs": runs, "variants": agg["variants"], "profile": agg["profile"], "settings": settings}


@pytest.fixture(scope="module")
def cluster():
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    state = Path(tempfile.mkdtemp(prefix="memae-slurm-", dir="/tmp"))  # munge must reach it
    try:
        t0 = time.monotonic()
        r = subprocess.run(["timeout", "-s", "KILL", "120", "bash", str(SCRIPTS / "start_cluster.sh"),
                            str(state)], capture_output=True, text=True, env={**os.environ, "PYTHON": sys.executable})
        print(f"{time.monotonic() - t0:6.1f} s  start_cluster.sh")
        if r.returncode:
            raise AssertionError(f"the test cluster did not start ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        facts = dict(line.split("=", 1) for line in r.stdout.split() if "=" in line)
        yield facts
    finally:
        subprocess.run(["timeout", "-s", "KILL", "60", "bash", str(SCRIPTS / "stop_cluster.sh"), str(state)])
        left = [n for n in ("slurmd", "slurmctld", "slurmdbd", "mariadbd", "munged")
                if (state / "pids" / n).exists()]
        shutil.rmtree(state, ignore_errors=True)
        assert not left, f"daemons not stopped: {left}"


def test_smoke_dag_runs_as_slurm_jobs_and_matches_a_local_run(cluster, tmp_path):
    env = {**os.environ, "PATH": f"{venv_bin()}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    env.pop("MEMAE_MIRROR", None)
    on_slurm, local = tmp_path / "slurm", tmp_path / "local"
    _copy_project(on_slurm)
    _copy_project(local)
    planned = _planned(on_slurm, env)
    assert {"fetch_kddcup99", "prepare", "aggregate"} <= set(planned), planned
    expected = {rule: n for rule, n in planned.items() if rule not in LOCAL_RULES}

    # The project's profile as a user runs it: partition and account on the command line; this
    # node has no GPU and two cores, so the jobs ask for none and one thread each.
    # Only train and evaluate are named, as the README says: the grouped jobs (train_group_<ds>_<k>,
    # evaluate_group_..., and in the smoke profile train_dataset_<ds>, evaluate_dataset_<ds>) take
    # what those two get (workflow/rules/common.smk like()); a grouped job that did not would ask the
    # GPU-less node for a GPU and never start.
    assert any(r.startswith(("train_group_", "train_dataset_")) for r in planned), planned
    jobs_rules = ["prepare", "train", "evaluate"]
    _run(["snakemake", "--workflow-profile", "workflow/profiles/slurm", TARGET,
          "--default-resources", f"slurm_account={cluster['ACCOUNT']}", f"slurm_partition={cluster['PARTITION']}",
          "--set-resources", *[f"{r}:gpu=0" for r in jobs_rules if r != "prepare"],
          *[f"{r}:mem_mb=1000" for r in jobs_rules],
          "--set-threads", *[f"{r}=1" for r in jobs_rules],
          "--jobs", cluster["CPUS"], "--slurm-init-seconds-before-status-checks", "2", *_config(on_slurm)],
         on_slurm, env, LIMIT_S)

    sacct = subprocess.run(["sacct", "-X", "-n", "-P", "-a", "--starttime", "2000-01-01",
                            "-o", "JobID,State,Account,Partition,Comment"],
                           capture_output=True, text=True, check=True).stdout
    jobs = [line.split("|") for line in sacct.splitlines() if line.strip()]
    states = {j[1] for j in jobs}
    assert states == {"COMPLETED"}, sacct
    assert {(j[2], j[3]) for j in jobs} == {(cluster["ACCOUNT"], cluster["PARTITION"])}, sacct
    per_rule: dict[str, int] = {}
    for j in jobs:
        m = re.match(r"rule_([a-z0-9_]+?)(?:_wildcards_|$)", j[4])
        assert m, f"job {j[0]} has no rule in its comment: {j[4]!r}"
        per_rule[m.group(1)] = per_rule.get(m.group(1), 0) + 1
    assert per_rule == expected, (planned, sacct)

    _run(["snakemake", "--cores", "2", TARGET, *_config(local)], local, env, LIMIT_S)

    got, want = _numbers(on_slurm), _numbers(local)
    assert len(want["runs"]) == 6 and want["profile"] == "smoke"
    smoke = yaml.safe_load((REPO / "params/kddcup99.yaml").read_text())["profiles"]["smoke"]
    assert want["settings"]["profile"] == "smoke"   # params.json: the settings that ran
    assert want["settings"]["train"]["epochs"] == smoke["train"]["epochs"]
    assert got == want

    # Without the test's gpu=0, a scoring job asks SLURM for a GPU although this host has none
    # (rule resources: gpu), which this GPU-less node refuses. The smoke profile scores KDDCUP99's
    # runs in one job (one_job_per_dataset): that job's rule is the one to force.
    scoring = next((r for r in planned if r.startswith("evaluate_dataset_")), "evaluate")
    cmd = ["timeout", "-s", "KILL", "300", "snakemake", "--workflow-profile", "workflow/profiles/slurm",
           "results/kddcup99/ae/all/seed0/metrics.json", "--forcerun", scoring,
           "--default-resources", f"slurm_account={cluster['ACCOUNT']}", f"slurm_partition={cluster['PARTITION']}",
           "--set-threads", f"{scoring}=1", *_config(on_slurm)]
    r = subprocess.run(cmd, cwd=on_slurm, env=env, capture_output=True, text=True)
    assert r.returncode != 0 and "--gpus=1" in r.stdout + r.stderr, (r.stdout + r.stderr)[-3000:]
