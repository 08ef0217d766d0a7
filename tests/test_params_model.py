"""The typed params (memae.params_model): what each key accepts, the errors that name the file, the
key path and the allowed values, `like:` inheritance, the committed JSON Schema, and build_model's
typed arguments. The expectations are written here from the params documentation and the paper's
settings, not read back from the models."""
import copy
import json
import re
import shutil
from pathlib import Path

import jsonschema
import pytest
import torch
import yaml

from memae import params_model as pm
from memae.config import ParamsError, load_params, load_pipeline, load_studies, typed_params
from memae.models import ACTIVATIONS, OUTPUTS, AutoEncoder, build_model
from memae.params_model import MemoryParams, ModelParams
from memae.variants import VARIANTS

REPO = Path(__file__).resolve().parent.parent
DATASETS = sorted(p.stem for p in (REPO / "params").glob("*.yaml") if p.stem not in ("pipeline", "reported"))
PROFILES = ("paper", "quick", "smoke")


@pytest.fixture
def pdir(tmp_path):
    out = tmp_path / "params"
    shutil.copytree(REPO / "params", out)
    return out


def edit(path: Path, change) -> None:
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def refused(ds: str, profile: str, pdir: Path) -> str:
    with pytest.raises(ParamsError) as e:
        load_params(ds, profile, pdir)
    assert f"{ds}.yaml" in str(e.value) and "Traceback" not in str(e.value)
    return str(e.value)


# --- closed sets of names: each one refused outside its set, with the set named ------------------

@pytest.mark.parametrize("section,key,bad,allowed", [
    ("memory", "addressing", "dott", ["dot", "cosine"]),
    ("memory", "granularity", "pixel", ["position", "image"]),
    ("model", "kind", "rnn", ["conv", "mlp"]),
    ("model", "activation", "gelu", ["relu", "leaky_relu", "tanh"]),
    ("model", "output_activation", "softmax", ["none", "sigmoid", "tanh"]),
    ("model", "init", "Official", ["default", "official"]),
    ("data", "scale", "minmax", ["unit", "symmetric"]),
    ("train", "precision", "fp16", ["auto", "fp32", "bf16"]),
    ("eval", "clip_error", "mae", ["mse", "l2", "official"]),
    ("eval", "threshold_population", "train", ["test", "train_test"]),
])
def test_a_name_outside_its_set_names_file_key_and_every_allowed_name(pdir, section, key, bad, allowed):
    edit(pdir / "mnist.yaml", lambda d: d.setdefault(section, {}).__setitem__(key, bad))
    msg = refused("mnist", "paper", pdir)
    assert f"'{section}.{key}'" in msg and repr(bad) in msg and all(a in msg for a in allowed)


def test_the_issue_example_a_misspelt_addressing_in_the_quick_overlay(pdir):
    edit(pdir / "mnist.yaml", lambda d: d["profiles"]["quick"].update(memory={"addressing": "dott"}))
    msg = refused("mnist", "quick", pdir)
    assert "memory.addressing" in msg and "'dott'" in msg and "dot or cosine" in msg
    # the other profiles read the overlay too: its names are checked whichever profile runs
    assert "profiles.quick.memory.addressing" in refused("mnist", "paper", pdir)


@pytest.mark.parametrize("section,key,value", [
    ("train", "epochs", 5.0), ("train", "epochs", True), ("train", "batch_size", "64"),
    ("train", "lr", "1e-3"), ("train", "lr", True), ("memory", "num_items", 100.0),
    ("protocol", "seeds", [0, 1.5]), ("protocol", "seeds", 0), ("model", "channels", [32, "64"]),
])
def test_no_value_is_coerced_into_its_type(pdir, section, key, value):
    """YAML's 5.0, true or "64" is not an integer setting: refused, not converted."""
    edit(pdir / "cifar10.yaml", lambda d: d[section].__setitem__(key, value))
    assert f"'{section}.{key}'" in refused("cifar10", "paper", pdir)


