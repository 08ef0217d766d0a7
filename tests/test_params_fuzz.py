"""Fuzzing the params files with hypothesis: every malformed file must end in a ParamsError (naming
the file), never in another exception and never be accepted. What counts as malformed is written
here, independently of memae.config: the allowed values below are the test's own statement of
what each key accepts."""
import copy
import math
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from memae.config import ParamsError, load_params, load_pipeline

REPO = Path(__file__).resolve().parent.parent
DATASETS = ("kddcup99", "mnist")
ORIGINAL = {ds: yaml.safe_load((REPO / "params" / f"{ds}.yaml").read_text()) for ds in DATASETS}
PIPELINE = (REPO / "params" / "pipeline.yaml").read_text()
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
FUZZ = settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# key -> is the value allowed? (the test's own reading of the params documentation)
ALLOWED = {
    ("train", "epochs"): lambda v: _int(v) and v >= 1,
    ("train", "batch_size"): lambda v: _int(v) and v >= 1,
    ("train", "lr"): lambda v: _num(v) and v > 0,
    ("train", "weight_decay"): lambda v: _num(v) and v >= 0,
    ("train", "val_fraction"): lambda v: _num(v) and 0 <= v < 1,
    ("eval", "batch_size"): lambda v: _int(v) and v >= 1,
    ("memory", "num_items"): lambda v: _int(v) and v >= 1,
    ("memory", "shrink_thres"): lambda v: _num(v) and 0 <= v < 1,
    ("loss", "entropy_weight"): lambda v: _num(v) and v >= 0,
    ("loss", "l1_weight"): lambda v: _num(v) and v >= 0,
    ("protocol", "seeds"): lambda v: isinstance(v, list) and len(v) > 0 and all(
        _int(s) and 0 <= s < 2**32 for s in v),
    ("train", "max_train_samples"): lambda v: v is None or (_int(v) and v >= 1),
    # the closed sets of names (README and params comments): anything else is refused, not defaulted
    ("memory", "addressing"): lambda v: v in ("dot", "cosine"),
    ("memory", "granularity"): lambda v: v in ("position", "image"),
    ("model", "init"): lambda v: v in ("default", "official"),
    ("model", "activation"): lambda v: v in ("relu", "leaky_relu", "tanh"),
    ("model", "output_activation"): lambda v: v in ("none", "sigmoid", "tanh"),
}
REQUIRED = [("train", "lr"), ("train", "epochs"), ("train", "batch_size"), ("protocol", "seeds"),
            ("protocol", "splits"), ("protocol", "variants"), ("memory", "num_items"),
            ("memory", "shrink_thres"), ("model", "kind"), ("eval", "batch_size"), ("loss", "l1_weight")]
SECTIONS = ("model", "memory", "loss", "train", "eval", "protocol")

values = st.one_of(
    st.sampled_from(["dot", "cosine", "position", "image", "default", "official", "relu", "tanh", "none",
                     "Dot", "cosine ", "per_image", "xavier"]),
    st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
    st.text(max_size=6), st.lists(st.integers(-3, 2**33), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
scalars = st.one_of(st.integers(), st.floats(), st.booleans(), st.text(max_size=8),
                    st.lists(st.integers(), max_size=3))


@pytest.fixture(scope="module")
def scratch():
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


def load(scratch: Path, ds: str, doc, profile: str):
    (scratch / f"{ds}.yaml").write_text(doc if isinstance(doc, str) else yaml.dump(doc, Dumper=DUMPER))
    return load_params(ds, profile, scratch)


def fails_clearly(scratch: Path, ds: str, doc, profile: str) -> str:
    with pytest.raises(ParamsError) as e:
        load(scratch, ds, doc, profile)
    assert f"{ds}.yaml" in str(e.value) or "unknown profile" in str(e.value)
    return str(e.value)


def fresh(ds: str) -> dict:
    return copy.deepcopy(ORIGINAL[ds])


@FUZZ
@given(ds=st.sampled_from(DATASETS), key=st.sampled_from(sorted(ALLOWED)), value=values,
       in_overlay=st.booleans())
def test_a_value_outside_what_the_key_allows(scratch, ds, key, value, in_overlay):
    assume(not ALLOWED[key](value))
    doc = fresh(ds)
    section, name = key
    if in_overlay:   # in the quick overlay: caught once merged (or by the overlay's type check)
        doc["profiles"]["quick"].setdefault(section, {})[name] = value
    else:
        doc[section][name] = value
    msg = fails_clearly(scratch, ds, doc, "quick" if in_overlay else "paper")
    assert f"{section}.{name}" in msg


@FUZZ
@given(ds=st.sampled_from(DATASETS), key=st.sampled_from(REQUIRED), profile=st.sampled_from(["paper", "smoke"]))
def test_a_missing_required_key(scratch, ds, key, profile):
    doc = fresh(ds)
    section, name = key
    doc[section].pop(name)
    assume(name not in (doc["profiles"].get(profile) or {}).get(section, {}))   # not set by the overlay
    assert f"required key '{section}.{name}'" in fails_clearly(scratch, ds, doc, profile)


@FUZZ
@given(ds=st.sampled_from(DATASETS), section=st.sampled_from(SECTIONS), key=st.text(min_size=1, max_size=8),
       value=values, replace_section=st.booleans(), scalar=scalars)
def test_an_unknown_key_or_a_section_that_is_not_a_mapping(scratch, ds, section, key, value,
                                                           replace_section, scalar):
    doc = fresh(ds)
    if replace_section:
        doc[section] = scalar
    else:
        doc[section][f"x_{key}"] = value
    fails_clearly(scratch, ds, doc, "paper")


@FUZZ
@given(doc=st.one_of(scalars, st.none(), st.text(max_size=40),
                     st.dictionaries(st.text(max_size=6), st.recursive(
                         scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                          st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                         max_leaves=8), max_size=4)))
def test_an_arbitrary_document(scratch, doc):
    fails_clearly(scratch, "kddcup99", doc, "paper")


@FUZZ
@given(ds=st.sampled_from(DATASETS), cut=st.integers(0, 4000), junk=st.text(max_size=12))
def test_a_cut_or_garbled_file_is_loaded_in_full_or_refused(scratch, ds, cut, junk):
    """A file cut short or with junk spliced in: a params error, or (where the cut happens to leave
    whole settings) settings that are complete and valid by the test's own rules."""
    text = (REPO / "params" / f"{ds}.yaml").read_text()
    text = text[:cut] + junk + text[cut:] if junk else text[:cut]
    try:
        params = load(scratch, ds, text, "paper")
    except ParamsError:
        return
    for key, ok in ALLOWED.items():
        assert ok(params[key[0]][key[1]]), key
    for section, name in REQUIRED:
        assert name in params[section]


@FUZZ
@given(root=st.text(max_size=12))
def test_pipeline_roots(scratch, root):
    (scratch / "pipeline.yaml").write_text(PIPELINE.replace("data_root: data\n", f"data_root: {root!r}\n"))
    safe = root != "" and root == root.strip() and all(c.isalnum() and c.isascii() or c in " ._/+,=@%~-"
                                                        for c in root)
    try:
        pipe = load_pipeline(scratch, "quick")
    except ParamsError as e:
        assert not safe and "pipeline.yaml" in str(e)
        return
    assert safe and pipe["data_root"] == root
