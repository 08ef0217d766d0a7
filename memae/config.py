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
import math
import re
from pathlib import Path

import yaml

from .datasets import MODULES
from .variants import VARIANTS

PROFILES = ("paper", "quick", "smoke")
NUM = (int, float)
INT_OR_NONE = (int, type(None))
NUM_OR_NONE = (int, float, type(None))

# section -> key -> allowed types. The values themselves live in params/*.yaml.
SCHEMA: dict[str, dict[str, tuple]] = {
    "data": {"scale": (str,), "synthetic_size": (dict,),
             "frame_size": (list,), "clip_len": (int,)},     # video: [H, W] after resizing; frames per clip
    "model": {"kind": (str,), "channels": (list,), "kernels": (list,), "strides": (list,),
              "encoder": (list,), "decoder": (list,),   # conv layers written out: see LAYER_KEYS
              "hidden": (list,), "code_dim": (int,), "activation": (str,),
              "output_activation": (str,), "init": (str,)},
    "memory": {"num_items": (int,), "shrink_thres": NUM, "addressing": (str,),
               "granularity": (str,)},
    "loss": {"entropy_weight": NUM, "l1_weight": NUM},
    "train": {"epochs": (int,), "batch_size": (int,), "lr": NUM, "weight_decay": NUM,
              "val_fraction": NUM, "max_train_samples": INT_OR_NONE,
              "clips_per_epoch": INT_OR_NONE,                     # video: clips drawn per epoch (null: all)
              "group_seeds": (bool, int),  # several runs per training job (memae train-group)
              "precision": (str,)},      # auto | fp32 | bf16 (memae/device.py); unset: bf16 on CUDA only
    "eval": {"batch_size": (int,), "anomaly_fraction": NUM_OR_NONE,
             "threshold_top_fraction": NUM_OR_NONE, "test_fraction": NUM_OR_NONE,
             "clip_error": (str,),              # video: mse | l2 | official (see CLIP_ERRORS)
             "threshold_population": (str,)},   # KDD: test | train_test (see THRESHOLD_POPULATIONS)
    "protocol": {"splits": (list,), "seeds": (list,), "variants": (list,), "description": (str,),
                 "sweep_num_items": (list,)},                     # memory sizes of the memae sweep
}
# One conv layer of model.encoder / model.decoder: Conv(kernel, stride, channels) as the paper
# writes it; padding defaults to kernel // 2, output_padding (decoder only) to 0.
LAYER_KEYS = {"channels": (int,), "kernel": (int, list), "stride": (int, list),
              "padding": (int, list), "output_padding": (int, list)}
CLIP_ERRORS = ("mse", "l2", "official")
THRESHOLD_POPULATIONS = ("test", "train_test")
# A study: a named change of one dataset's settings (`set`), optionally run shortened (`shorten`,
# applied to both the study and its baseline, so the comparison stays like for like).
STUDY_KEYS = {"description": (str,), "set": (dict,), "shorten": (dict,)}
PIPELINE_SCHEMA = {"profile": (str,), "datasets": (list,), "data_root": (str,),
                   "synthetic_data": (bool,), "results_root": (str,),
                   "studies": (list,)}   # "<dataset>:<study>" or "<dataset>:all"

# Checked on a dataset's settings after the profile overlay is merged: every key in REQUIRED must be
# present, and every value in RANGES must pass its test (key path -> (test, allowed values in words)).
# A type error is caught by SCHEMA first, so the tests here see the declared types (or null).
REQUIRED = ("model.kind", "model.activation", "model.output_activation",
            "memory.num_items", "memory.shrink_thres", "memory.addressing", "memory.granularity",
            "loss.entropy_weight", "loss.l1_weight",
            "train.epochs", "train.batch_size", "train.lr", "train.weight_decay", "train.val_fraction",
            "train.max_train_samples", "eval.batch_size",
            "protocol.splits", "protocol.seeds", "protocol.variants", "protocol.description")
REQUIRED_BY_KIND = {"mlp": ("model.hidden", "model.code_dim")}   # conv: encoder/decoder or the short form
CONV_SHORT_FORM = ("channels", "kernels", "strides")


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _pos_ints(xs) -> bool:
    return bool(xs) and all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in xs)


