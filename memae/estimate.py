"""How long a workflow run will take on this device: printed at its start (workflow/Snakefile
onstart), from the training jobs it will run and benchmark figures of seconds per epoch.

Figures, in order of preference:
1. measured here: Snakemake's benchmark files of finished training jobs (logs/benchmarks/train/
   and train_group/) whose runs have the settings that run now (the run's train_log.json records
   its config digest, epochs and device): seconds per epoch per run;
2. the committed table memae/epoch_seconds.tsv (dataset x profile x variant glob x device), each
   row with where it came from.

Training only (scoring adds minutes per dataset); each run trains on one thread, so on a CPU the
runs share the cores (wall time = core time / cores), and on a GPU they hold it one at a time.
Torch-free: the device is found with `nvidia-smi -L` (or MEMAE_DEVICE=cpu|gpu), never by
importing torch.
"""
from __future__ import annotations

import csv
import fnmatch
import json
import os
import shutil
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

TABLE = Path(__file__).with_name("epoch_seconds.tsv")
DAY = 86400.0


@dataclass(frozen=True)
class Figure:
    dataset: str
    profile: str
    variant: str          # a glob: *, memae*, ae
    device: str           # cpu or gpu
    seconds_per_epoch: float
    source: str


@dataclass(frozen=True)
class Work:
    """Training runs of one dataset and variant that a workflow run will do."""
    dataset: str
    variant: str
    runs: int
    epochs: int


def load_table(path: str | Path = TABLE) -> list[Figure]:
    path = Path(path)
    if not path.is_file():
        return []
    lines = [ln for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return [Figure(r["dataset"], r["profile"], r["variant"], r["device"], float(r["seconds_per_epoch"]),
                   r["source"]) for r in csv.DictReader(lines, delimiter="\t")]


def device() -> str:
    """'gpu' when a CUDA GPU is visible (what training will use), else 'cpu'; MEMAE_DEVICE overrides."""
    forced = os.environ.get("MEMAE_DEVICE", "").strip().lower()
    if forced in ("cpu", "gpu"):
        return forced
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return "cpu"
    exe = shutil.which("nvidia-smi")
    if not exe:
        return "cpu"
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "cpu"
    return "gpu" if "GPU" in out else "cpu"


def _bench_seconds(path: Path) -> float | None:
    """The wall seconds (column `s`) of a Snakemake benchmark file."""
    try:
        rows = list(csv.DictReader(path.read_text().splitlines(), delimiter="\t"))
        return float(rows[0]["s"]) if rows else None
    except (OSError, KeyError, ValueError):
        return None


def measured(bench: str | Path, results: str | Path, profile: str,
             current: Callable[[str, str, str, int], str],
             chunks: dict[str, list[tuple[list[str], list[int]]]] | None = None) -> list[Figure]:
    """Seconds per epoch per run measured by the benchmark files of finished training jobs whose
    run has the settings that run now (current(dataset, variant, split, seed) is that run's config
    digest). chunks: the splits and seeds of each train_group job, per dataset (index = the job's
    number). One figure per dataset x variant x device: the median over its jobs."""
    from .layout import run_dir
    bench, per = Path(bench), {}

    def add(ds, variant, runs, seconds):
        total_epochs, dev = 0, None
        for split, k in runs:
            try:
                log = json.loads((run_dir(results, ds, variant, split, k) / "train_log.json").read_text())
                if log.get("config_digest") != current(ds, variant, split, k):
                    return
                total_epochs += int(log["epochs"])
                dev = "gpu" if str(log.get("device", "")).startswith("cuda") else "cpu"
            except (OSError, ValueError, KeyError, TypeError):
                return
        if total_epochs and seconds:
            per.setdefault((ds, variant, dev), []).append(seconds / total_epochs)

    for f in sorted((bench / "train").glob("*/*/*/seed*.tsv")):
        ds, variant, split = f.parts[-4:-1]
        add(ds, variant, [(split, int(f.stem[4:]))], _bench_seconds(f))
    for f in sorted((bench / "train_group").glob("*/*/*.tsv")):
        ds, variant = f.parts[-3:-1]
        ds_chunks = (chunks or {}).get(ds, [])
        i = int(f.stem) if f.stem.isdigit() else -1
        if 0 <= i < len(ds_chunks):
            add(ds, variant, [(s, k) for s in ds_chunks[i][0] for k in ds_chunks[i][1]], _bench_seconds(f))
    return [Figure(ds, profile, v, dev, statistics.median(xs),
                   f"measured here: median of {len(xs)} benchmarked training job(s) (logs/benchmarks/)")
            for (ds, v, dev), xs in sorted(per.items())]


def figure(figures: list[Figure], dataset: str, profile: str, variant: str, dev: str) -> Figure | None:
    """The first figure that fits (measured ones come first in `figures`)."""
    for f in figures:
        if (f.dataset, f.profile, f.device) == (dataset, profile, dev) and fnmatch.fnmatchcase(variant, f.variant):
            return f
    return None


@dataclass
class Line:
    dataset: str
    runs: int
    run_epochs: int           # sum over runs of their epochs
    seconds: float | None     # core-seconds (cpu) or GPU-seconds; None: no figure
    sources: list[str]


@dataclass
class Estimate:
    profile: str
    device: str
    cores: int
    lines: list[Line]

    @property
    def known_seconds(self) -> float:
        return sum(ln.seconds for ln in self.lines if ln.seconds is not None)

    @property
    def wall_seconds(self) -> float:
        """Training time: core time spread over the cores (cpu), or one job at a time (gpu)."""
        return self.known_seconds / max(1, self.cores) if self.device == "cpu" else self.known_seconds

    @property
    def unknown(self) -> list[str]:
        return [ln.dataset for ln in self.lines if ln.seconds is None]


def estimate(work: list[Work], figures: list[Figure], profile: str, dev: str, cores: int) -> Estimate:
    by_ds: dict[str, Line] = {}
    for w in work:
        ln = by_ds.setdefault(w.dataset, Line(w.dataset, 0, 0, 0.0, []))
        ln.runs += w.runs
        ln.run_epochs += w.runs * w.epochs
        f = figure(figures, w.dataset, profile, w.variant, dev)
        if f is None:
            ln.seconds = None
        elif ln.seconds is not None:
            ln.seconds += w.runs * w.epochs * f.seconds_per_epoch
        if f is not None and f.source not in ln.sources:
            ln.sources.append(f.source)
    return Estimate(profile, dev, cores, list(by_ds.values()))


def duration(seconds: float) -> str:
    if seconds >= 2 * DAY:
        return f"{seconds / DAY:.0f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f} hours"
    if seconds >= 120:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.0f} s"


