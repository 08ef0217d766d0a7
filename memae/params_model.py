"""The typed params: one pydantic model per section of params/<dataset>.yaml and params/pipeline.yaml.

These models are the one definition of what a params file may hold: every key (`extra="forbid"`),
its type (strict: no 5.0 for an integer, no `true` for a number), the closed sets of names
(`Literal`), the ranges, and the required keys. memae.config merges a file's `like:` base and its
profile overlay, then validates the result here; it returns the merged plain dict unchanged, so the
settings a run records (and their digest) do not depend on this module.

Each field's `description` says in words what it accepts; the error messages quote it, and the JSON
Schema generated from the models (params/schema.json, params/pipeline.schema.json) carries it.
Regenerate the schemas after changing a model:  python -m memae.params_model  (or `make schema`).
"""
from __future__ import annotations

import json
import re
import sys
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import PydanticCustomError

from .variants import VARIANTS

PROFILES = ("paper", "quick", "smoke")

# The closed sets of names. memae.models, memae.memory, memae.device and the protocols act on them;
# tests/test_params_model.py checks that the tables of models, device and variants agree.
Kind = Literal["conv", "mlp"]
Activation = Literal["relu", "leaky_relu", "tanh"]              # hidden layers (memae.models.ACTIVATIONS)
OutputActivation = Literal["none", "sigmoid", "tanh"]           # last layer (memae.models.OUTPUTS)
Init = Literal["default", "official"]                           # official: the official code's weights_init
Addressing = Literal["dot", "cosine"]                           # dot: official code; cosine: the paper's text
Granularity = Literal["position", "image"]                      # one memory query per position, or per image
Scale = Literal["unit", "symmetric"]                            # pixels in [0, 1] or [-1, 1]
Normalize = Literal["none", "gcn_l1_minmax"]                    # one-class images: after scaling
ClipError = Literal["mse", "l2", "official"]                    # video: the error of a clip
ThresholdPopulation = Literal["test", "train_test"]             # KDD: scores the percentile is taken over
Precision = Literal["auto", "fp32", "bf16"]                     # memae.device.PRECISIONS
VariantName = Literal[tuple(VARIANTS)]                          # memae.variants.VARIANTS
ProfileName = Literal[PROFILES]

NAME = re.compile(r"[a-z0-9_]+")   # what the workflow's wildcards accept (splits, variants)
NAME_WORDS = "names of lower-case letters, digits and _"
# data_root and results_root go into shell commands and Snakemake file patterns: they are quoted
# there, but a character that a shell or Snakemake would read ({, }, $, `, quotes, ;, |, &, <, >,
# *, ?, newline, ...) has no business in a folder name and is refused. Spaces are allowed, but not
# at either end.
ROOT_OK = re.compile(r"[A-Za-z0-9_./ +,=@%~-]+")
ROOT_WORDS = ("may hold only letters, digits, spaces and . _ / + , = @ % ~ - (no shell or pattern "
              "characters, no leading or trailing space); rename the folder")

PosInt = Annotated[int, Field(ge=1, description="an integer >= 1")]
NonNegInt = Annotated[int, Field(ge=0, description="an integer >= 0")]
PosNumber = Annotated[float, Field(gt=0, allow_inf_nan=False, description="a finite number > 0")]
NonNegNumber = Annotated[float, Field(ge=0, allow_inf_nan=False, description="a finite number >= 0")]
OpenFraction = Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False,
                                      description="a number between 0 and 1 (exclusive)")]
# A hold-out fraction: 0 holds nothing out (every sample trains, as the official code does)
HoldOut = Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False,
                                 description="a number >= 0 and < 1 (0: nothing held out)")]
Seed = Annotated[int, Field(ge=0, lt=2**32)]
Name = Annotated[str, Field(pattern=f"^{NAME.pattern}$")]
PerDim = Union[PosInt, Annotated[list[PosInt], Field(min_length=1)]]            # one value, or one per spatial dim
PerDimPad = Union[NonNegInt, Annotated[list[NonNegInt], Field(min_length=1)]]