def _names(xs) -> bool:
    return bool(xs) and all(isinstance(x, str) and NAME.fullmatch(x) for x in xs)


def _fraction(x) -> bool:   # null, or strictly between 0 and 1
    return x is None or (_finite(x) and 0 < x < 1)


NAME = re.compile(r"[a-z0-9_]+")   # what the workflow's wildcards accept (splits, variants)
RANGES: dict[str, tuple] = {
    "model.kind": (lambda x: x in ("conv", "mlp"), "conv or mlp"),
    "memory.addressing": (lambda x: x in ("dot", "cosine"), "dot or cosine"),
    "memory.granularity": (lambda x: x in ("position", "image"), "position or image"),
    "data.scale": (lambda x: x in ("unit", "symmetric"), "unit or symmetric"),
    "train.epochs": (lambda x: x >= 1, "an integer >= 1"),
    "train.batch_size": (lambda x: x >= 1, "an integer >= 1"),
    "train.lr": (lambda x: _finite(x) and x > 0, "a finite number > 0"),
    "train.weight_decay": (lambda x: _finite(x) and x >= 0, "a finite number >= 0"),
    "train.val_fraction": (lambda x: _finite(x) and 0 < x < 1, "a number between 0 and 1 (exclusive)"),
    "train.max_train_samples": (lambda x: x is None or x >= 1, "null or an integer >= 1"),
    "train.clips_per_epoch": (lambda x: x is None or x >= 1, "null or an integer >= 1"),
    "eval.batch_size": (lambda x: x >= 1, "an integer >= 1"),
    "eval.anomaly_fraction": (_fraction, "null or a number between 0 and 1 (exclusive)"),
    "eval.threshold_top_fraction": (_fraction, "null or a number between 0 and 1 (exclusive)"),
    "eval.test_fraction": (_fraction, "null or a number between 0 and 1 (exclusive)"),
    "memory.num_items": (lambda x: x >= 1, "an integer >= 1"),
    "memory.shrink_thres": (lambda x: _finite(x) and 0 <= x < 1, "a number >= 0 and < 1"),
    "loss.entropy_weight": (lambda x: _finite(x) and x >= 0, "a finite number >= 0"),
    "loss.l1_weight": (lambda x: _finite(x) and x >= 0, "a finite number >= 0"),
    "model.code_dim": (lambda x: x >= 1, "an integer >= 1"),
    "model.hidden": (_pos_ints, "a non-empty list of integers >= 1"),
    "model.channels": (_pos_ints, "a non-empty list of integers >= 1"),
    "data.clip_len": (lambda x: x >= 1, "an integer >= 1"),
    "data.frame_size": (lambda x: len(x) == 2 and _pos_ints(x), "[height, width], integers >= 1"),
    "protocol.seeds": (lambda xs: bool(xs) and all(isinstance(x, int) and not isinstance(x, bool)
                                                   and 0 <= x < 2**32 for x in xs),
                       "a non-empty list of integers in 0 .. 2**32-1"),
    "protocol.splits": (_names, "a non-empty list of names of lower-case letters, digits and _"),
    "protocol.variants": (lambda xs: _names(xs) and all(x in VARIANTS for x in xs),
                          f"a non-empty list of variants from: {', '.join(VARIANTS)}"),
    "protocol.sweep_num_items": (lambda xs: isinstance(xs, list) and all(
        isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in xs), "a list of integers >= 1"),
}
# data_root and results_root go into shell commands and Snakemake file patterns: they are quoted
# there, but a character that a shell or Snakemake would read ({, }, $, `, quotes, ;, |, &, <, >,
# *, ?, newline, ...) has no business in a folder name and is refused here. Spaces are allowed.
ROOT_OK = re.compile(r"[A-Za-z0-9_./ +,=@%~-]+")


class ParamsError(ValueError):
    pass


def _read_yaml(path: Path) -> dict:
    if not path.exists():
        raise ParamsError(f"{path}: params file not found")
    try:
        doc = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as e:
        raise ParamsError(f"{path}: not valid YAML: {e}") from None
    if doc is None:
        raise ParamsError(f"{path}: the params file is empty; restore it from git (git checkout {path})")
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


