import shutil

import pytest

from memae.config import ParamsError, load_params, load_pipeline


@pytest.fixture
def pdir(tmp_path, params_dir):
    for f in params_dir.glob("*.yaml"):
        shutil.copy(f, tmp_path / f.name)
    return tmp_path


def test_real_params_load_for_every_profile(params_dir):
    for ds in ("mnist", "kddcup99"):
        for profile in ("paper", "quick", "smoke"):
            p = load_params(ds, profile, params_dir)
            assert set(p) >= {"model", "memory", "train", "eval", "protocol"}
    assert load_params("mnist", "quick", params_dir)["train"]["epochs"] < \
        load_params("mnist", "paper", params_dir)["train"]["epochs"]
    assert len(load_params("kddcup99", "paper", params_dir)["protocol"]["seeds"]) == 20


def test_unknown_key_names_file_and_key(pdir):
    text = (pdir / "kddcup99.yaml").read_text().replace("  lr: 0.0001", "  lr: 0.0001\n  lr_decay: 0.5")
    (pdir / "kddcup99.yaml").write_text(text)
    with pytest.raises(ParamsError, match=r"kddcup99\.yaml.*unknown key 'train\.lr_decay'"):
        load_params("kddcup99", "paper", pdir)


def test_wrong_type_names_file_and_key(pdir):
    text = (pdir / "mnist.yaml").read_text().replace("  epochs: 100", "  epochs: many")
    (pdir / "mnist.yaml").write_text(text)
    with pytest.raises(ParamsError, match=r"mnist\.yaml.*'train\.epochs' must be int"):
        load_params("mnist", "paper", pdir)


def test_unknown_key_in_a_profile_overlay(pdir):
    text = (pdir / "mnist.yaml").read_text().replace("    train: {epochs: 10", "    train: {epoch: 10")
    (pdir / "mnist.yaml").write_text(text)
    with pytest.raises(ParamsError, match=r"profiles\.quick\.train\.epoch"):
        load_params("mnist", "paper", pdir)


def test_pipeline_profile_overlay(params_dir):
    smoke = load_pipeline(params_dir, "smoke")
    assert smoke["synthetic_data"] is True and smoke["data_root"] != load_pipeline(params_dir)["data_root"]
    with pytest.raises(ParamsError, match="unknown profile"):
        load_pipeline(params_dir, "fast")