def _words(options) -> str:
    options = [str(o) for o in options]
    return " or ".join(options) if len(options) <= 2 else "one of " + ", ".join(options)


class Section(BaseModel):
    """A mapping of params: no key beyond those declared, no type coercion. A key that may be left out
    has the default None, which is never validated: written out, it must hold a value of its type
    (null only where the type says Optional)."""
    model_config = ConfigDict(extra="forbid", strict=True)

    @classmethod
    def parse(cls, tree: Any, prefix: str = ""):
        """The typed form of a plain mapping; Invalid (a ValueError) names the key path after prefix."""
        return validate(tree, cls, prefix)


class DataParams(Section):
    scale: Scale = Field(None, description=_words(typing.get_args(Scale)))
    normalize: Normalize = Field(
        None, description=_words(typing.get_args(Normalize)) + " (one-class images; gcn_l1_minmax: "
        "Deep SVDD's global contrast normalisation, L1, then min-max scaling by the normal class's "
        "training images; left out: none)")
    synthetic_size: dict[str, PosInt] = Field(
        None, description="sizes of the synthetic (smoke) data: a mapping of names to integers >= 1")
    frame_size: Annotated[list[PosInt], Field(min_length=2, max_length=2)] = Field(
        None, description="[height, width], integers >= 1")
    clip_len: PosInt = Field(None, description="an integer >= 1 (frames per clip)")


class LayerParams(Section):
    """One conv layer of model.encoder / model.decoder, Conv(kernel, stride, channels) as the paper
    writes it; padding defaults to kernel // 2, output_padding (decoder) to 0."""
    channels: PosInt
    kernel: PerDim = Field(description="an integer >= 1, or one per spatial dim")
    stride: PerDim = Field(description="an integer >= 1, or one per spatial dim")
    padding: PerDimPad = Field(None, description="an integer >= 0, or one per spatial dim")
    output_padding: PerDimPad = Field(None, description="an integer >= 0, or one per spatial dim")


class ModelParams(Section):
    """The network. conv: encoder and decoder written out (model.encoder/decoder), or the mirrored
    short form (channels, kernels, strides). mlp: hidden widths and the code's size."""
    kind: Kind = Field(description=_words(typing.get_args(Kind)))
    channels: Annotated[list[PosInt], Field(min_length=1)] = Field(
        None, description="a non-empty list of integers >= 1")
    kernels: list[PerDim] = Field(None, description="a list of integers >= 1 (or one per spatial dim)")
    strides: list[PerDim] = Field(None, description="a list of integers >= 1 (or one per spatial dim)")
    encoder: list[LayerParams] = Field(
        None, description="conv layers like {channels: 32, kernel: 3, stride: 2, padding: 1}")
    decoder: list[LayerParams] = Field(
        None, description="transposed conv layers like {channels: 1, kernel: 3, stride: 2, padding: 1, "
                          "output_padding: 1}")
    hidden: Annotated[list[PosInt], Field(min_length=1)] = Field(
        None, description="a non-empty list of integers >= 1")
    code_dim: PosInt = Field(None, description="an integer >= 1")
    activation: Activation = Field(description=_words(typing.get_args(Activation)))
    output_activation: OutputActivation = Field(description=_words(typing.get_args(OutputActivation)))
    init: Init = Field("default", description=_words(typing.get_args(Init)))

    @model_validator(mode="after")
    def _network_given(self):
        if self.kind == "mlp":
            for key in ("hidden", "code_dim"):
                if getattr(self, key) is None:
                    raise PydanticCustomError("missing_key", "required key {key} is missing", {"key": key})
        elif bool(self.encoder) != bool(self.decoder):
            raise PydanticCustomError("params", "'model' needs both encoder and decoder written out, or neither")
        elif not self.encoder and not all(getattr(self, k) is not None for k in ("channels", "kernels", "strides")):
            raise PydanticCustomError("params", "a conv 'model' needs encoder and decoder written out, or "
                                                "channels, kernels, strides")
        return self


