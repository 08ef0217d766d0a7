"""The time estimate printed at the start of a workflow run (memae.estimate): its arithmetic
against hand-computed cases, the committed figures, and measured benchmark files preferred."""
import json

import pytest

from memae import datasets, estimate
from memae.estimate import Figure, Work

FIGS = [Figure("mnist", "quick", "*", "cpu", 3.0, "t"),
        Figure("kddcup99", "quick", "ae", "cpu", 1.3, "t"),
        Figure("kddcup99", "quick", "memae*", "cpu", 1.9, "t"),
        Figure("mnist", "quick", "*", "gpu", 0.5, "t")]


def test_estimate_arithmetic_by_hand():
    work = [Work("mnist", "ae", 10, 10), Work("kddcup99", "ae", 5, 30), Work("kddcup99", "memae_nonspar", 5, 30)]
    e = estimate.estimate(work, FIGS, "quick", "cpu", 2)
    # mnist: 10 runs x 10 epochs x 3.0 s = 300 s; kddcup99: 5 x 30 x 1.3 + 5 x 30 x 1.9 = 195 + 285 = 480 s
    assert [(ln.dataset, ln.runs, ln.run_epochs, ln.seconds) for ln in e.lines] == [
        ("mnist", 10, 100, pytest.approx(300.0)), ("kddcup99", 10, 300, pytest.approx(480.0))]
    assert e.known_seconds == pytest.approx(780.0)
    assert e.wall_seconds == pytest.approx(390.0)          # 780 core-seconds over 2 cores
    text = estimate.render(e)
    assert "20 run(s), profile quick, on 2 CPU core(s)" in text
    assert "mnist: 10 run(s), 100 epochs in all: about 5 minutes of one core" in text
    assert "about 6 minutes (13 minutes of one core over 2 cores, idle)" in text


def test_gpu_runs_one_at_a_time_and_a_missing_figure_is_said():
    e = estimate.estimate([Work("mnist", "memae", 4, 100), Work("kddcup99", "ae", 1, 10)], FIGS, "quick", "gpu", 16)
    assert e.lines[0].seconds == pytest.approx(200.0)      # 4 x 100 x 0.5, not divided by the cores
    assert e.wall_seconds == pytest.approx(200.0)
    assert e.unknown == ["kddcup99"]
    text = estimate.render(e)
    assert "kddcup99: 1 run(s), 10 epochs in all: no benchmark figure for this device" in text
    assert "not counted: kddcup99" in text


def test_video_at_paper_size_on_a_cpu_says_days_and_how_to_choose_quick():
    figs = estimate.load_table()
    e = estimate.estimate([Work("ped2", "memae", 1, 100)], figs, "paper", "cpu", 2)
    # the committed figure: about 2 s per clip x 2,310 clips = 4,620 s an epoch; 100 epochs
    assert e.known_seconds == pytest.approx(462000.0)
    assert estimate.duration(e.known_seconds) == "5 days"
    text = estimate.render(e, ("ped2",))
    assert "would take days" in text and "--config profile=quick" in text and "workflow/profiles/gpu" in text


def test_committed_table_covers_every_workflow_dataset_on_a_cpu():
    figs = estimate.load_table()
    assert all(f.source and f.seconds_per_epoch > 0 and f.device in ("cpu", "gpu") for f in figs)
    for ds in datasets.WORKFLOW_DATASETS:
        for profile in ("paper", "quick"):
            for variant in ("ae", "memae_nonspar", "memae"):
                assert estimate.figure(figs, ds, profile, variant, "cpu"), (ds, profile, variant)
    mnist = estimate.figure(figs, "mnist", "paper", "memae", "cpu")
    assert mnist.seconds_per_epoch == 1.2   # measured here: the paper runs of record, ~120 s for 100 epochs


def bench(path, seconds):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("s\th:m:s\tmax_rss\n" f"{seconds}\t0:01:00\t100\n")


def train_log(results, ds, variant, split, seed, digest, epochs, device="cpu (1 threads)"):
    run = results / ds / variant / split / f"seed{seed}"
    run.mkdir(parents=True, exist_ok=True)
    (run / "train_log.json").write_text(json.dumps({"config_digest": digest, "epochs": epochs, "device": device}))


def test_measured_benchmarks_of_the_same_settings_come_first(tmp_path):
    b, r = tmp_path / "logs/benchmarks", tmp_path / "results"
    # mnist ae class0: 60 s for 10 epochs = 6 s an epoch; class1: 80 s / 10 = 8 s; median 7
    bench(b / "train/mnist/ae/class0/seed0.tsv", 60.0)
    train_log(r, "mnist", "ae", "class0", 0, "d-class0", 10)
    bench(b / "train/mnist/ae/class1/seed0.tsv", 80.0)
    train_log(r, "mnist", "ae", "class1", 0, "d-class1", 10)
    # settings changed since (digest differs): not a figure of what runs now
    bench(b / "train/mnist/ae/class2/seed0.tsv", 999.0)
    train_log(r, "mnist", "ae", "class2", 0, "old", 10)
    # a grouped job of seeds [2, 3], 5 epochs each, 40 s: 4 s an epoch per run, on a GPU
    bench(b / "train_group/kddcup99/memae/1.tsv", 40.0)
    for k in (2, 3):
        train_log(r, "kddcup99", "memae", "all", k, f"d-{k}", 5, "cuda:0 (NVIDIA)")
    # a grouped job of classes 2 and 3 (seed 0), 3 epochs each, 30 s: 5 s an epoch per run
    bench(b / "train_group/cifar10/ae/1.tsv", 30.0)
    for c in ("class2", "class3"):
        train_log(r, "cifar10", "ae", c, 0, f"d-{c}", 3)
    current = lambda ds, v, s, k: f"d-{k}" if ds == "kddcup99" else f"d-{s}"
    chunks = {"kddcup99": [(["all"], [0, 1]), (["all"], [2, 3])],
              "cifar10": [(["class0", "class1"], [0]), (["class2", "class3"], [0])]}
    figs = estimate.measured(b, r, "quick", current, chunks)
    assert [(f.dataset, f.variant, f.device, f.seconds_per_epoch) for f in figs] == [
        ("cifar10", "ae", "cpu", pytest.approx(5.0)), ("kddcup99", "memae", "gpu", pytest.approx(4.0)),
        ("mnist", "ae", "cpu", pytest.approx(7.0))]
    e = estimate.estimate([Work("mnist", "ae", 2, 10)], figs + FIGS, "quick", "cpu", 1)
    assert e.known_seconds == pytest.approx(140.0)          # 2 x 10 x 7 (measured), not 3.0 (table)
    assert e.lines[0].sources[0].startswith("measured here")


def test_device_without_importing_torch(monkeypatch):
    monkeypatch.setenv("MEMAE_DEVICE", "gpu")
    assert estimate.device() == "gpu"
    monkeypatch.delenv("MEMAE_DEVICE")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert estimate.device() == "cpu"
