"""Where a report's numbers come from: code version, settings, data checksums, packages, devices
and the time each job took. Everything here is read from files the pipeline already wrote."""
from __future__ import annotations

import importlib.metadata
import json
import platform
import re
import subprocess
from pathlib import Path

from .config import load_params
from .datasets import SPECS
from .layout import raw_dir, run_dir, stamp_path

REPO = Path(__file__).resolve().parent.parent


def git_state(repo: Path = REPO) -> dict:
    """Commit of the working tree and whether it had uncommitted changes (None when not a git tree).

    results/ is left out: the pipeline itself writes the tracked metrics there, so a run that
    follows an aggregate would otherwise call its own code "dirty"."""
    def git(*args):
        try:
            return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None
    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--", ".", ":(exclude)results") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def package_versions(requirements: Path = REPO / "requirements.txt") -> dict[str, str]:
    """Installed version of every package pinned in requirements.txt, plus Python's."""
    versions = {"python": platform.python_version()}
    if not requirements.exists():
        return versions
    for line in requirements.read_text().splitlines():
        m = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*==", line)
        if m:
            try:
                versions[m.group(1)] = importlib.metadata.version(m.group(1))
            except importlib.metadata.PackageNotFoundError:
                versions[m.group(1)] = "not installed"
    return versions


def data_checksums(dataset: str, data_root: Path) -> list[dict]:
    """sha256 of each raw file as recorded by `memae fetch` in its `.<name>.verified` stamp."""
    rows = []
    for rf in (SPECS[dataset].files if dataset in SPECS else ()):
        stamp = stamp_path(raw_dir(data_root, dataset), rf.name)
        try:
            sha = json.loads(stamp.read_text())["sha256"]
        except (OSError, ValueError, KeyError):
            sha = None
        rows.append({"file": rf.name, "sha256": sha,
                     "kind": "of the decompressed content" if rf.content_sha256 else "of the file"})
    return rows


def jobs(results: Path, metrics: dict) -> list[dict]:
    """One row per run of a dataset: device, epochs, train and scoring wall time."""
    rows = []
    for variant in metrics["variants"]:
        for split in metrics["splits"]:
            for seed in metrics["seeds"]:
                d = run_dir(results, metrics["dataset"], variant, split, seed)
                log = _read_json(d / "train_log.json")
                ev = _read_json(d / "metrics.json")
                rows.append({"variant": variant, "split": split, "seed": seed,
                             "device": log.get("device") or ev.get("device"),
                             "torch": log.get("torch"), "epochs": len(log.get("history", [])),
                             "train_s": log.get("train_s"), "eval_s": ev.get("eval_s")})
    return rows


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _diff(paper, ours, prefix: str = "") -> list[str]:
    if isinstance(paper, dict) and isinstance(ours, dict):
        return [c for k in sorted(set(paper) | set(ours))
                for c in _diff(paper.get(k), ours.get(k), f"{prefix}{k}.")]
    if paper == ours:
        return []
    return [f"{prefix.rstrip('.')}: {_short(paper)} → {_short(ours)}"]


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def profile_changes(dataset: str, profile: str, params_dir: Path) -> list[str]:
    """What a profile changed from the paper settings of a dataset, one 'key: paper → profile' each."""
    if profile == "paper":
        return []
    try:
        return _diff(load_params(dataset, "paper", params_dir), load_params(dataset, profile, params_dir))
    except ValueError as e:
        return [f"unknown ({e})"]


def collect(results: Path, metrics: dict[str, dict], data_root: Path, params_dir: Path) -> dict:
    """Everything the report's provenance section shows."""
    per_dataset = {}
    for ds, m in metrics.items():
        rows = jobs(results, m)
        per_dataset[ds] = {
            "profile": m.get("profile"), "params_digest": m.get("params_digest"),
            "seeds": m.get("seeds"), "seeds_planned": m.get("seeds_planned"),
            "variants": sorted(m.get("variants") or {}), "variants_planned": m.get("variants_planned"), "jobs": rows,
            "devices": sorted({r["device"] for r in rows if r["device"]}),
            "torch": sorted({r["torch"] for r in rows if r["torch"]}),
            "changes": profile_changes(ds, m.get("profile", "paper"), params_dir),
            "checksums": data_checksums(ds, data_root),
            "wall_time_s": m.get("wall_time_s", {}).get("total"),
        }
    return {"git": git_state(), "packages": package_versions(), "platform": platform.platform(),
            "datasets": per_dataset}