def _check_layers(tree: dict, path: Path, prefix: str) -> None:
    model = tree.get("model") or {}
    for part in ("encoder", "decoder"):
        for i, layer in enumerate(model.get(part) or []):
            where = f"{prefix}model.{part}[{i}]"
            if not isinstance(layer, dict):
                raise ParamsError(f"{path}: '{where}' must be a mapping like "
                                  "{channels: 32, kernel: 3, stride: 2, padding: 1}")
            _check(layer, LAYER_KEYS, path, where + ".")
            missing = [k for k in ("channels", "kernel", "stride") if k not in layer]
            if missing:
                raise ParamsError(f"{path}: '{where}' lacks {', '.join(missing)}")
    if bool(model.get("encoder")) != bool(model.get("decoder")) and "kind" in model:
        raise ParamsError(f"{path}: '{prefix}model' needs both encoder and decoder written out, or neither")
    ev = tree.get("eval") or {}
    if "clip_error" in ev and ev["clip_error"] not in CLIP_ERRORS:
        raise ParamsError(f"{path}: '{prefix}eval.clip_error' must be one of {', '.join(CLIP_ERRORS)}, "
                          f"got {ev['clip_error']!r}")
    if "threshold_population" in ev and ev["threshold_population"] not in THRESHOLD_POPULATIONS:
        raise ParamsError(f"{path}: '{prefix}eval.threshold_population' must be one of "
                          f"{', '.join(THRESHOLD_POPULATIONS)}, got {ev['threshold_population']!r}")


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _resolve(doc: dict, schema: dict, profile: str, path: Path) -> dict:
    if profile not in PROFILES:
        raise ParamsError(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}")
    overlays = doc.pop("profiles", {}) or {}
    if not isinstance(overlays, dict):
        raise ParamsError(f"{path}: 'profiles' must be a mapping of profile name -> overlay")
    _check(doc, schema, path)
    for name, overlay in overlays.items():
        if name not in PROFILES:
            raise ParamsError(f"{path}: unknown profile 'profiles.{name}' (use {', '.join(PROFILES[1:])})")
        if not isinstance(overlay, (dict, type(None))):
            raise ParamsError(f"{path}: 'profiles.{name}' must be a mapping of settings, got {overlay!r}")
        _check(overlay or {}, schema, path, f"profiles.{name}.")
        if schema is SCHEMA:
            _check_layers(overlay or {}, path, f"profiles.{name}.")
    if schema is SCHEMA:
        _check_layers(doc, path, "")
    merged = _merge(doc, overlays.get(profile) or {}) if profile != "paper" else doc
    if schema is SCHEMA:
        _replace_layers(merged, overlays.get(profile) or {})
    return merged


def _replace_layers(merged: dict, over: dict) -> None:
    """An overlay that writes model.encoder/decoder (or the mirrored short form) replaces the
    network: keys of the other form are dropped rather than merged into a mix of the two."""
    model, new = merged.get("model") or {}, (over or {}).get("model") or {}
    if "encoder" in new or "decoder" in new:
        for k in ("channels", "kernels", "strides"):
            if k not in new:
                model.pop(k, None)
    elif any(k in new for k in ("channels", "kernels", "strides")):
        model.pop("encoder", None)
        model.pop("decoder", None)


def _dataset_doc(dataset: str, params_dir: str | Path) -> tuple[dict, Path]:
    path = Path(params_dir) / f"{dataset}.yaml"
    doc = _read_yaml(path)
    if "like" in doc:
        base = Path(params_dir) / f"{doc['like']}.yaml"
        if not base.exists():
            raise ParamsError(f"{path}: 'like: {doc['like']}' but {base} does not exist")
        doc = _merge(_read_yaml(base), {k: v for k, v in doc.items() if k != "like"})
    return doc, path


def load_params(dataset: str, profile: str, params_dir: str | Path = "params") -> dict:
    """The settings of one dataset under one profile, validated (its studies are not part of them:
    see load_studies)."""
    doc, path = _dataset_doc(dataset, params_dir)
    doc.pop("studies", None)
    merged = _resolve(doc, SCHEMA, profile, path)
    check_values(merged, path, profile, required=dataset in MODULES)
    return merged


