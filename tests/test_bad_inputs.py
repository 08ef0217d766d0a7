"""Bad input, case by case: each one must end in a clear error that names the file and the thing
that is wrong (the key, the member, the record and column, the metric), never in a traceback, a
silently wrong number or code run from a data file. Issue 12 lists where each case comes from."""
import gzip
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from memae import cli
from memae.aggregate import aggregate
from memae.compare import compare
from memae.config import ParamsError, load_params, load_pipeline
from memae.evaluate import load_trained
from memae.finite import NonFiniteError
from memae.report import load_metrics
from memae.runfile import RunFileError

REPO = Path(__file__).resolve().parent.parent
REPORTED = REPO / "params" / "reported.yaml"
FIXTURES = REPO / "tests" / "fixtures" / "results"


@pytest.fixture
def pdir(tmp_path, params_dir):
    out = tmp_path / "params"
    shutil.copytree(params_dir, out)
    return out


def edit(path: Path, change) -> None:
    """Load a params file, apply change(doc) to the parsed tree, write it back."""
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc))


# --- params: ranges and required keys, checked after the profile overlay is merged ---------------

@pytest.mark.parametrize("section,key,value,allowed", [
    ("train", "epochs", -1, "an integer >= 1"),
    ("train", "epochs", 0, "an integer >= 1"),
    ("train", "lr", 0, "a finite number > 0"),
    ("train", "lr", -0.001, "a finite number > 0"),
    ("train", "lr", float("nan"), "a finite number > 0"),
    ("train", "lr", float("inf"), "a finite number > 0"),
    ("train", "batch_size", 0, "an integer >= 1"),
    ("train", "val_fraction", 1.0, ">= 0 and < 1"),
    ("train", "val_fraction", -0.1, ">= 0 and < 1"),
    ("eval", "batch_size", 0, "an integer >= 1"),
    ("eval", "test_fraction", 0.0, "between 0 and 1"),
    ("memory", "num_items", 0, "an integer >= 1"),
    ("memory", "shrink_thres", -0.1, ">= 0 and < 1"),
    ("memory", "addressing", "euclid", "dot or cosine"),
    ("loss", "entropy_weight", -1, ">= 0"),
    ("protocol", "seeds", [], "non-empty list"),
    ("protocol", "seeds", [-1], "0 .. 2**32-1"),
    ("protocol", "splits", ["All Records"], "lower-case letters"),
    ("protocol", "variants", ["memae", "vae"], "variants from"),
])
def test_out_of_range_value_names_file_key_and_allowed_values(pdir, section, key, value, allowed):
    edit(pdir / "kddcup99.yaml", lambda d: d[section].__setitem__(key, value))
    with pytest.raises(ParamsError) as e:
        load_params("kddcup99", "paper", pdir)
    msg = str(e.value)
    assert "kddcup99.yaml" in msg and f"'{section}.{key}'" in msg and allowed in msg


def test_out_of_range_value_in_a_profile_overlay_is_caught_after_merging(pdir):
    edit(pdir / "kddcup99.yaml", lambda d: d["profiles"]["smoke"]["train"].__setitem__("epochs", -1))
    assert load_params("kddcup99", "paper", pdir)["train"]["epochs"] == 200   # paper is untouched
    with pytest.raises(ParamsError, match=r"kddcup99\.yaml: 'train\.epochs' must be an integer >= 1, "
                                          r"got -1 \(profile smoke\)"):
        load_params("kddcup99", "smoke", pdir)


@pytest.mark.parametrize("section,key", [("train", "lr"), ("protocol", "seeds"), ("train", "epochs"),
                                         ("memory", "num_items"), ("model", "kind")])
def test_missing_required_key_names_file_and_key(pdir, section, key):
    edit(pdir / "kddcup99.yaml", lambda d: d[section].pop(key))
    with pytest.raises(ParamsError, match=rf"kddcup99\.yaml: required key '{section}\.{key}' is missing"):
        load_params("kddcup99", "paper", pdir)   # quick would set train.epochs itself


def test_missing_section_names_its_first_required_key(pdir):
    edit(pdir / "mnist.yaml", lambda d: d.pop("protocol"))
    with pytest.raises(ParamsError, match=r"mnist\.yaml: required key 'protocol\.splits' is missing"):
        load_params("mnist", "paper", pdir)


