"""One results contract (memae/results.py): results/<dataset>/metrics.json has one writer and one
reader, both check its shape, and the file records its provenance (profile, real or synthetic
data, the digest of the resolved settings)."""
import json
import os
import shutil
import subprocess

import pytest

from memae import aggregate, readme, report, results
from memae.config import digest, load_params

from .conftest import REPO, venv_bin
from .fixtures.runs import FIXTURES, make_results

SELECTED = ["mnist", "kddcup99"]


def test_the_writer_refuses_a_file_of_the_wrong_shape_and_writes_nothing(tmp_path):
    out = tmp_path / "metrics.json"
    good = {"dataset": "mnist", "profile": "quick", "status": "run", "data": "real", "splits": ["class0"],
            "seeds": [0], "variants": {"ae": {"auc": {"mean": 0.9, "std": None, "n": 1}}}}
    for bad, what in ((dict(good, data="made up"), "data is 'made up'"),
                      ({k: v for k, v in good.items() if k != "status"}, "status is None"),
                      (dict(good, variants={"ae": {"auc": 0.9}}), "ae auc is 0.9"),
                      (dict(good, status="not run", reason="x"), "a 'not run' file has no variants")):
        with pytest.raises(results.MetricsError, match=what):
            results.write(out, bad)
        assert not out.exists()
    results.write(out, good)
    assert results.read(out) == good


def test_a_not_run_file_reads_back_and_counts_as_no_results(tmp_path):
    res = tmp_path / "results"
    shutil.copytree(FIXTURES, res)
    results.write(res / "cifar10" / "metrics.json",
                  results.not_run("cifar10", "quick", "not selected for profile quick"))
    m = results.read(res / "cifar10" / "metrics.json")
    assert m["status"] == "not run" and m["variants"] == {}
    # a selected dataset holding a "not run" file: no results, not an error (it used to be read as
    # a metrics file of the wrong shape)
    loaded = report.load_results(res, ["mnist", "kddcup99", "cifar10"], ["mnist", "kddcup99", "cifar10"])
    assert set(loaded) == {"mnist", "kddcup99"}
    assert "| table1 | mnist | auc |" in readme.section(res, REPO / "params")


def test_aggregate_records_status_data_and_the_settings_digest(tmp_path):
    res = make_results(tmp_path / "results")
    params = load_params("kddcup99", "quick", REPO / "params")
    params["protocol"]["seeds"] = json.loads((FIXTURES / "kddcup99" / "metrics.json").read_text())["seeds"]
    for synthetic, data in ((True, "synthetic"), (False, "real")):
        out = tmp_path / data / "metrics.json"
        aggregate.aggregate("kddcup99", "quick", params, res, out, synthetic)
        m = results.read(out)
        assert (m["status"], m["data"], m["profile"]) == ("run", data, "quick")
        assert m["params_digest"] == digest(params)