def render(e: Estimate, video: tuple[str, ...] = ()) -> str:
    """The text printed at the start of a workflow run."""
    if not e.lines:
        return ""
    where = f"{e.cores} CPU core(s)" if e.device == "cpu" else "the GPU"
    out = [f"memae: this run trains {sum(ln.runs for ln in e.lines)} run(s), profile {e.profile}, on {where}:"]
    for ln in e.lines:
        t = "no benchmark figure for this device" if ln.seconds is None else \
            f"about {duration(ln.seconds)} of {'one core' if e.device == 'cpu' else 'GPU'}"
        out.append(f"  {ln.dataset}: {ln.runs} run(s), {ln.run_epochs} epochs in all: {t}")
    if e.known_seconds:
        out.append(f"  estimated training time: about {duration(e.wall_seconds)}"
                   + (f" ({duration(e.known_seconds)} of one core over {e.cores} cores, idle)" if e.device == "cpu" else "")
                   + (f"; not counted: {', '.join(e.unknown)}" if e.unknown else "")
                   + ". Figures: memae/epoch_seconds.tsv and logs/benchmarks/.")
    slow_video = [ln.dataset for ln in e.lines if ln.dataset in video and e.device == "cpu" and e.profile == "paper"]
    if slow_video:
        out.append(f"  The video datasets ({', '.join(slow_video)}) at paper size on a CPU would take days: use "
                   "--config profile=quick (or leave them out: --config 'datasets=[mnist,kddcup99]'), "
                   "or a GPU (--workflow-profile workflow/profiles/gpu).")
    elif e.device == "cpu" and e.wall_seconds > DAY:
        out.append("  That is more than a day on this CPU: use --config profile=quick, or a GPU "
                   "(--workflow-profile workflow/profiles/gpu).")
    return "\n".join(out)
