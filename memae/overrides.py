"""Changed settings that the active profile hides.

A dataset's file holds the paper's values at the top level and each profile's overlay under
`profiles:`. `dvc exp run -S params/kddcup99.yaml:train.epochs=50` changes the top-level value;
under the quick profile, whose overlay sets train.epochs: 30, the run still trains 30 epochs while
the experiment records 50. shadowed() finds such changes: top-level values that differ from the
baseline commit (the experiment's, else HEAD) at a key the profile's overlay sets."""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import yaml

from .config import _dataset_doc


def _leaves(tree: dict, prefix: str = "") -> dict[str, object]:
    out = {}
    for key, value in (tree or {}).items():
        if isinstance(value, dict) and value:
            out.update(_leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _files(doc_dir: Path, dataset: str) -> list[str]:
    """The params files a dataset's settings come from: its own, and the one it is `like:`."""
    names = [f"{dataset}.yaml"]
    try:
        like = (yaml.safe_load((doc_dir / names[0]).read_text()) or {}).get("like")
    except (OSError, yaml.YAMLError, AttributeError):
        like = None
    return names + ([f"{like}.yaml"] if isinstance(like, str) else [])


def _at_rev(params_dir: Path, names: list[str], rev: str, dest: Path) -> bool:
    """Write params_dir/<name> as committed at rev into dest; False when git cannot tell."""
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=params_dir, capture_output=True, text=True)
    if top.returncode:
        return False
    rel = params_dir.resolve().relative_to(Path(top.stdout.strip()).resolve())
    for name in names:
        r = subprocess.run(["git", "show", f"{rev}:{(rel / name).as_posix()}"], cwd=params_dir,
                           capture_output=True, text=True)
        if r.returncode:
            return False
        (dest / name).write_text(r.stdout)
    return True


def shadowed(datasets: list[str], profile: str, params_dir: str | Path = "params",
             baseline: str | None = None) -> list[str]:
    """One message per top-level value changed since `baseline` (default: $DVC_EXP_BASELINE_REV,
    else HEAD) that `profile`'s overlay replaces, so the run does not use it."""
    if profile == "paper":
        return []
    params_dir = Path(params_dir)
    rev = baseline or os.environ.get("DVC_EXP_BASELINE_REV") or "HEAD"
    found = []
    for ds in datasets:
        names = _files(params_dir, ds)
        with tempfile.TemporaryDirectory() as tmp:
            if not _at_rev(params_dir, names, rev, Path(tmp)):
                continue
            try:
                now, _ = _dataset_doc(ds, params_dir)
                then, _ = _dataset_doc(ds, tmp)
            except ValueError:
                continue   # a broken file is reported by load_params, naming it
        overlay = _leaves((now.get("profiles") or {}).get(profile) or {})
        top_now = _leaves({k: v for k, v in now.items() if k != "profiles"})
        top_then = _leaves({k: v for k, v in then.items() if k != "profiles"})
        for key, used in overlay.items():
            if key in top_now and top_now[key] != top_then.get(key):
                found.append(
                    f"params/{ds}.yaml: {key} changed from {top_then.get(key)!r} to {top_now[key]!r} "
                    f"(the paper profile's value), but profile {profile} sets profiles.{profile}.{key} "
                    f"= {used!r}, so the run uses {used!r}. Change profiles.{profile}.{key} instead, "
                    f"e.g. dvc exp run -S 'params/{ds}.yaml:profiles.{profile}.{key}={top_now[key]}'")
    return found