def test_the_workflow_s_not_selected_file_is_written_by_the_one_writer(tmp_path):
    for rel in ("workflow", "params", "memae/templates"):
        shutil.copytree(REPO / rel, tmp_path / rel)
    env = {**os.environ, "PATH": f"{venv_bin()}:{os.environ['PATH']}"}
    env.pop("MEMAE_MIRROR", None)
    r = subprocess.run(["snakemake", "--cores", "1", "results/avenue/metrics.json", "--config", "profile=quick"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    m = results.read(tmp_path / "results/avenue/metrics.json")
    assert m == {"dataset": "avenue", "profile": "quick", "status": "not run", "variants": {},
                 "reason": "not selected for profile quick (params/pipeline.yaml datasets)"}


def _fake_run(root, variant, split, seed, auc):
    d = root / variant / split / f"seed{seed}"
    d.mkdir(parents=True)
    (d / "metrics.json").write_text(json.dumps({"metrics": {"auc": auc}, "eval_s": 1.0}))
    (d / "train_log.json").write_text(json.dumps({"train_s": 2.0, "code": {"commit": "abc", "dirty": False}}))


def test_a_partial_aggregate_reads_only_the_seeds_that_ran_and_says_so(tmp_path):
    # Paper profile: seeds 0, 1, 2 planned; only seed 0 has run (MemAE 0.90, nonSpar 0.80, AE 0.70
    # on class0, 0.80 / 0.70 / 0.60 on class1 -> means 0.85, 0.75, 0.65).
    params = load_params("mnist", "paper", REPO / "params")
    params["protocol"]["splits"] = ["class0", "class1"]
    res = tmp_path / "results"
    for v, aucs in {"memae": (0.9, 0.8), "memae_nonspar": (0.8, 0.7), "ae": (0.7, 0.6)}.items():
        for split, auc in zip(("class0", "class1"), aucs):
            _fake_run(res / "mnist", v, split, 0, auc)
    out = res / "mnist" / "metrics.json"
    with pytest.raises(FileNotFoundError, match="seed1"):          # the full aggregate needs every seed
        aggregate.aggregate("mnist", "paper", params, res, out)
    for bad in ([3], [0, 0], []):
        with pytest.raises(ValueError, match="distinct seeds of the profile's"):
            aggregate.aggregate("mnist", "paper", params, res, out, seeds=bad)
    m = aggregate.aggregate("mnist", "paper", params, res, out, seeds=[0])
    assert m["seeds"] == [0] and m["seeds_planned"] == [0, 1, 2]
    assert m["variants"]["memae"]["auc"] == {"mean": pytest.approx(0.85), "std": None, "n": 1}
    assert m["params_digest"] == digest(params)                      # the profile's settings, all seeds
    assert results.read(out)["seeds_planned"] == [0, 1, 2]
    with pytest.raises(results.MetricsError, match="seeds_planned"):
        results.write(tmp_path / "x.json", dict(m, seeds_planned=[0]))  # must be more than the seeds run
    text = readme.section(res, REPO / "params")
    assert "seeds [0] of the profile's [0, 1, 2] (partial" in text
    assert "| table1 | mnist | auc | MemAE | 0.9751 | 0.8500 (1 of 3 seeds) |" in text
    html = tmp_path / "index.html"
    report.render(res, REPO / "params" / "reported.yaml", ["mnist"], html, "paper", tmp_path / "data")
    assert "(partial: 1 of the profile's 3 seeds)" in html.read_text()


def test_an_aggregate_of_some_variants_reads_only_those_and_the_others_show_as_not_run(tmp_path):
    # Paper profile, two classes, seed 0 of three; MemAE has run on both classes (0.62, 0.58 ->
    # 0.60), the AE on class0 only: --variants memae --seeds 0 aggregates MemAE alone
    params = load_params("cifar10", "paper", REPO / "params")
    params["protocol"]["splits"] = ["class0", "class1"]
    params["protocol"]["seeds"] = [0, 1, 2]
    res = tmp_path / "results"
    for split, auc in (("class0", 0.62), ("class1", 0.58)):
        _fake_run(res / "cifar10", "memae", split, 0, auc)
    _fake_run(res / "cifar10", "ae", "class0", 0, 0.7)
    out = res / "cifar10" / "metrics.json"
    with pytest.raises(FileNotFoundError, match="class1"):            # the AE lacks class1
        aggregate.aggregate("cifar10", "paper", params, res, out, seeds=[0], variants=["ae", "memae"])
    for bad in (["memae", "memae"], ["vae"], []):
        with pytest.raises(ValueError, match="distinct variants of the profile's"):
            aggregate.aggregate("cifar10", "paper", params, res, out, seeds=[0], variants=bad)
    m = aggregate.aggregate("cifar10", "paper", params, res, out, seeds=[0], variants=["memae"])
    assert list(m["variants"]) == ["memae"] and m["variants_planned"] == ["ae", "memae_nonspar", "memae"]
    assert m["variants"]["memae"]["auc"]["mean"] == pytest.approx(0.60)
    assert m["params_digest"] == digest(params)                      # the profile's settings
    with pytest.raises(results.MetricsError, match="variants_planned"):
        results.write(tmp_path / "x.json", dict(m, variants_planned=["memae"]))
    text = readme.section(res, REPO / "params")
    assert "variants ['memae'] of the profile's ['ae', 'memae_nonspar', 'memae'] (partial" in text
    assert "| table1 | cifar10 | auc | MemAE | 0.6088 | 0.6000 (1 of 3 seeds) |" in text
    assert "| table1 | cifar10 | auc | AE |" not in text
    html = tmp_path / "index.html"
    report.render(res, REPO / "params" / "reported.yaml", ["cifar10"], html, "paper", tmp_path / "data")
    page = html.read_text()
    assert "(partial: variants memae of the profile's ae, memae_nonspar, memae)" in page
    assert "variant ae has not run on every split of the cifar10 profile yet" in page


def test_shortened_epochs_names_only_a_changed_length():
    from memae.results import shortened_epochs
    shortened = lambda *cs: {"shortened": [dict(zip(("key", "main", "study"), c)) for c in cs]}
    assert shortened_epochs(shortened(("protocol.seeds", [0, 1, 2], [0]), ("train.epochs", 100, 20))) == 20
    # a shortening the running profile already has (quick: 10 epochs both ways) changes no length
    assert shortened_epochs(shortened(("train.epochs", 10, 10))) is None
    assert shortened_epochs(shortened(("protocol.seeds", [0, 1, 2], [0]))) is None
    assert shortened_epochs({"shortened": []}) is None