class MemoryParams(Section):
    num_items: PosInt
    shrink_thres: float = Field(ge=0, lt=1, allow_inf_nan=False, description="a number >= 0 and < 1")
    addressing: Addressing = Field(description=_words(typing.get_args(Addressing)))
    granularity: Granularity = Field(description=_words(typing.get_args(Granularity)))


class LossParams(Section):
    entropy_weight: NonNegNumber
    l1_weight: NonNegNumber


class TrainParams(Section):
    epochs: PosInt
    batch_size: PosInt
    lr: PosNumber
    weight_decay: NonNegNumber
    val_fraction: HoldOut
    max_train_samples: Optional[PosInt] = Field(description="null or an integer >= 1")   # required, may be null
    clips_per_epoch: Optional[PosInt] = Field(None, description="null or an integer >= 1 (video: clips per epoch)")
    # Run-time only: several runs of a variant per training and scoring job (memae train-group,
    # memae evaluate-group): seeds, and splits (classes), per job.
    group_seeds: Union[bool, PosInt] = Field(False, description="true, false or an integer >= 1")
    group_splits: Union[bool, PosInt] = Field(False, description="true, false or an integer >= 1")
    precision: Precision = Field(None, description=_words(typing.get_args(Precision)))


class EvalParams(Section):
    batch_size: PosInt
    anomaly_fraction: Optional[OpenFraction] = Field(
        None, description="null or a number between 0 and 1 (exclusive)")
    threshold_top_fraction: Optional[OpenFraction] = Field(
        None, description="null or a number between 0 and 1 (exclusive)")
    test_fraction: Optional[OpenFraction] = Field(None, description="null or a number between 0 and 1 (exclusive)")
    clip_error: ClipError = Field(None, description=_words(typing.get_args(ClipError)))
    threshold_population: ThresholdPopulation = Field(
        None, description=_words(typing.get_args(ThresholdPopulation)))


class ProtocolParams(Section):
    splits: list[Name] = Field(min_length=1, description=f"a non-empty list of {NAME_WORDS}")
    seeds: list[Seed] = Field(min_length=1, description="a non-empty list of integers in 0 .. 2**32-1")
    variants: list[VariantName] = Field(min_length=1,
                                        description=f"a non-empty list of variants from: {', '.join(VARIANTS)}")
    description: str
    sweep_num_items: list[PosInt] = Field(None, description="a list of integers >= 1 (memory sizes "
                                                                      "of the memae sweep)")


class DatasetParams(Section):
    """The settings of one dataset under one profile: params/<dataset>.yaml with its `like:` base and
    the profile's overlay merged (its `studies` are not part of them)."""
    model_config = ConfigDict(title="memae dataset params (one profile, merged)")
    data: DataParams
    model: ModelParams
    memory: MemoryParams
    loss: LossParams
    train: TrainParams
    eval: EvalParams
    protocol: ProtocolParams


class StudyParams(Section):
    """A named change of one dataset's settings: `set` (the study arm), and `shorten` (both arms)."""
    description: str
    set: dict[str, Any] = Field(description="settings as in the dataset's file, only the keys changed")
    shorten: dict[str, Any] = Field(None, description="settings applied to both arms")