@pytest.mark.parametrize("change,where", [
    (lambda m: m["encoder"][1].update(kernel=0), "'model.encoder[1].kernel'"),
    (lambda m: m["decoder"][2].update(output_padding=-1), "'model.decoder[2].output_padding'"),
    (lambda m: m["encoder"][0].update(kernl=3), "unknown key 'model.encoder[0].kernl'"),
    (lambda m: m["encoder"][2].pop("stride"), "required key 'model.encoder[2].stride'"),
    (lambda m: m["decoder"].__setitem__(0, "Dconv(3,3,16)"), "'model.decoder[0]' must be a mapping"),
    (lambda m: m.pop("decoder"), "both encoder and decoder"),
])
def test_a_conv_layer_error_names_the_layer(pdir, change, where):
    edit(pdir / "mnist.yaml", lambda d: change(d["model"]))
    assert where in refused("mnist", "paper", pdir)


def test_an_mlp_needs_its_widths(pdir):
    edit(pdir / "kddcup99.yaml", lambda d: d["model"].pop("code_dim"))
    assert "required key 'model.code_dim' is missing" in refused("kddcup99", "paper", pdir)


@pytest.mark.parametrize("key", ["group_seeds", "group_splits"])
def test_group_seeds_and_splits_are_a_switch_or_a_count(pdir, key):
    for ok in (True, False, 4):
        edit(pdir / "kddcup99.yaml", lambda d: d["train"].update({key: ok}))
        assert load_params("kddcup99", "paper", pdir)["train"][key] is ok
    for bad in (0, -2, "5", 2.5):
        edit(pdir / "kddcup99.yaml", lambda d: d["train"].update({key: bad}))
        assert f"'train.{key}'" in refused("kddcup99", "paper", pdir)


def test_a_key_left_out_may_not_be_written_as_null(pdir):
    """Optional keys (precision, clip_error, ...) are left out, not set to null; the fractions and
    sample limits that mean "none" by null accept it."""
    edit(pdir / "kddcup99.yaml", lambda d: d["train"].update(precision=None))
    assert "'train.precision'" in refused("kddcup99", "paper", pdir)
    edit(pdir / "kddcup99.yaml", lambda d: (d["train"].pop("precision"), d["train"].update(clips_per_epoch=None),
                                            d["eval"].update(test_fraction=None)))
    assert load_params("kddcup99", "paper", pdir)["eval"]["test_fraction"] is None


def test_an_out_of_range_value_in_a_study_is_refused(pdir):
    edit(pdir / "mnist.yaml", lambda d: d["studies"]["lambda3n"]["set"]["memory"].update(shrink_thres=3.0))
    with pytest.raises(ParamsError, match=r"mnist\.yaml: 'studies\.lambda3n\.set\.memory\.shrink_thres' "
                                          r"must be a number >= 0 and < 1"):
        load_studies("mnist", pdir)


# --- a setting the dataset's protocol does not read is refused -----------------------------------

@pytest.mark.parametrize("ds,section,key,value", [
    ("mnist", "data", "clip_len", 16), ("mnist", "eval", "clip_error", "official"),
    ("mnist", "eval", "threshold_top_fraction", 0.2), ("kddcup99", "data", "scale", "unit"),
    ("kddcup99", "eval", "anomaly_fraction", 0.3), ("ped2", "data", "normalize", "gcn_l1_minmax"),
    ("ped2", "eval", "threshold_population", "train_test"), ("cifar10", "data", "frame_size", [32, 32]),
])
def test_a_setting_the_protocol_does_not_read_is_refused(pdir, ds, section, key, value):
    """It would be recorded with the runs as a setting that ran, and change nothing."""
    edit(pdir / f"{ds}.yaml", lambda d: d.setdefault(section, {}).__setitem__(key, value))
    msg = refused(ds, "paper", pdir)
    assert f"{section}.{key} is set, but {ds}" in msg and "does not read it" in msg and "batch_size" in msg


