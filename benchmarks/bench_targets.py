"""The speed targets of the pipeline on a 2-core machine (issue 10), measured: prints each figure
next to its target. A benchmark, not a test: it asserts nothing and exits 0.

    .venv/bin/python benchmarks/bench_targets.py                 # snakemake -n (paper, quick), dvc status
    .venv/bin/python benchmarks/bench_targets.py --smoke         # + the smoke DAG in a copy of the tree (minutes),
                                                                 #   then a real no-op dvc repro there
    .venv/bin/python benchmarks/bench_targets.py --quick         # + the quick profile in a copy, data from
                                                                 #   $MEMAE_MIRROR or data/raw (~10-30 min)
    .venv/bin/python benchmarks/bench_targets.py --ci            # + `make test` (the CI suite)

Targets: quick profile <= 10 min from empty results with the data already fetched (fetch timed
apart); smoke DAG <= 2.5 min; CI <= 15 min; a no-op `dvc repro` <= 5 s; `snakemake -n` <= 2 s. The
smoke and quick runs happen in a temporary copy of the working tree, so they never touch this
checkout's data/ or results/; after them, benchmarks/bench_pipeline.py --benchmarks
<copy>/logs/benchmarks says where the time went.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TARGETS = {"snakemake -n": 2.0, "dvc repro (no-op)": 5.0, "smoke DAG": 150.0, "quick profile": 600.0,
           "CI (make test)": 900.0}


def timed(cmd: list[str], cwd: Path, env: dict | None = None, repeat: int = 1) -> tuple[float, int]:
    """Median wall seconds of `repeat` runs, and the last exit status."""
    walls, rc = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        rc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls), rc


def copy_tree(dest: Path) -> Path:
    """The working tree without its outputs and environments."""
    skip = {"data", "results", "logs", ".snakemake", ".venv", ".git"}
    shutil.copytree(ROOT, dest, ignore=lambda d, names: [n for n in names if Path(d) == ROOT and n in skip])
    return dest


def noop_dvc_repro(tree: Path, env: dict) -> tuple[str, float, int, str]:
    """A real no-op `dvc repro` in the smoke tree: made a git repository with the smoke profile
    selected, one `dvc repro` records dvc.lock (DVC reruns each stage's Snakemake target, which finds
    the runs done), then the second one, timed, has nothing to do."""
    pipe = tree / "params" / "pipeline.yaml"
    text, n = re.subn(r"(?m)^profile:.*$", "profile: smoke", pipe.read_text())
    if n != 1:   # never let the untimed first repro run another profile for real
        return ("dvc repro (no-op)", float("nan"), 1, f"{pipe}: no single top-level profile: line to set to smoke")
    pipe.write_text(text)
    genv = dict(env, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@localhost",
                GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@localhost")
    for cmd in ("git init -q", "git add -A", "git commit -qm bench", "dvc repro"):
        if subprocess.run(cmd, shell=True, cwd=tree, env=genv, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode:
            return ("dvc repro (no-op)", float("nan"), 1, f"`{cmd}` failed in the smoke tree")
    s, rc = timed(["dvc", "repro"], tree, genv, repeat=3)
    return ("dvc repro (no-op)", s, rc, "median of 3, smoke tree after a first dvc repro (every stage up to date)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--ci", action="store_true")
    ap.add_argument("--cores", default="all")
    a = ap.parse_args(argv)
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}", DVC_NO_ANALYTICS="1")
    rows = []
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (figures are wall time)")
    # The target is the paper DAG's (issue 9: the largest plan, 861 jobs); quick's is shown beside it.
    for profile in ("paper", "quick"):
        s, rc = timed(["snakemake", "-n", "--config", f"profile={profile}"], ROOT, env, repeat=3)
        rows.append(("snakemake -n" if profile == "paper" else "  snakemake -n (quick)", s, rc,
                     f"median of 3, profile {profile}, this checkout"))
    s, rc = timed(["dvc", "status"], ROOT, env, repeat=3)
    rows.append(("  dvc status", s, rc, "median of 3, this checkout: what a repro checks first "
                 "(--smoke times a real no-op repro)"))
    if a.ci:
        s, rc = timed(["make", "test"], ROOT, env)
        rows.append(("CI (make test)", s, rc, "make test"))
    for name, flag, config in (("smoke DAG", a.smoke, "profile=smoke"), ("quick profile", a.quick, "profile=quick")):
        if not flag:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            tree = copy_tree(Path(tmp) / "tree")
            note = "a copy of the tree, empty data/ and results/"
            if name == "quick profile":
                mirror = os.environ.get("MEMAE_MIRROR")
                if not mirror and (ROOT / "data" / "raw").is_dir():
                    (tree / "data").mkdir()
                    shutil.copytree(ROOT / "data" / "raw", tree / "data" / "raw", symlinks=True)
                    note += "; raw data copied from data/raw (fetch only verifies)"
                f, _ = timed(["snakemake", "--cores", a.cores, "--config", config, "--until", "prepare"], tree, env)
                rows.append(("  quick: fetch + prepare", f, 0, "apart from the target"))
            s, rc = timed(["snakemake", "--cores", a.cores, "--config", config], tree, env)
            rows.append((name, s, rc, note))
            if name == "smoke DAG" and rc == 0:
                rows.append(noop_dvc_repro(tree, env))
            print(f"{name}: where the time went:")
            subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_pipeline.py"), "--benchmarks",
                            str(tree / "logs" / "benchmarks"), "--results", str(tree / "results"),
                            "--wall", str(s)], cwd=tree)
    print(f"\n{'figure':26s} {'seconds':>9s} {'target':>8s}  {'met':4s} how")
    for name, s, rc, how in rows:
        t = TARGETS.get(name)
        met = "" if t is None else ("yes" if s <= t and rc == 0 else "no")
        print(f"{name:26s} {s:9.1f} {('' if t is None else f'{t:.0f}'):>8s}  {met:4s} {how}"
              + ("" if rc == 0 else f" (exit {rc})"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