def check_values(params: dict, path: Path, profile: str, required: bool = True) -> None:
    """RANGES respected in a dataset's merged settings and (required) REQUIRED keys present. The keys
    are required of the datasets memae runs (memae.datasets.MODULES); another file (a scratch file
    compared by provenance) is held to types and ranges only."""
    def get(key: str):
        node = params
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise KeyError(key)
            node = node[part]
        return node

    kind = (params.get("model") or {}).get("kind")
    for key in (REQUIRED + REQUIRED_BY_KIND.get(kind, ())) if required else ():
        try:
            get(key)
        except KeyError:
            raise ParamsError(f"{path}: required key '{key}' is missing (profile {profile}); "
                              "add it (see the other params files for its meaning)") from None
    model = params.get("model") or {}
    if required and kind == "conv" and not model.get("encoder") and not all(k in model for k in CONV_SHORT_FORM):
        raise ParamsError(f"{path}: a conv 'model' needs encoder and decoder written out, or "
                          f"{', '.join(CONV_SHORT_FORM)} (profile {profile})")
    for key, (ok, allowed) in RANGES.items():
        try:
            value = get(key)
        except KeyError:
            continue
        if not ok(value):
            raise ParamsError(f"{path}: '{key}' must be {allowed}, got {value!r} (profile {profile})")


def load_studies(dataset: str, params_dir: str | Path = "params") -> dict[str, dict]:
    """The studies declared in params/<dataset>.yaml: name -> {description, set, shorten}."""
    doc, path = _dataset_doc(dataset, params_dir)
    studies = doc.get("studies") or {}
    if not isinstance(studies, dict):
        raise ParamsError(f"{path}: 'studies' must be a mapping of study name -> settings")
    out = {}
    for name, spec in studies.items():
        where = f"studies.{name}"
        if (not isinstance(name, str) or not name.replace("_", "").isalnum() or name != name.lower()
                or name.startswith("base_") or name == "all"):
            raise ParamsError(f"{path}: study name {name!r} must be lower-case letters, digits and _, "
                              "and neither 'all' nor starting with 'base_'")
        if not isinstance(spec, dict) or "set" not in spec or "description" not in spec:
            raise ParamsError(f"{path}: '{where}' needs 'description' and 'set'")
        _check(spec, STUDY_KEYS, path, where + ".")
        for part in ("set", "shorten"):
            _check(spec.get(part) or {}, SCHEMA, path, f"{where}.{part}.")
            _check_layers(spec.get(part) or {}, path, f"{where}.{part}.")
        out[name] = {"description": " ".join(spec["description"].split()),
                     "set": spec["set"], "shorten": spec.get("shorten") or {}}
    return out


STUDY_ARMS = ("base", "study")


def study_params(params: dict, study: dict, arm: str) -> dict:
    """The settings one arm of a study runs: the dataset's resolved params, then the study's
    `shorten` (both arms), then its `set` (the study arm only)."""
    if arm not in STUDY_ARMS:
        raise ParamsError(f"study arm must be one of {', '.join(STUDY_ARMS)}, got {arm!r}")
    out = params
    for over in ([study["shorten"]] + ([study["set"]] if arm == "study" else [])):
        merged = _merge(out, over)
        _replace_layers(merged, over)
        out = merged
    return out


def load_pipeline(params_dir: str | Path = "params", profile: str | None = None) -> dict:
    path = Path(params_dir) / "pipeline.yaml"
    doc = _read_yaml(path)
    base_profile = doc.get("profile", "paper")
    if not isinstance(base_profile, str):
        raise ParamsError(f"{path}: 'profile' must be one of {', '.join(PROFILES)}, got {base_profile!r}")
    pipe = _resolve(doc, PIPELINE_SCHEMA, profile or base_profile, path) | {"profile": profile or base_profile}
    for key in ("data_root", "results_root"):
        root = pipe.get(key)
        if root is None:
            raise ParamsError(f"{path}: required key '{key}' is missing (profile {pipe['profile']})")
        if not ROOT_OK.fullmatch(root) or root.strip() != root:
            raise ParamsError(f"{path}: '{key}' {root!r} may hold only letters, digits, spaces and . _ / + , = @ % ~ -"
                              " (no shell or pattern characters, no leading or trailing space); rename the folder")
    return pipe


def digest(obj) -> str:
    """A short stable hash of settings, for provenance and rerun checks."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]