def test_null_for_an_unread_setting_and_an_unread_setting_in_an_overlay_or_a_study(pdir):
    edit(pdir / "kddcup99.yaml", lambda d: d["eval"].update(anomaly_fraction=None))   # as the files write it
    assert load_params("kddcup99", "paper", pdir)["eval"]["anomaly_fraction"] is None
    edit(pdir / "mnist.yaml", lambda d: d["profiles"]["quick"].update(data={"clip_len": 8}))
    assert "profiles.quick.data.clip_len is set" in refused("mnist", "quick", pdir)
    assert "(profile quick)" in refused("mnist", "quick", pdir)
    # every overlay is checked, whichever profile runs (as their keys and types are)
    assert "profiles.quick.data.clip_len is set" in refused("mnist", "paper", pdir)
    edit(pdir / "kddcup99.yaml", lambda d: d["studies"]["cosine"]["set"].update(data={"frame_size": [8, 8]}))
    with pytest.raises(ParamsError, match=r"kddcup99\.yaml: studies\.cosine\.set\.data\.frame_size is set, "
                                          r"but kddcup99 \(protocol records\) does not read it"):
        load_studies("kddcup99", pdir)
    edit(pdir / "cifar10.yaml", lambda d: d["studies"]["reimpl_net"]["shorten"].update(data={"clip_len": 4}))
    with pytest.raises(ParamsError, match=r"studies\.reimpl_net\.shorten\.data\.clip_len is set"):
        load_studies("cifar10", pdir)


def test_a_dataset_like_another_is_held_to_its_own_protocol(pdir):
    """cifar10_jpeg is `like: cifar10`: a key cifar10.yaml sets that no one-class dataset reads is
    refused for cifar10 and for cifar10_jpeg alike."""
    edit(pdir / "cifar10.yaml", lambda d: d["eval"].update(clip_error="mse"))
    assert "eval.clip_error is set, but cifar10 " in refused("cifar10", "paper", pdir)
    assert "eval.clip_error is set, but cifar10_jpeg " in refused("cifar10_jpeg", "paper", pdir)


def test_the_table_of_read_settings_is_what_the_protocols_read():
    """memae.datasets.PROTOCOL_READS against the protocol modules' source: every `data`/`eval` key a
    protocol (or the sampling every protocol shares) reads is declared for it, and none is declared
    that it does not read."""
    from memae.datasets import ALL_READ, PROTOCOL_READS, PROTOCOLS
    assert set(PROTOCOL_READS) == set(PROTOCOLS)   # every protocol has its row
    pattern = re.compile(r'params\["(data|eval)"\](?:\["(\w+)"\]|\.get\("(\w+)")')

    def reads(*files):
        found = set()
        for f in files:
            for sec, a, b in pattern.findall((REPO / "memae" / f).read_text()):
                found.add((sec, a or b))
        return found

    shared = reads("protocols/samples.py")
    for role, declared in PROTOCOL_READS.items():
        read = reads(f"protocols/{role}.py") | shared
        table = {(sec, k) for sec in ("data", "eval") for k in declared[sec] + ALL_READ[sec]}
        assert read <= table, f"{role} reads {sorted(read - table)}, not in memae.datasets.PROTOCOL_READS"
        extra = {x for x in table - read if x not in {(s, k) for s in ALL_READ for k in ALL_READ[s]}}
        assert not extra, f"memae.datasets.PROTOCOL_READS declares {sorted(extra)} for {role}, which it does not read"


# --- the loaded settings are the files' values, nothing added -----------------------------------

@pytest.mark.parametrize("ds", ["mnist", "cifar10", "kddcup99", "ped2"])
def test_the_paper_settings_are_the_files_top_level_unchanged(ds):
    """No default, no null key and no conversion is added: the run's recorded settings (and their
    digest, which decides whether a run is retrained) are what the file says."""
    doc = yaml.safe_load((REPO / "params" / f"{ds}.yaml").read_text())
    expected = {k: v for k, v in doc.items() if k not in ("profiles", "studies")}
    got = load_params(ds, "paper")
    assert got == expected
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)   # 0.0 stays 0.0, 1 stays 1


def test_typed_params_give_the_same_values_as_the_dict():
    p = load_params("ped2", "smoke")
    t = typed_params(p)
    assert t.model.channels == [16, 32, 32, 32] and t.memory.num_items == 50 and t.train.epochs == 8
    assert t.eval.clip_error == "official" and t.model.init == "official"
    assert p == load_params("ped2", "smoke")   # typing did not touch the dict