class PipelineParams(Section):
    """params/pipeline.yaml with the profile's overlay merged."""
    model_config = ConfigDict(title="memae pipeline params (one profile, merged)")
    profile: ProfileName = Field(None, description=_words(PROFILES))
    datasets: list[str] = Field(description="the datasets the profile runs")
    data_root: str = Field(pattern=f"^{ROOT_OK.pattern}$", description=f"a folder name that {ROOT_WORDS}")
    results_root: str = Field(pattern=f"^{ROOT_OK.pattern}$", description=f"a folder name that {ROOT_WORDS}")
    synthetic_data: bool
    studies: list[str] = Field(None, description="<dataset>:<study>, <dataset>:all, or all")
    one_job_per_dataset: list[str] = Field(
        None, description="datasets whose main runs train in one job (memae train-group) and are scored in "
        "one job (memae evaluate-group) instead of a job each: for tiny data, where starting a job costs "
        "more than its work; the same files and results, but a change reruns all of the dataset's runs")

    @field_validator("data_root", "results_root", mode="before")
    @classmethod
    def _root(cls, v, info):
        if isinstance(v, str) and (not ROOT_OK.fullmatch(v) or v.strip() != v):
            raise PydanticCustomError("params", "'{key}' {root} " + ROOT_WORDS, {"key": info.field_name, "root": repr(v)})
        return v


# --- validation and its messages ----------------------------------------------------------------

class Invalid(ValueError):
    """A params tree that the models refuse; str() is one line naming the key path and what it accepts."""


def validate(tree: Any, cls: type[BaseModel], prefix: str = "") -> BaseModel:
    """Validate a whole (merged) params tree; Invalid names the first problem (key path after `prefix`)."""
    try:
        return cls.model_validate(tree)
    except ValidationError as e:
        errors = e.errors(include_url=False)
        raise Invalid(_message(errors[0], tree, cls, prefix, len(errors) - 1)) from None


# Errors of a value of the right type outside its range (or pattern): left to the merged settings'
# check where a partial tree is checked for types only.
RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number",
                "too_short", "too_long", "string_pattern_mismatch", "multiple_of"}


def check_partial(tree: Any, cls: type[BaseModel], prefix: str = "", ranges: bool = False) -> None:
    """Check part of a params tree (a profile overlay, a study's `set`): every key known and every value
    of its type (and in range, with `ranges`); a key (a section, a setting) may be left out, the
    whole-network rules are left to the merged settings. A conv layer is checked whole."""
    if not isinstance(tree, dict):
        raise Invalid(f"'{prefix.rstrip('.')}' must be a mapping, got {tree!r}")
    try:
        cls.model_validate(tree)
    except ValidationError as e:
        errors = [err for err in e.errors(include_url=False)
                  if not (err["type"] in ("missing", "missing_key", "params")
                          and not any(isinstance(part, int) for part in err["loc"]))
                  and (ranges or err["type"] not in RANGE_ERRORS)]
        if errors:
            raise Invalid(_message(errors[0], tree, cls, prefix, len(errors) - 1)) from None


def _unwrap(ann):
    """The types inside Optional/Union/Annotated/list."""
    origin = typing.get_origin(ann)
    if origin is Annotated:
        return _unwrap(typing.get_args(ann)[0])
    if origin in (Union, types.UnionType):
        return [t for a in typing.get_args(ann) if a is not type(None) for t in _unwrap(a)]
    return [ann]


def _is_list(ann) -> bool:
    return any(typing.get_origin(t) is list for t in _unwrap(ann))


def _model_of(ann) -> type[BaseModel] | None:
    for t in _unwrap(ann):
        if typing.get_origin(t) is list:
            t = typing.get_args(t)[0]
            t = _unwrap(t)[0] if _unwrap(t) else t
        if isinstance(t, type) and issubclass(t, BaseModel):
            return t
    return None


def _literals(ann) -> list:
    out = []
    for t in _unwrap(ann):
        if typing.get_origin(t) is Literal:
            out += list(typing.get_args(t))
        elif typing.get_origin(t) is list:
            out += _literals(typing.get_args(t)[0])
    return out


def _first_required(cls: type[BaseModel]) -> str:
    for name, f in cls.model_fields.items():
        if f.is_required():
            sub = _model_of(f.annotation)
            return name + ("." + _first_required(sub) if sub and not _is_list(f.annotation) else "")
    return ""


