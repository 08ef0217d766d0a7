"""Where the pipeline's time goes: reads the `benchmark:` files that Snakemake writes for every job
(logs/benchmarks/<rule>/<dataset>/...tsv) and prints time per rule and per dataset, and the
job-start overhead of training and scoring jobs: a job's wall time minus the time its own code
measured (train_log.json train_s, metrics.json eval_s), i.e. process start, imports, data loading
and writing.

    .venv/bin/python benchmarks/bench_pipeline.py                       # after a snakemake run
    .venv/bin/python benchmarks/bench_pipeline.py --wall 1640 --cores 2 # with the run's wall time

A benchmark file is rewritten when its job reruns, so after an incremental run the figures mix runs;
clear logs/benchmarks/ before a run to be measured.
"""
from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path


def read_tsv(path: Path) -> dict:
    with open(path) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows:
        return {}
    row = rows[-1]

    def num(key):
        try:
            return float(row.get(key, "nan"))
        except ValueError:
            return float("nan")
    return {"s": num("s"), "cpu_time": num("cpu_time"), "max_rss": num("max_rss")}


def jobs(root: Path) -> list[dict]:
    """One entry per benchmark file: rule, dataset, the rest of the path (variant/split/seed)."""
    out = []
    for path in sorted(root.rglob("*.tsv")):
        rel = path.relative_to(root).with_suffix("")
        parts = rel.parts
        rule = parts[0]
        dataset = parts[1] if len(parts) > 2 else (
            parts[1] if rule in ("aggregate", "sweep", "fetch", "prepare", "train_dataset", "evaluate_dataset")
            else "-")
        b = read_tsv(path)
        if b:
            out.append({"rule": rule, "dataset": dataset, "rest": parts[2:], **b})
    return out


def inner_time(job: dict, results: Path) -> float | None:
    """Seconds the job's own code measured, where it records them."""
    rest = job["rest"]
    if job["rule"] == "train" and len(rest) == 3:
        log = results / job["dataset"] / Path(*rest) / "train_log.json"
        return json.loads(log.read_text())["train_s"] if log.exists() else None
    if job["rule"] == "evaluate" and len(rest) == 3:
        m = results / job["dataset"] / Path(*rest) / "metrics.json"
        return json.loads(m.read_text()).get("eval_s") if m.exists() else None
    if job["rule"] in ("train_dataset", "evaluate_dataset"):   # every main run of the dataset
        name, key = ("train_log.json", "train_s") if job["rule"] == "train_dataset" else ("metrics.json", "eval_s")
        files = sorted((results / job["dataset"]).glob(f"*/*/seed*/{name}"))
        return sum(json.loads(f.read_text()).get(key, 0.0) for f in files) if files else None
    return None


def group_pairs(group_jobs: list[dict], results: Path, name: str, key: str) -> list[tuple[float, float, int]]:
    """(job seconds, seconds measured inside, jobs) of the chunk jobs of one kind (train_group,
    evaluate_group), per dataset x variant: a chunk's benchmark file names it by number only, so the
    time measured inside is summed over the variant's runs (`name`: the file that records it as
    `key`), all of which chunk jobs ran."""
    by = {}
    for j in group_jobs:
        if len(j["rest"]) == 2:
            by.setdefault((j["dataset"], j["rest"][0]), []).append(j["s"])
    out = []
    for (ds, variant), walls in by.items():
        files = list((results / ds / variant).glob(f"*/seed*/{name}"))
        if files:
            out.append((sum(walls), sum(json.loads(p.read_text()).get(key, 0.0) for p in files), len(walls)))
    return out


def table(rows: list[list], header: list[str]) -> str:
    cells = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in cells)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benchmarks", type=Path, default=Path("logs/benchmarks"))
    ap.add_argument("--results", type=Path, default=Path("results"))
    ap.add_argument("--wall", type=float, help="wall seconds of the whole snakemake run")
    ap.add_argument("--cores", type=int, default=2, help="cores it ran on (with --wall)")
    a = ap.parse_args(argv)
    js = jobs(a.benchmarks)
    if not js:
        print(f"no benchmark files under {a.benchmarks}: run snakemake first")
        return 1
    by_rule, by_ds = defaultdict(list), defaultdict(list)
    for j in js:
        by_rule[j["rule"]].append(j)
        by_ds[j["dataset"]].append(j)
    total = sum(j["s"] for j in js)
    rows = []
    for rule, g in sorted(by_rule.items(), key=lambda kv: -sum(j["s"] for j in kv[1])):
        s = sum(j["s"] for j in g)
        rows.append([rule, len(g), f"{s:.1f}", f"{s / len(g):.2f}", f"{sum(j['cpu_time'] for j in g):.1f}",
                     f"{100 * s / total:.0f}%", f"{max(j['max_rss'] for j in g):.0f}"])
    print("per rule (job wall seconds, summed over jobs; cpu = the job's CPU seconds)")
    print(table(rows, ["rule", "jobs", "wall s", "mean s", "cpu s", "share", "max RSS MB"]))
    rows = []
    for ds, g in sorted(by_ds.items(), key=lambda kv: -sum(j["s"] for j in kv[1])):
        per = defaultdict(float)
        for j in g:
            per[j["rule"]] += j["s"]
        rows.append([ds, len(g), f"{sum(per.values()):.1f}",
                     ", ".join(f"{r} {s:.0f}" for r, s in sorted(per.items(), key=lambda kv: -kv[1]))])
    print("\nper dataset")
    print(table(rows, ["dataset", "jobs", "wall s", "by rule (s)"]))
    rows, over_all = [], 0.0
    for rule in ("train", "train_group", "train_dataset", "evaluate", "evaluate_group", "evaluate_dataset"):
        if rule == "train_group":
            pairs = group_pairs(by_rule.get(rule, []), a.results, "train_log.json", "train_s")
        elif rule == "evaluate_group":
            pairs = group_pairs(by_rule.get(rule, []), a.results, "metrics.json", "eval_s")
        else:
            pairs = [(j["s"], inner_time(j, a.results), 1) for j in by_rule.get(rule, [])]
        pairs = [(s, t, n) for s, t, n in pairs if t is not None]
        if not pairs:
            continue
        over, n_jobs = sum(s - t for s, t, _ in pairs), sum(n for _, _, n in pairs)
        over_all += over
        rows.append([rule, n_jobs, f"{sum(s for s, _, _ in pairs):.1f}", f"{sum(t for _, t, _ in pairs):.1f}",
                     f"{over:.1f}", f"{over / n_jobs:.2f}"])
    if rows:
        print("\njob-start overhead (job wall minus the time its code measured: process start, "
              "imports, data loading, writing)")
        print(table(rows, ["rule", "jobs", "job s", "inside s", "overhead s", "per job s"]))
    print(f"\nall jobs: {len(js)} jobs, {total:.1f} job-seconds")
    if a.wall:
        busy = total / a.cores
        print(f"run wall {a.wall:.0f} s on {a.cores} cores: jobs fill {busy:.0f} s of it; the other "
              f"{a.wall - busy:.0f} s ({100 * (a.wall - busy) / a.wall:.0f}%) is Snakemake start-up "
              "(parsing, DAG), scheduling gaps and idle cores on the critical path")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