# --- like: ---------------------------------------------------------------------------------------

def _without(p: dict, *paths: str) -> dict:
    p = copy.deepcopy(p)
    for path in paths:
        *parents, last = path.split(".")
        node = p
        for k in parents:
            node = node[k]
        node.pop(last)
    return p


@pytest.mark.parametrize("profile", PROFILES)
def test_cifar10_jpeg_is_cifar10_in_every_profile(profile):
    assert load_params("cifar10_jpeg", profile) == load_params("cifar10", profile)
    assert load_studies("cifar10_jpeg") == load_studies("cifar10")


def test_a_video_dataset_like_ped2_inherits_the_network_and_the_profiles_and_overrides_its_keys():
    ped2, avenue = load_params("ped2", "smoke"), load_params("avenue", "smoke")
    # inherited: ped2's smoke overlay (narrow network, N = 50, 8 epochs, 32x32 frames)
    assert avenue["model"]["channels"] == [16, 32, 32, 32] and avenue["memory"]["num_items"] == 50
    assert avenue["train"]["epochs"] == 8 and avenue["data"]["frame_size"] == [32, 32]
    # overridden at the top level (every profile) and in avenue's own smoke overlay
    assert avenue["protocol"]["variants"] == ["ae", "memae_nonspar", "memae"]
    assert avenue["protocol"]["sweep_num_items"] == [] and ped2["protocol"]["sweep_num_items"] == [10, 50]
    assert "21 test videos" in avenue["protocol"]["description"]
    # and nothing else differs
    keys = ("protocol.variants", "protocol.sweep_num_items", "protocol.description")
    assert _without(avenue, *keys) == _without(ped2, *keys)
    # avenue's quick overlay (protocol only) merges with ped2's (frames, epochs, clips)
    quick = load_params("avenue", "quick")
    assert quick["data"]["frame_size"] == [64, 64] and quick["train"]["clips_per_epoch"] == 2000
    assert quick["protocol"]["sweep_num_items"] == []


def _files(tmp_path: Path, files: dict[str, dict]) -> Path:
    base = yaml.safe_load((REPO / "params" / "kddcup99.yaml").read_text())
    for name, doc in files.items():
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(base if doc is None else doc))
    return tmp_path


def test_like_follows_a_chain(tmp_path):
    d = _files(tmp_path, {"kddcup99": None, "a": {"like": "kddcup99", "train": {"epochs": 7}},
                          "b": {"like": "a", "memory": {"num_items": 9}}})
    b = load_params("b", "smoke", d)
    assert b["train"]["epochs"] == 2                  # kddcup99's smoke overlay wins over a's top level
    assert load_params("b", "paper", d)["train"]["epochs"] == 7 and b["memory"]["num_items"] == 9
    assert b["train"]["batch_size"] == 256 and b["protocol"]["seeds"] == [0, 1]


@pytest.mark.parametrize("files,match", [
    ({"a": {"like": "nosuch"}}, r"a\.yaml: 'like: nosuch' but .*nosuch\.yaml .*does not exist"),
    ({"a": {"like": "a"}}, r"a\.yaml: 'like: a' makes a cycle \(a -> a\)"),
    ({"a": {"like": "b"}, "b": {"like": "a"}}, r"b\.yaml: 'like: a' makes a cycle \(a -> b -> a\)"),
    ({"a": {"like": ["kddcup99"]}}, r"a\.yaml: 'like' must name another dataset"),
    ({"a": {"like": "pipeline"}, "pipeline": {"profile": "paper"}}, r"'like: pipeline' but .* not a dataset"),
])
def test_a_like_of_an_unknown_dataset_or_a_cycle_is_a_clear_error(tmp_path, files, match):
    d = _files(tmp_path, {"kddcup99": None, **files})
    with pytest.raises(ParamsError, match=match):
        load_params("a", "paper", d)


# --- the JSON Schema -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(pm.SCHEMAS))
def test_the_committed_schema_is_that_of_the_models(name):
    committed = (REPO / "params" / name).read_text()
    assert committed == pm.schema_text(pm.SCHEMAS[name]), \
        f"params/{name} is out of date with memae/params_model.py: run `python -m memae.params_model`"