TYPE_NAMES = {"int": "int", "float": "int/float", "string": "str", "bool": "bool", "list": "list",
              "dict": "mapping", "model": "mapping"}


def _message(err: dict, tree: Any, cls: type[BaseModel], prefix: str, more: int) -> str:
    loc, kind = err["loc"], err["type"]
    key, field, container, value = "", None, cls, tree
    current: type[BaseModel] | None = cls
    for part in loc:
        if isinstance(part, int):   # an item of a list: named for a list of mappings (a conv layer)
            if current is not None:
                key += f"[{part}]"
                value = value[part] if isinstance(value, list) and part < len(value) else None
            continue
        if current is not None and part in current.model_fields:
            container, field = current, current.model_fields[part]
            key += ("." if key else "") + part
            value = value.get(part) if isinstance(value, dict) else None
            current = _model_of(field.annotation)
            continue
        if kind == "extra_forbidden" and part == loc[-1] and current is not None:
            container = current
            key += ("." if key else "") + str(part)
        # else: a union member's tag: not part of the key path
    where = prefix + key
    desc = field.description if field is not None else None
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    if kind == "extra_forbidden":
        return f"unknown key '{where}' (allowed here: {', '.join(container.model_fields)}){tail}"
    if kind == "missing":
        sub = _model_of(field.annotation) if field is not None else None
        if sub is not None and not _is_list(field.annotation) and _first_required(sub):
            where += "." + _first_required(sub)
        return f"required key '{where}' is missing; add it (see the other params files for its meaning){tail}"
    if kind == "missing_key":
        return (f"required key '{prefix}{key + '.' if key else ''}{err['ctx']['key']}' is missing; add it "
                f"(see the other params files for its meaning){tail}")
    if kind == "params":
        return err["msg"] + tail
    got = err.get("input") if field is None else value
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"'{where}' must be a mapping, got {got!r}{tail}"
    if kind == "literal_error" and not desc:
        desc = _words(_literals(field.annotation)) if field is not None else err["msg"]
    if kind.endswith("_type") or kind.endswith("_parsing"):
        name = TYPE_NAMES.get(kind.split("_")[0])
        union = field is not None and len(_unwrap(field.annotation)) > 1 + (type(None) in typing.get_args(field.annotation))
        if name and not union and not (kind == "list_type" and desc):
            nullable = field is not None and type(None) in typing.get_args(field.annotation)
            return f"'{where}' must be {name}{'/null' if nullable else ''}{f' ({desc})' if desc else ''}, got {got!r}{tail}"
    return f"'{where}' must be {desc or err['msg'].lower()}, got {got!r}{tail}"


# --- JSON Schema --------------------------------------------------------------------------------

SCHEMAS = {"schema.json": DatasetParams, "pipeline.schema.json": PipelineParams}


class _NoDefaults(GenerateJsonSchema):
    """Leaves `default` out: Snakemake's validate(set_default=True) would otherwise write the defaults
    (null, false) into the settings it checks, and change their digest."""

    def default_schema(self, schema):
        return self.generate_inner(schema["schema"])


def json_schema(cls: type[BaseModel]) -> dict:
    out = cls.model_json_schema(schema_generator=_NoDefaults)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **out}


def schema_text(cls: type[BaseModel]) -> str:
    return json.dumps(json_schema(cls), indent=2, sort_keys=False) + "\n"


def write_schemas(params_dir: str | Path = "params") -> list[Path]:
    """Write params/schema.json (a dataset's merged settings) and params/pipeline.schema.json."""
    out = []
    for name, cls in SCHEMAS.items():
        path = Path(params_dir) / name
        path.write_text(schema_text(cls))
        out.append(path)
    return out


if __name__ == "__main__":
    for p in write_schemas(sys.argv[1] if len(sys.argv) > 1 else "params"):
        print(f"wrote {p}")