def test_conv_model_without_its_layers_is_a_params_error(pdir):
    def drop(d):
        for k in ("encoder", "decoder", "channels", "kernels", "strides"):
            d["model"].pop(k, None)
        for overlay in d.get("profiles", {}).values():
            (overlay or {}).pop("model", None)
    edit(pdir / "mnist.yaml", drop)
    with pytest.raises(ParamsError, match=r"mnist\.yaml: a conv 'model' needs encoder and decoder"):
        load_params("mnist", "paper", pdir)


@pytest.mark.parametrize("text,expected", [
    ("", "the params file is empty"),
    ("\n# only a comment\n", "the params file is empty"),
    ("- a\n- list\n", "expected a mapping at the top level"),
    ("train: [1, 2\n", "not valid YAML"),
    ("profiles: [quick]\n", "'profiles' must be a mapping"),
    ("profiles:\n  quick: 5\n", "'profiles.quick' must be a mapping"),
])
def test_malformed_params_file(pdir, text, expected):
    (pdir / "kddcup99.yaml").write_text(text)
    with pytest.raises(ParamsError, match=expected) as e:
        load_params("kddcup99", "paper", pdir)
    assert "kddcup99.yaml" in str(e.value)


def test_params_file_that_is_not_utf8(pdir):
    (pdir / "kddcup99.yaml").write_bytes(b"train: {lr: \xff\xfe}\n")
    with pytest.raises(ParamsError, match=r"kddcup99\.yaml: not valid YAML"):
        load_params("kddcup99", "paper", pdir)


@pytest.mark.parametrize("root", ["$(touch x)data", "data;rm -rf y", "data`id`", "a{dataset}b",
                                  "it's", "data\nx", " data", "data|x", "data>x", "*"])
def test_data_root_with_shell_or_pattern_characters_is_refused(pdir, root):
    edit(pdir / "pipeline.yaml", lambda d: d.__setitem__("data_root", root))
    with pytest.raises(ParamsError, match=r"pipeline\.yaml: 'data_root' .* may hold only"):
        load_pipeline(pdir, "quick")


def test_roots_with_spaces_are_accepted_and_results_root_is_checked_too(pdir):
    edit(pdir / "pipeline.yaml", lambda d: d.update(data_root="my data", results_root="/tmp/my results"))
    pipe = load_pipeline(pdir, "quick")
    assert pipe["data_root"] == "my data" and pipe["results_root"] == "/tmp/my results"
    edit(pdir / "pipeline.yaml", lambda d: d.update(results_root="res$HOME"))
    with pytest.raises(ParamsError, match=r"pipeline\.yaml: 'results_root' 'res\$HOME'"):
        load_pipeline(pdir, "quick")


def test_rules_quote_every_path_in_their_shell_commands():
    """Every {DATA}, {RESULTS}, {log}, {output...} and {params.out/run} in a shell: string carries :q."""
    import re
    shells = [(smk.name, block) for smk in (REPO / "workflow" / "rules").glob("*.smk")
              for block in re.findall(r"shell:\s*\n((?:\s*\"[^\n]*\"\n)+)", smk.read_text())]
    assert len(shells) >= 7   # fetch, prepare, train, evaluate, aggregate, sweep, report
    for name, block in shells:
        for field, quoted in re.findall(r"\{([A-Za-z_.]+)(:q)?\}", block):
            if field in ("DATA", "RESULTS", "log", "PROFILE", "params.out", "params.run") \
                    or field.startswith("output"):
                assert quoted, f"{name}: {{{field}}} is not quoted in {block}"


# --- run files are loaded without running code ---------------------------------------------------