def _validator(name: str):
    return jsonschema.Draft202012Validator(json.loads((REPO / "params" / name).read_text()))


def test_the_schema_accepts_every_dataset_and_profile_and_writes_no_default():
    v, vp = _validator("schema.json"), _validator("pipeline.schema.json")
    assert '"default"' not in (REPO / "params" / "schema.json").read_text().replace('"default",', "")
    for profile in PROFILES:
        vp.validate(load_pipeline(REPO / "params", profile))
        for ds in DATASETS:
            v.validate(load_params(ds, profile, REPO / "params"))


@pytest.mark.parametrize("change", [
    lambda p: p["memory"].update(addressing="dott"), lambda p: p["train"].update(lr=0),
    lambda p: p["train"].update(epochs=0), lambda p: p["train"].update(val_fraction=1),
    lambda p: p["model"]["encoder"][0].update(kernl=3), lambda p: p["protocol"].pop("seeds"),
    lambda p: p["protocol"].update(variants=["vae"]), lambda p: p.update(extra={}),
    lambda p: p["protocol"].update(splits=["Class 0"]),
])
def test_the_schema_refuses_what_the_params_documentation_refuses(change):
    p = load_params("mnist", "paper")
    change(p)
    with pytest.raises(jsonschema.ValidationError):
        _validator("schema.json").validate(p)


def test_the_pipeline_schema_refuses_a_root_with_shell_characters():
    p = load_pipeline(REPO / "params", "paper")
    p["results_root"] = "res$HOME"
    with pytest.raises(jsonschema.ValidationError):
        _validator("pipeline.schema.json").validate(p)


# --- the names agree with the code that acts on them, and build_model takes typed params ---------

def test_the_closed_sets_are_those_the_code_implements():
    from typing import get_args

    from memae.device import PRECISIONS
    assert set(get_args(pm.Activation)) == set(ACTIVATIONS)
    assert set(get_args(pm.OutputActivation)) == set(OUTPUTS)
    assert set(get_args(pm.Precision)) == set(PRECISIONS)
    assert set(get_args(pm.VariantName)) == set(VARIANTS)
    from memae.protocols.oneclass import NORMALIZE
    assert set(get_args(pm.Normalize)) == set(NORMALIZE)


MODEL = {"kind": "conv", "channels": [4, 8], "kernels": [3, 3], "strides": [2, 2], "activation": "relu",
         "output_activation": "sigmoid", "init": "official"}
MEMORY = {"num_items": 10, "shrink_thres": 0.1, "addressing": "dot", "granularity": "image"}


@pytest.mark.parametrize("section,key,bad", [("model", "init", "Official"), ("model", "init", "xavier"),
                                             ("memory", "granularity", "pixel"), ("memory", "granularity", None)])
def test_build_model_refuses_an_unknown_init_or_granularity(section, key, bad):
    model, memory = dict(MODEL), dict(MEMORY)
    (model if section == "model" else memory)[key] = bad
    with pytest.raises(ValueError, match=f"{section}.{key}"):
        build_model(model, memory, VARIANTS["memae"], [1, 12, 12])


def test_the_autoencoder_refuses_an_unknown_granularity():
    """Any granularity other than "image" used to run one query per position, silently."""
    with pytest.raises(ValueError, match="granularity"):
        AutoEncoder(torch.nn.Identity(), torch.nn.Identity(), None, "imgae")


def test_build_model_from_typed_params_matches_the_mapping():
    typed = (ModelParams.parse(MODEL), MemoryParams.parse(MEMORY))
    torch.manual_seed(0)
    a = build_model(*typed, VARIANTS["memae"], [1, 12, 12])
    torch.manual_seed(0)
    b = build_model(MODEL, MEMORY, VARIANTS["memae"], [1, 12, 12])
    assert a.memory.weight.shape == (10, 8 * 3 * 3)   # one query per image: the whole 8x3x3 code
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    with pytest.raises(TypeError):
        build_model(object(), typed[1], VARIANTS["memae"], [1, 12, 12])
