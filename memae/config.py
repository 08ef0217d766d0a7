"""Experiment settings: params/<dataset>.yaml and params/pipeline.yaml.

A dataset's file holds the `paper` settings at the top level and, under `profiles:`, overlays
(`quick`, `smoke`) that change a few keys. `like: <other dataset>` at the top starts from that
dataset's file (profiles included) and changes only the keys given (cifar10_jpeg is like cifar10). Every key is checked against SCHEMA: an unknown key or
a wrong type stops the run with the file and the key named.
"""
from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import yaml

PROFILES = ("paper", "quick", "smoke")
NUM = (int, float)
INT_OR_NONE = (int, type(None))
NUM_OR_NONE = (int, float, type(None))

# section -> key -> allowed types. The values themselves live in params/*.yaml.
SCHEMA: dict[str, dict[str, tuple]] = {
    "data": {"scale": (str,), "synthetic_size": (dict,),
             "frame_size": (list,), "clip_len": (int,)},     # video: [H, W] after resizing; frames per clip
    "model": {"kind": (str,), "channels": (list,), "kernels": (list,), "strides": (list,),
              "hidden": (list,), "code_dim": (int,), "activation": (str,),
              "output_activation": (str,), "init": (str,)},
    "memory": {"num_items": (int,), "shrink_thres": NUM, "addressing": (str,),
               "granularity": (str,)},
    "loss": {"entropy_weight": NUM, "l1_weight": NUM},
    "train": {"epochs": (int,), "batch_size": (int,), "lr": NUM, "weight_decay": NUM,
              "val_fraction": NUM, "max_train_samples": INT_OR_NONE,
              "clips_per_epoch": INT_OR_NONE},                    # video: clips drawn per epoch (null: all)
    "eval": {"batch_size": (int,), "anomaly_fraction": NUM_OR_NONE,
             "threshold_top_fraction": NUM_OR_NONE, "test_fraction": NUM_OR_NONE},
    "protocol": {"splits": (list,), "seeds": (list,), "variants": (list,), "description": (str,),
                 "sweep_num_items": (list,)},                     # memory sizes of the memae sweep
}
PIPELINE_SCHEMA = {"profile": (str,), "datasets": (list,), "data_root": (str,),
                   "synthetic_data": (bool,), "results_root": (str,)}


class ParamsError(ValueError):
    pass


def _read_yaml(path: Path) -> dict:
    if not path.exists():
        raise ParamsError(f"{path}: params file not found")
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ParamsError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(doc, dict):
        raise ParamsError(f"{path}: expected a mapping at the top level")
    return doc


def _check(tree: dict, schema: dict, path: Path, prefix: str = "") -> None:
    for key, value in tree.items():
        where = f"{prefix}{key}"
        if key not in schema:
            raise ParamsError(f"{path}: unknown key '{where}' (allowed here: {', '.join(schema)})")
        rule = schema[key]
        if isinstance(rule, dict):
            if not isinstance(value, dict):
                raise ParamsError(f"{path}: '{where}' must be a mapping, got {type(value).__name__}")
            _check(value, rule, path, where + ".")
        elif not isinstance(value, rule) or (isinstance(value, bool) and bool not in rule):
            names = "/".join("null" if t is type(None) else t.__name__ for t in rule)
            raise ParamsError(f"{path}: '{where}' must be {names}, got {value!r}")


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _resolve(doc: dict, schema: dict, profile: str, path: Path) -> dict:
    if profile not in PROFILES:
        raise ParamsError(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}")
    overlays = doc.pop("profiles", {}) or {}
    _check(doc, schema, path)
    for name, overlay in overlays.items():
        if name not in PROFILES:
            raise ParamsError(f"{path}: unknown profile 'profiles.{name}' (use {', '.join(PROFILES[1:])})")
        _check(overlay or {}, schema, path, f"profiles.{name}.")
    return _merge(doc, overlays.get(profile) or {}) if profile != "paper" else doc


def load_params(dataset: str, profile: str, params_dir: str | Path = "params") -> dict:
    """The settings of one dataset under one profile, validated."""
    path = Path(params_dir) / f"{dataset}.yaml"
    doc = _read_yaml(path)
    if "like" in doc:
        base = Path(params_dir) / f"{doc['like']}.yaml"
        if not base.exists():
            raise ParamsError(f"{path}: 'like: {doc['like']}' but {base} does not exist")
        doc = _merge(_read_yaml(base), {k: v for k, v in doc.items() if k != "like"})
    return _resolve(doc, SCHEMA, profile, path)


def load_pipeline(params_dir: str | Path = "params", profile: str | None = None) -> dict:
    path = Path(params_dir) / "pipeline.yaml"
    doc = _read_yaml(path)
    base_profile = doc.get("profile", "paper")
    return _resolve(doc, PIPELINE_SCHEMA, profile or base_profile, path) | {"profile": profile or base_profile}


def digest(obj) -> str:
    """A short stable hash of settings, for provenance and rerun checks."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]
