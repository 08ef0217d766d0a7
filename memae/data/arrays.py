"""Writing prepared arrays atomically, and the summary file every prepared folder has."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np


def atomic_dir(out: Path) -> Path:
    """A fresh temporary sibling of out; call commit_dir(tmp, out) when everything is written."""
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def commit_dir(tmp: Path, out: Path) -> None:
    out = Path(out)
    if out.exists():
        old = out.with_name(out.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old)
    else:
        os.replace(tmp, out)


def write_json(path: Path, obj) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def save(tmp: Path, **arrays: np.ndarray) -> None:
    for name, a in arrays.items():
        np.save(tmp / f"{name}.npy", a)


def write_prepared(out: Path, summary: dict, **arrays: np.ndarray) -> dict:
    """Write arrays and summary.json into a fresh temporary folder, then rename it to out."""
    tmp = atomic_dir(out)
    save(tmp, **arrays)
    write_json(tmp / "summary.json", summary)
    commit_dir(tmp, out)
    return summary


def load(prepared: Path, name: str, mmap: bool = True) -> np.ndarray:
    path = Path(prepared) / f"{name}.npy"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `memae prepare` for this dataset first")
    return np.load(path, mmap_mode="r" if mmap else None)
