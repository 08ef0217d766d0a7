"""Grouped training (memae.ensemble.train_group) against training each run alone (memae.train.train):
the same files, the same keys, and bit-identical weights, logs and scores on synthetic KDDCUP99."""
import json

import numpy as np
import pytest
import torch

from memae import ensemble, train as train_mod
from memae.config import load_params
from memae.data import kddcup99, synthetic
from memae.evaluate import evaluate, load_trained
from memae.protocols import records
from memae.train import train

from .interrupt import interrupted_after_checkpoint

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("kdd")
    synthetic.make_mirror("kddcup99", root / "raw", {"records": 1500})
    kddcup99.prepare(root / "raw" / "kddcup99", root / "prepared")
    return root / "prepared"


@pytest.fixture
def params(params_dir, prepared):
    p = load_params("kddcup99", "smoke", params_dir)
    p["train"]["epochs"] = 2
    p["eval"]["batch_size"] = 256
    # a batch size at which the seeds' epochs have different numbers of batches (so their Adam step
    # counts part after the first epoch) and last batches of different lengths
    sizes = [len(records.train_data(prepared, "all", k, p)[0]) for k in SEEDS]
    p["train"]["batch_size"] = next(b for b in range(64, 512)
                                    if len({-(-n // b) for n in sizes}) > 1 and len({n % b for n in sizes}) == len(SEEDS))
    return p


def _weights(run):
    return torch.load(run / "model.pt", weights_only=False)["model"]


def _alone(prepared, params, variant, root):
    for k in SEEDS:
        train("kddcup99", prepared, variant, "all", k, params, root / f"seed{k}", threads=1)


def _grouped(prepared, params, variant, root, seeds=SEEDS, mode="batched"):
    return ensemble.train_group("kddcup99", prepared, variant,
                                [("all", k, root / f"seed{k}") for k in seeds], params, threads=1, mode=mode)


@pytest.mark.parametrize("batch", [1024, 37])
def test_batched_linear_rounds_as_f_linear(batch):
    # every layer shape of the KDDCUP99 network and its memory: forward and gradients of the
    # batched layer against F.linear run by run (the operation memae.train uses)
    gen = torch.Generator().manual_seed(0)
    for k, n in [(118, 60), (60, 30), (30, 10), (10, 3), (3, 10), (10, 30), (30, 60), (60, 118), (3, 50)]:
        x = torch.randn(3, batch, k, generator=gen, requires_grad=True)
        w = torch.randn(3, n, k, generator=gen, requires_grad=True)
        b = torch.randn(3, n, generator=gen, requires_grad=True)
        g = torch.randn(3, batch, n, generator=gen)
        out = ensemble._Linear.apply(x, w, b)
        out.backward(g)
        for r in range(3):
            xr, wr, br = (t.detach()[r].clone().requires_grad_() for t in (x, w, b))
            ref = torch.nn.functional.linear(xr, wr, br)
            ref.backward(g[r])
            assert torch.equal(out[r], ref), (k, n)
            for got, want in ((x.grad[r], xr.grad), (w.grad[r], wr.grad), (b.grad[r], br.grad)):
                assert torch.equal(got, want), (k, n)


@pytest.mark.parametrize("variant,mode", [("ae", "batched"), ("memae_nonspar", "batched"),
                                          ("memae", "batched"), ("memae", "sequential")])
def test_grouped_training_is_bit_identical_to_training_alone(prepared, params, variant, mode, tmp_path):
    _alone(prepared, params, variant, tmp_path / "alone")
    _grouped(prepared, params, variant, tmp_path / "group", mode=mode)
    for k in SEEDS:
        a, g = tmp_path / "alone" / f"seed{k}", tmp_path / "group" / f"seed{k}"
        assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in g.iterdir()) == \
            ["model.pt", "train_log.json"]
        wa, wg = _weights(a), _weights(g)
        assert list(wa) == list(wg)
        for name in wa:
            assert torch.equal(wa[name], wg[name]), f"seed {k} {name}: max |delta| " \
                f"{(wa[name] - wg[name]).abs().max().item():.3g}"
        la, lg = (json.loads((d / "train_log.json").read_text()) for d in (a, g))
        assert list(la) == list(lg)
        for key in la:
            # train_s: time; code: the commit of the tree, which others may commit to meanwhile
            if key not in ("train_s", "code"):
                assert la[key] == lg[key], key
        # the model loads as any trained run does, and scores the same
        ra = evaluate("kddcup99", prepared, a, params, threads=1)
        rg = evaluate("kddcup99", prepared, g, params, threads=1)
        assert ra["metrics"] == rg["metrics"]
        sa, sg = np.load(a / "scores.npz"), np.load(g / "scores.npz")
        assert np.array_equal(sa["scores"], sg["scores"])
        net, saved = load_trained(g / "model.pt")
        assert saved["config"]["seed"] == k


def test_grouped_run_resumes_after_interruption(prepared, params, tmp_path, monkeypatch):
    params["train"]["epochs"] = 3
    _grouped(prepared, params, "memae", tmp_path / "full")
    real_save = train_mod._save_atomic
    saved = []

    def crash_after_first_epoch(obj, path):
        real_save(obj, path)
        if path.name == "checkpoint.pt":
            saved.append(path)
            if len(saved) == len(SEEDS) + 1:   # every run saved epoch 1, one run saved epoch 2
                raise KeyboardInterrupt("simulated interruption")

    monkeypatch.setattr(train_mod, "_save_atomic", crash_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        _grouped(prepared, params, "memae", tmp_path / "cut")
    monkeypatch.setattr(train_mod, "_save_atomic", real_save)
    assert not any((tmp_path / "cut" / f"seed{k}" / "model.pt").exists() for k in SEEDS)
    # runs stopped at different epochs: the group resumes each from its own checkpoint
    logs = _grouped(prepared, params, "memae", tmp_path / "cut")
    assert [[h["epoch"] for h in log["history"]] for log in logs] == [[1, 2, 3]] * len(SEEDS)
    for k in SEEDS:
        full, cut = _weights(tmp_path / "full" / f"seed{k}"), _weights(tmp_path / "cut" / f"seed{k}")
        assert all(torch.equal(full[n], cut[n]) for n in full)
        assert not (tmp_path / "cut" / f"seed{k}" / "checkpoint.pt").exists()


def test_single_training_resumes_a_grouped_checkpoint(prepared, params, tmp_path):
    # the checkpoint a group writes is the one `memae train` writes: either can resume the other
    params["train"]["epochs"] = 3
    train("kddcup99", prepared, "memae", "all", 1, params, tmp_path / "alone", threads=1)
    with interrupted_after_checkpoint(epoch=1):
        _grouped(prepared, params, "memae", tmp_path / "g", seeds=(1,))
    train("kddcup99", prepared, "memae", "all", 1, params, tmp_path / "g" / "seed1", threads=1)
    a, g = _weights(tmp_path / "alone"), _weights(tmp_path / "g" / "seed1")
    assert all(torch.equal(a[n], g[n]) for n in a)


def test_conv_models_train_one_after_another(tmp_path, params_dir):
    from memae.data import mnist
    synthetic.make_mirror("mnist", tmp_path / "raw", {"train_per_class": 20, "test_per_class": 5})
    mnist.prepare(tmp_path / "raw" / "mnist", tmp_path / "prepared")
    p = load_params("mnist", "smoke", params_dir)
    p["train"]["epochs"] = 1
    logs = ensemble.train_group("mnist", tmp_path / "prepared", "ae",
                                [("class1", 0, tmp_path / "a"), ("class2", 0, tmp_path / "b")], p, threads=1,
                                mode="batched")
    assert [log["config"]["split"] for log in logs] == ["class1", "class2"]
    train("mnist", tmp_path / "prepared", "ae", "class2", 0, p, tmp_path / "c", threads=1)
    b, c = _weights(tmp_path / "b"), _weights(tmp_path / "c")
    assert all(torch.equal(b[n], c[n]) for n in b)
