"""Real data from ../shared/datasets (skipped with a reason where it is absent): the `quick`
profile's MemAE on one MNIST class and one KDDCUP99 seed, fetched through MEMAE_MIRROR."""
import pytest

from memae import datasets
from memae.config import load_params
from memae.data import fetch
from memae.evaluate import evaluate
from memae.train import train

pytestmark = pytest.mark.realdata


def run_quick(dataset, split, seed, shared, tmp_path, monkeypatch, params_dir):
    monkeypatch.setenv("MEMAE_MIRROR", str(shared))
    raw, prepared, run = tmp_path / "raw", tmp_path / "prepared", tmp_path / "run"
    fetch.fetch(dataset, raw)
    params = load_params(dataset, "quick", params_dir)
    datasets.get(dataset).prepare(raw, prepared, params)
    train(dataset, prepared, "memae", split, seed, params, run, threads=2)
    return evaluate(dataset, prepared, run, params, threads=2)["metrics"]


def test_mnist_class0_quick_memae_auc_above_0_9(shared_datasets, tmp_path, monkeypatch, params_dir):
    m = run_quick("mnist", "class0", 0, shared_datasets, tmp_path, monkeypatch, params_dir)
    assert m["auc"] > 0.9, m


def test_kddcup99_one_seed_quick_memae_f1_above_0_8(shared_datasets, tmp_path, monkeypatch, params_dir):
    m = run_quick("kddcup99", "all", 0, shared_datasets, tmp_path, monkeypatch, params_dir)
    assert m["f1"] > 0.8, m
