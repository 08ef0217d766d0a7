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