class Payload:
    """Would create a file when unpickled; must never run."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_model_file_with_a_pickled_payload_is_refused_and_nothing_runs(tmp_path):
    from tests.fixtures.runs import save_model
    model = tmp_path / "run" / "model.pt"
    save_model(model)
    assert load_trained(model)[1]["input_shape"] == [1, 28, 28]   # a genuine file loads
    marker = tmp_path / "code-ran"
    saved = torch.load(model, weights_only=True)
    saved["config"]["extra"] = Payload(marker)
    torch.save(saved, model)
    with pytest.raises(RunFileError, match=r"model\.pt: refused to load: it holds a pickled object") as e:
        load_trained(model)
    assert "weights_only=False" not in str(e.value)   # never advise the unsafe way
    assert not marker.exists()


def test_checkpoint_with_a_pickled_payload_stops_training_before_anything_runs(tmp_path, params_dir):
    from memae.data import kddcup99, synthetic
    from memae.train import train
    raw = tmp_path / "raw"
    synthetic.make_mirror("kddcup99", raw, {"records": 300})
    kddcup99.prepare(raw / "kddcup99", tmp_path / "prepared")
    marker = tmp_path / "code-ran"
    run = tmp_path / "run"
    run.mkdir()
    torch.save({"config_digest": "x", "payload": Payload(marker)}, run / "checkpoint.pt")
    params = load_params("kddcup99", "smoke", params_dir)
    with pytest.raises(RunFileError, match=r"checkpoint\.pt: refused to load"):
        train("kddcup99", tmp_path / "prepared", "ae", "all", 0, params, run)
    assert not marker.exists() and not (run / "model.pt").exists()


def test_truncated_model_file_is_a_clear_error(tmp_path):
    from tests.fixtures.runs import save_model
    model = tmp_path / "model.pt"
    save_model(model)
    model.write_bytes(model.read_bytes()[:200])
    with pytest.raises(RunFileError, match=r"model\.pt: cannot be read as a run file.*train the run again"):
        load_trained(model)


# --- non-finite numbers: evaluate, aggregate, report, compare --------------------------------------

def write_runs(results: Path, values: dict[int, float], variant: str = "ae") -> dict:
    """Run folders of kddcup99 with the given f1 per seed; returns the params aggregate needs."""
    for seed, f1 in values.items():
        run = results / "kddcup99" / variant / "all" / f"seed{seed}"
        run.mkdir(parents=True)
        (run / "metrics.json").write_text(json.dumps({"metrics": {"f1": f1, "auc": 0.9}, "eval_s": 1.0}))
        (run / "train_log.json").write_text(json.dumps({"train_s": 1.0}))
    return {"protocol": {"variants": [variant], "seeds": list(values), "splits": ["all"],
                         "description": "test"}}


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_aggregate_refuses_a_non_finite_run_metric_and_writes_nothing(tmp_path, bad):
    params = write_runs(tmp_path, {0: 0.9, 1: bad})
    out = tmp_path / "kddcup99" / "metrics.json"
    with pytest.raises(NonFiniteError, match=r"seed1/metrics\.json: metric 'f1' is -?(nan|inf)"):
        aggregate("kddcup99", "quick", params, tmp_path, out)
    assert not out.exists()


def test_aggregate_writes_valid_json_for_finite_runs(tmp_path):
    params = write_runs(tmp_path, {0: 0.9, 1: 0.8})
    out = tmp_path / "kddcup99" / "metrics.json"
    aggregate("kddcup99", "quick", params, tmp_path, out)
    m = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"bare {c} in {out}"))
    assert m["variants"]["ae"]["f1"]["mean"] == pytest.approx(0.85)
    assert m["variants"]["ae"]["f1"]["std"] == pytest.approx(math.sqrt(0.005))


@pytest.mark.parametrize("field,bad", [("mean", "NaN"), ("mean", "Infinity"), ("std", "NaN"),
                                       ("mean", "-Infinity")])
def test_report_and_compare_refuse_non_finite_metrics(tmp_path, field, bad):
    results = tmp_path / "results"
    shutil.copytree(FIXTURES, results)
    path = results / "kddcup99" / "metrics.json"
    text = path.read_text()
    m = json.loads(text)
    m["variants"]["memae"]["f1"][field] = "@BAD@"
    path.write_text(json.dumps(m).replace('"@BAD@"', bad))
    with pytest.raises(NonFiniteError, match=rf"kddcup99/metrics\.json: metric 'memae\.f1\.{field}' is"):
        load_metrics(path)
    with pytest.raises(NonFiniteError, match=r"memae\.f1"):
        compare(results, REPORTED, ["mnist", "kddcup99"], "quick")
    args = ["compare", "--results", str(results), "--params-dir", str(REPO / "params"), "--profile", "quick"]
    assert cli.main(args) == 1


def test_evaluate_refuses_an_undefined_auc_on_a_one_class_test_split(tmp_path, params_dir):
    from memae.data import kddcup99, synthetic
    from memae.evaluate import evaluate
    from memae.train import train
    raw = tmp_path / "raw"
    synthetic.make_mirror("kddcup99", raw, {"records": 300})
    kddcup99.prepare(raw / "kddcup99", tmp_path / "prepared")
    params = load_params("kddcup99", "smoke", params_dir)
    params["train"]["epochs"] = 1
    run = tmp_path / "run"
    train("kddcup99", tmp_path / "prepared", "ae", "all", 0, params, run)
    np.save(tmp_path / "prepared" / "labels.npy",
            np.zeros_like(np.load(tmp_path / "prepared" / "labels.npy")))   # no anomaly left
    with pytest.raises(NonFiniteError, match=r"run/metrics\.json \(not written\): metric 'auc' is nan.*"
                                             r"one class only \(0 anomalous"):
        evaluate("kddcup99", tmp_path / "prepared", run, params)
    assert not (run / "metrics.json").exists()


# --- compare: a selected dataset without results ---------------------------------------------------

def test_compare_strict_fails_when_a_selected_dataset_has_no_results(tmp_path):
    results = tmp_path / "results"
    (results / "kddcup99").mkdir(parents=True)
    m = json.loads((FIXTURES / "kddcup99" / "metrics.json").read_text())
    m["variants"]["ae"]["recall"]["mean"] = 0.94    # every number run within tolerance
    (results / "kddcup99" / "metrics.json").write_text(json.dumps(m))
    text, status = compare(results, REPORTED, ["mnist", "kddcup99"], "quick")
    assert status == 0 and "note: selected dataset mnist has no results" in text
    text, status = compare(results, REPORTED, ["mnist", "kddcup99"], "quick", strict=True)
    assert status == 1 and "error: selected dataset mnist has no results" in text
    assert f"{results}/mnist/metrics.json is missing" in text
    args = ["compare", "--results", str(results), "--params-dir", str(REPO / "params"),
            "--profile", "quick", "--datasets", "mnist,kddcup99"]
    assert cli.main(args) == 0 and cli.main(args + ["--strict"]) == 1
    assert cli.main(args[:-1] + ["kddcup99", "--strict"]) == 0   # only what was run is selected


# --- archive bombs ---------------------------------------------------------------------------------

def tar_gz(path: Path, members: dict[str, bytes]) -> Path:
    import io
    import tarfile
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


MIB = 1 << 20


def test_archive_over_its_size_cap_is_refused_naming_the_member(tmp_path, monkeypatch):
    from memae.data.archive import ArchiveError, extract
    arc = tar_gz(tmp_path / "UCSD_Anomaly_Dataset.tar.gz",
                 {"a/1.tif": bytes(MIB), "a/2.tif": bytes(MIB), "a/3.tif": bytes(MIB)})
    monkeypatch.setenv("MEMAE_ARCHIVE_MAX_GIB", str(2.5 / 1024))   # 2.5 MiB
    with pytest.raises(ArchiveError, match=r"UCSD_Anomaly_Dataset\.tar\.gz: member 'a/3\.tif' takes the "
                                           r"unpacked size to 3,145,728 bytes, over the cap of 2,621,440"):
        extract(arc, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.tmp").exists()
    monkeypatch.setenv("MEMAE_ARCHIVE_MAX_GIB", str(4 / 1024))     # a genuine archive under the cap
    assert sorted(p.name for p in (extract(arc, tmp_path / "out") / "a").iterdir()) == ["1.tif", "2.tif", "3.tif"]


def test_archive_with_a_bomb_ratio_is_refused(tmp_path, monkeypatch):
    from memae.data import archive
    monkeypatch.setattr(archive, "RATIO_FLOOR", MIB)   # the real floor is 256 MB: scaled down
    arc = tar_gz(tmp_path / "x.tar.gz", {"ok.bin": np.random.default_rng(0).bytes(MIB // 64),
                                         "zeros.bin": bytes(8 * MIB)})
    with pytest.raises(archive.ArchiveError, match=r"x\.tar\.gz: member 'zeros\.bin' unpacks the archive to "
                                                   r"8,404,992 bytes from [0-9,]+, a ratio over 100"):
        archive.extract(arc, tmp_path / "out")
    with pytest.raises(archive.ArchiveError, match="'zeros.bin'"):
        archive.read_members(arc, lambda n: True)


def test_zip_member_with_a_bomb_ratio_is_refused_before_any_write(tmp_path, monkeypatch):
    import zipfile
    from memae.data import archive
    monkeypatch.setattr(archive, "RATIO_FLOOR", MIB)
    arc = tmp_path / "Avenue_Dataset.zip"
    with zipfile.ZipFile(arc, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("videos/01.avi", np.random.default_rng(0).bytes(4 * MIB))   # keeps the overall ratio low
        zf.writestr("videos/02.avi", bytes(2 * MIB))
    with pytest.raises(archive.ArchiveError, match=r"member 'videos/02\.avi' unpacks the member to 2,097,152"):
        archive.extract(arc, tmp_path / "out")
    assert not (tmp_path / "out.tmp").exists()


def test_cifar10_member_too_big_for_a_batch_is_refused_before_it_is_read(tmp_path):
    from memae.data import cifar10
    from memae.data.archive import ArchiveError
    raw = tmp_path / "raw"
    raw.mkdir()
    batch = bytes((cifar10.BATCH_BYTES // cifar10.RECORD + 1) * cifar10.RECORD)   # 10,001 records
    tar_gz(raw / "cifar-10-binary.tar.gz", {f"{cifar10.FOLDER}/data_batch_1.bin": batch})
    with pytest.raises(ArchiveError, match=r"member 'cifar-10-batches-bin/data_batch_1\.bin' is 30,733,073 "
                                           r"bytes, more than the 30,730,000"):
        cifar10.prepare(raw, tmp_path / "prepared")


def test_archive_caps_hold_the_real_archives_with_room(tmp_path):
    """Each cap is above what the published archive unpacks to (sizes from the publishers)."""
    from memae.data.archive import GIB, limits_for
    real = {"shanghaitech.tar.gz": 40 * GIB, "UCSD_Anomaly_Dataset.tar.gz": 2 * GIB,
            "Avenue_Dataset.zip": 3 * GIB, "cifar-10-binary.tar.gz": 178 * MIB}
    for name, size in real.items():
        assert size < limits_for(Path(name)).max_total < 1024 * GIB, name


# --- raw files swapped after fetch verified them ---------------------------------------------------

@pytest.fixture
def fetched_kdd(tmp_path):
    """data/raw/kddcup99 as `memae fetch --synthetic` leaves it (file and .verified stamp)."""
    root = tmp_path / "data" / "raw"
    assert cli.main(["fetch", "kddcup99", "--dest", str(root / "kddcup99"), "--synthetic",
                     "--profile", "smoke", "--params-dir", str(REPO / "params")]) == 0
    return root / "kddcup99"


def prepare_args(raw: Path, profile: str = "smoke") -> list[str]:
    return ["prepare", "kddcup99", "--raw", str(raw), "--out", str(raw.parent.parent / "prepared"),
            "--profile", profile, "--params-dir", str(REPO / "params")]


def test_prepare_refuses_a_raw_file_swapped_after_fetch_and_keeps_what_was_prepared(fetched_kdd, capsys):
    from memae.data.fetch import file_sha256
    target = fetched_kdd / "kddcup.data_10_percent.gz"
    expected = json.loads((fetched_kdd / ".kddcup.data_10_percent.gz.verified").read_text())["sha256"]
    assert file_sha256(target) == expected
    assert cli.main(prepare_args(fetched_kdd)) == 0
    summary = fetched_kdd.parent.parent / "prepared" / "summary.json"
    before = summary.read_text()
    lines = gzip.decompress(target.read_bytes()).decode().splitlines()
    swapped = gzip.compress(("\n".join(lines[:-1]) + "\n").encode())   # one record dropped
    target.write_bytes(swapped)
    capsys.readouterr()
    assert cli.main(prepare_args(fetched_kdd)) == 1
    err = capsys.readouterr().err
    assert f"{target} changed after memae fetch verified it" in err
    assert f"its sha256 is {file_sha256(target)}, expected {expected}" in err
    assert summary.read_text() == before   # the earlier prepared data is kept as it was


@pytest.mark.parametrize("change,key", [
    (lambda d: d.clear(), "the params file is empty"),
    (lambda d: d["train"].update(lr=0), "'train.lr' must be a finite number > 0, got 0"),
    (lambda d: d["train"].update(epochs=-1), "'train.epochs' must be an integer >= 1, got -1"),
    (lambda d: d["train"].update(batch_size=0), "'train.batch_size' must be an integer >= 1, got 0"),
    (lambda d: d["train"].pop("lr"), "required key 'train.lr' is missing"),
    (lambda d: d["protocol"].pop("seeds"), "required key 'protocol.seeds' is missing"),
])
def test_cli_steps_stop_on_bad_params_with_one_line_naming_file_and_key(pdir, tmp_path, capsys, change, key):
    path = pdir / "kddcup99.yaml"
    if key == "the params file is empty":
        path.write_text("")
    else:
        edit(path, change)
    common = ["--params-dir", str(pdir), "--profile", "paper"]
    for args in (["train", "kddcup99", "--prepared", str(tmp_path / "p"), "--variant", "ae", "--split", "all",
                  "--seed", "0", "--out", str(tmp_path / "run")],
                 ["prepare", "kddcup99", "--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "p")]):
        assert cli.main(args + common) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"memae {args[0]}: error: {path}: ") and key in err and "Traceback" not in err
    assert not (tmp_path / "run").exists() and not (tmp_path / "p").exists()


def test_prepare_refuses_a_raw_file_that_fetch_never_verified(fetched_kdd, capsys):
    (fetched_kdd / ".kddcup.data_10_percent.gz.verified").unlink()
    assert cli.main(prepare_args(fetched_kdd)) == 1
    assert "was not verified by memae fetch" in capsys.readouterr().err


def test_prepare_of_published_data_checks_the_stamp_against_the_checksum_table(fetched_kdd, capsys):
    assert cli.main(prepare_args(fetched_kdd)) == 0   # synthetic data under the smoke profile: fine
    capsys.readouterr()
    assert cli.main(prepare_args(fetched_kdd, "quick")) == 1   # as if it were the published file
    assert "but the published one of kddcup.data_10_percent.gz is 8045aca0" in capsys.readouterr().err


# --- strict readers: KDDCUP99 records and MNIST labels ---------------------------------------------

GOOD_KDD = [
    "0,tcp,http,SF,181,5450,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,8,8,0.00,0.00,0.00,0.00,1.00,0.00,0.00,9,9,"
    "1.00,0.00,0.11,0.00,0.00,0.00,0.00,0.00,normal.",
    "0,icmp,ecr_i,SF,1032,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,511,511,0.00,0.00,0.00,0.00,1.00,0.00,0.00,"
    "255,255,1.00,0.00,1.00,0.00,0.00,0.00,0.00,0.00,smurf.",
    "0,tcp,private,S0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,123,6,1.00,1.00,0.00,0.00,0.05,0.07,0.00,255,26,"
    "0.10,0.05,0.00,0.00,1.00,1.00,0.00,0.00,neptune.",
]


def kdd_file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "kddcup.data_10_percent.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return path


def replace_field(line: str, index: int, value: str) -> str:
    fields = line.split(",")
    fields[index] = value
    return ",".join(fields)


def test_good_kdd_records_read_and_encode(tmp_path):
    from memae.data import kddcup99
    x, y, names = kddcup99.encode(kddcup99.read_records(kdd_file(tmp_path, GOOD_KDD)))
    assert y.tolist() == [1, 0, 0] and x.shape == (3, 38 + 2 + 3 + 2)   # 2 protocols, 3 services, 2 flags
    assert np.isfinite(x).all() and x.min() == 0.0 and x.max() == 1.0


@pytest.mark.parametrize("record,col,value,expected", [
    (2, 4, "", r"record 2, column 'src_bytes' is empty or missing"),
    (3, 1, "", r"record 3, column 'protocol_type' is empty or missing"),
    (2, 41, "", r"record 2, column 'label' is empty or missing"),
    (1, 0, "inf", r"record 1, column 'duration' holds 'inf', not a finite number"),
    (3, 24, "nan", r"record 3, column 'serror_rate' holds 'nan', not a finite number"),
    (2, 22, "many", r"record 2, column 'count' holds 'many', not a finite number"),
    (1, 41, "normal", r"record 1, column 'label' is 'normal': KDDCUP99 labels end in a dot"),
])
def test_bad_kdd_field_names_record_and_column(tmp_path, record, col, value, expected):
    from memae.data import kddcup99
    lines = list(GOOD_KDD)
    lines[record - 1] = replace_field(lines[record - 1], col, value)
    path = kdd_file(tmp_path, lines)
    with pytest.raises(ValueError, match=r"kddcup\.data_10_percent\.gz: " + expected):
        kddcup99.read_records(path)


def test_kdd_record_cut_short_names_the_record(tmp_path):
    from memae.data import kddcup99
    lines = list(GOOD_KDD)
    lines[1] = ",".join(lines[1].split(",")[:30])
    with pytest.raises(ValueError, match=r"record 2, column 'srv_diff_host_rate' is empty or missing"):
        kddcup99.read_records(kdd_file(tmp_path, lines))


def test_kdd_file_whose_labels_all_lack_the_dot(tmp_path):
    from memae.data import kddcup99
    path = kdd_file(tmp_path, [line.rstrip(".") for line in GOOD_KDD])
    with pytest.raises(ValueError, match=r"record 1, column 'label' is 'normal'.*3 record\(s\) lack it"):
        kddcup99.read_records(path)


def test_kdd_file_without_any_anomaly_or_with_nothing_else(tmp_path):
    from memae.data import kddcup99
    attacks = [replace_field(line, 41, "smurf.") for line in GOOD_KDD]
    with pytest.raises(ValueError, match=r"0 of 3 records are labelled 'normal\.'.*no anomaly"):
        kddcup99.encode(kddcup99.read_records(kdd_file(tmp_path, attacks)))
    normals = [replace_field(line, 41, "normal.") for line in GOOD_KDD]
    with pytest.raises(ValueError, match=r"3 of 3 records are labelled 'normal\.'.*nothing else"):
        kddcup99.encode(kddcup99.read_records(kdd_file(tmp_path, normals)))


@pytest.mark.parametrize("content,expected", [(b"", "the file is empty"),
                                              (gzip.compress(b""), "holds no records")])
def test_empty_kdd_file(tmp_path, content, expected):
    from memae.data import kddcup99
    path = tmp_path / "kddcup.data_10_percent.gz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"kddcup\.data_10_percent\.gz: {expected}"):
        kddcup99.read_records(path)


@pytest.mark.parametrize("label", [10, 255])
def test_mnist_label_outside_the_digits(tmp_path, label):
    from memae.data import mnist, synthetic
    synthetic.make_mirror("mnist", tmp_path, {"train_per_class": 2, "test_per_class": 1})
    raw = tmp_path / "mnist"
    labels = mnist.read_idx(raw / "t10k-labels-idx1-ubyte.gz").copy()
    labels[4] = label
    synthetic.write_idx(raw / "t10k-labels-idx1-ubyte.gz", labels)
    with pytest.raises(ValueError, match=rf"t10k-labels-idx1-ubyte\.gz: record 5 has label {label}, "
                                         r"outside the digits 0-9 \(1 such record"):
        mnist.prepare(raw, tmp_path / "prepared")
    assert not (tmp_path / "prepared").exists()


def test_the_reason_given_for_an_undefined_metric():
    from memae.finite import why_undefined
    assert "one class only (0 anomalous of 3)" in why_undefined([0, 0, 0], [0.1, 0.2, 0.3])
    assert "scores are not finite" in why_undefined([0, 1, 0], [0.1, float("nan"), 0.3])
    assert "no test video holds both" in why_undefined([0, 1, 0], [0.1, 0.2, 0.3])
