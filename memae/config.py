"""Experiment settings: params/<dataset>.yaml and params/pipeline.yaml.

A dataset's file holds the `paper` settings at the top level and, under `profiles:`, overlays
(`quick`, `smoke`) that change a few keys. `like: <other dataset>` at the top starts from that
dataset's file (profiles included) and changes only the keys given (cifar10_jpeg is like cifar10;
a chain of `like:` is followed, a cycle is an error). Every key is checked against the typed models
of memae.params_model: an unknown key, a wrong type, a value out of range or a missing required key
stops the run with the file, the key and what it accepts named.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import json
from pathlib import Path

import yaml

from .datasets import ALL_READ, MODULES, PROTOCOL_READS, spec as dataset_spec
from .params_model import (PROFILES, DatasetParams, Invalid, PipelineParams, StudyParams, check_partial,
                           validate)

# What each key accepts (type, range, allowed names) and which keys are required: the typed models
# in memae.params_model (PROFILES comes from there too), checked on a dataset's settings after its
# `like:` base and profile overlay are merged. The plain dict is returned unchanged: the models only
# check it, so the settings a run records (and their digest) are those written in the files.
__all__ = ["PROFILES", "ParamsError", "load_params", "typed_params", "load_studies", "study_params",
           "load_pipeline", "digest"]


class ParamsError(ValueError):
    pass


# libyaml's parser where PyYAML was built with it (the wheels are): the same documents as the pure-Python
# SafeLoader (the resolver of scalars is shared), parsed about ten times faster; snakemake -n reads
# the params files about twenty times.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.lru_cache(maxsize=64)
def _parse(text: str):
    return yaml.load(text, Loader=_LOADER)


def _read_yaml(path: Path) -> dict:
    """A params file's document: parsed once per content in a process (a fresh copy each call, so a
    caller may change it)."""
    if not path.exists():
        raise ParamsError(f"{path}: params file not found")
    try:
        doc = copy.deepcopy(_parse(path.read_text()))
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as e:
        raise ParamsError(f"{path}: not valid YAML: {e}") from None
    if doc is None:
        raise ParamsError(f"{path}: the params file is empty; restore it from git (git checkout {path})")
    if not isinstance(doc, dict):
        raise ParamsError(f"{path}: expected a mapping at the top level")
    return doc


def _checked(path: Path, fn, *args, profile: str | None = None, **kw):
    """fn(*args), with a refusal of the typed models as a ParamsError naming the file (and profile)."""
    try:
        return fn(*args, **kw)
    except Invalid as e:
        raise ParamsError(f"{path}: {e}" + (f" (profile {profile})" if profile else "")) from None


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _resolve(doc: dict, model, profile: str, path: Path) -> dict:
    """The top level merged with the profile's overlay. Every overlay (not only the profile's) is
    checked for unknown keys and types; the merged settings are checked by the caller."""
    if profile not in PROFILES:
        raise ParamsError(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}")
    overlays = doc.pop("profiles", {}) or {}
    if not isinstance(overlays, dict):
        raise ParamsError(f"{path}: 'profiles' must be a mapping of profile name -> overlay")
    _checked(path, check_partial, doc, model)
    for name, overlay in overlays.items():
        if name not in PROFILES:
            raise ParamsError(f"{path}: unknown profile 'profiles.{name}' (use {', '.join(PROFILES[1:])})")
        if not isinstance(overlay, (dict, type(None))):
            raise ParamsError(f"{path}: 'profiles.{name}' must be a mapping of settings, got {overlay!r}")
        _checked(path, check_partial, overlay or {}, model, f"profiles.{name}.")
    merged = _merge(doc, overlays.get(profile) or {}) if profile != "paper" else doc
    if model is DatasetParams:
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


def _dataset_doc(dataset: str, params_dir: str | Path, _seen: tuple[str, ...] = ()) -> tuple[dict, Path]:
    """params/<dataset>.yaml merged onto the file it is `like:` (followed to the end of the chain)."""
    path = Path(params_dir) / f"{dataset}.yaml"
    doc = _read_yaml(path)
    if "like" in doc:
        like = doc["like"]
        if not isinstance(like, str) or not like:
            raise ParamsError(f"{path}: 'like' must name another dataset's params file, got {like!r}")
        base = Path(params_dir) / f"{like}.yaml"
        if like in ("pipeline", "reported") or not base.exists():
            raise ParamsError(f"{path}: 'like: {like}' but {base} is not a dataset's params file"
                              + ("" if base.exists() else " (it does not exist)"))
        chain = (*_seen, dataset)
        if like in chain:
            raise ParamsError(f"{path}: 'like: {like}' makes a cycle ({' -> '.join((*chain, like))})")
        base_doc, _ = _dataset_doc(like, params_dir, chain)
        doc = _merge(base_doc, {k: v for k, v in doc.items() if k != "like"})
    return doc, path


def _unread(tree: dict, dataset: str, path: Path, where: str = "", profile: str | None = None) -> None:
    """Refuse a value for a `data` or `eval` key that the dataset's protocol does not read
    (memae.datasets.PROTOCOL_READS): it would be recorded with the run as a setting that ran."""
    role = dataset_spec(dataset).protocol
    bad = [f"{where}{sec}.{k}" for sec in ("data", "eval") for k, v in (tree.get(sec) or {}).items()
           if v is not None and k not in PROTOCOL_READS[role][sec] + ALL_READ[sec]]
    if bad:
        reads = [f"{sec}.{k}" for sec in ("data", "eval") for k in PROTOCOL_READS[role][sec] + ALL_READ[sec]]
        raise ParamsError(f"{path}: {', '.join(bad)} {'is' if len(bad) == 1 else 'are'} set, but {dataset} "
                          f"(protocol {role}) does not read {'it' if len(bad) == 1 else 'them'}: remove "
                          f"{'it' if len(bad) == 1 else 'them'} or set null; of these two sections {dataset} "
                          f"reads {', '.join(reads)}" + (f" (profile {profile})" if profile else ""))


def load_params(dataset: str, profile: str, params_dir: str | Path = "params") -> dict:
    """The settings of one dataset under one profile, validated (its studies are not part of them:
    see load_studies). The datasets memae runs (memae.datasets.MODULES) are held to the whole model,
    required keys included; another file (a scratch file compared by provenance) to its keys, types
    and ranges only."""
    doc, path = _dataset_doc(dataset, params_dir)
    doc.pop("studies", None)
    overlays = doc.get("profiles") if isinstance(doc.get("profiles"), dict) else {}
    merged = _resolve(doc, DatasetParams, profile, path)
    if dataset in MODULES:
        _checked(path, validate, merged, DatasetParams, profile=profile)
        for name, overlay in overlays.items():   # every overlay, as _resolve checks every overlay's keys
            _unread(overlay or {}, dataset, path, f"profiles.{name}.", profile=profile)
        _unread(merged, dataset, path, profile=profile)
    else:
        _checked(path, check_partial, merged, DatasetParams, ranges=True, profile=profile)
    return merged


def typed_params(params: dict) -> DatasetParams:
    """A dataset's merged settings (load_params) as the typed model."""
    try:
        return validate(params, DatasetParams)
    except Invalid as e:
        raise ParamsError(str(e)) from None


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
        _checked(path, validate, spec, StudyParams, where + ".")
        for part in ("set", "shorten"):
            _checked(path, check_partial, spec.get(part) or {}, DatasetParams, f"{where}.{part}.", ranges=True)
            if dataset in MODULES:
                _unread(spec.get(part) or {}, dataset, path, f"{where}.{part}.")
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
    pipe = _resolve(doc, PipelineParams, profile or base_profile, path) | {"profile": profile or base_profile}
    _checked(path, validate, pipe, PipelineParams, profile=pipe["profile"])
    return pipe


def digest(obj) -> str:
    """A short stable hash of settings, for provenance and rerun checks."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]
