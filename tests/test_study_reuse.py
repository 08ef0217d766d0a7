"""A study that changes only scoring settings does not train again: its runs score the baseline's
trained models (memae.studies.reused_training). End to end on synthetic KDDCUP99 (profile smoke):
the study's model files are the baseline's byte for byte, its train logs say so, and its scores
differ from the baseline's where the changed setting says they must."""
import json
import os
import shutil
import subprocess

import pytest
import yaml

from .conftest import REPO, venv_bin

pytestmark = pytest.mark.pipeline


# per_run: the smoke profile's one job per dataset for KDDCUP99's main runs, and one train_study job
# per study run; grouped: KDDCUP99 out of one_job_per_dataset, so that its main and study runs train
# in chunks as under the paper profile (train.group_seeds; train_study_group_*: a job copies the
# models of all its runs)
@pytest.mark.parametrize("layout", ["per_run", "grouped"])
def test_the_threshold_study_scores_the_baselines_models_without_training(tmp_path, layout):
    for rel in ("workflow", "params"):
        shutil.copytree(REPO / rel, tmp_path / rel)
    if layout == "grouped":
        pipe = tmp_path / "params/pipeline.yaml"
        doc = yaml.safe_load(pipe.read_text())
        doc["profiles"]["smoke"]["one_job_per_dataset"].remove("kddcup99")
        pipe.write_text(yaml.safe_dump(doc, sort_keys=False))
    # the study on the smoke profile's own seeds (0, 1): its baseline is then the main runs, as under
    # the paper profile, and the test trains 6 small models instead of 15
    path = tmp_path / "params/kddcup99.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["studies"]["threshold_train_test"]["shorten"] = {"protocol": {"seeds": [0, 1]}}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    env = {**os.environ, "PATH": f"{venv_bin()}:{os.environ['PATH']}"}
    env.pop("MEMAE_MIRROR", None)
    target = "results/kddcup99/studies/threshold_train_test/metrics.json"
    r = subprocess.run(["snakemake", target, "--cores", "2", "--config", "profile=smoke", "datasets=[kddcup99]",
                        "studies=[kddcup99:threshold_train_test]"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    study = json.loads((tmp_path / target).read_text())
    studies = tmp_path / "results/kddcup99/studies"
    assert not [p for p in studies.iterdir() if p.name.startswith("base_")]  # no baseline of its own
    base = tmp_path / "results/kddcup99"
    runs = sorted(p.relative_to(base) for p in base.glob("*/all/seed*"))
    assert len(runs) == 6                                                    # 3 variants x seeds 0, 1
    moved = 0
    for run in runs:
        arm = studies / "threshold_train_test" / run
        assert (arm / "model.pt").read_bytes() == (base / run / "model.pt").read_bytes(), run
        copied = json.loads((arm / "train_log.json").read_text())
        assert copied.pop("reused_from") == f"results/kddcup99/{run}"
        assert copied == json.loads((base / run / "train_log.json").read_text())
        logs = tmp_path / "logs/kddcup99/studies/threshold_train_test"
        if layout == "per_run":
            assert "reused, not trained again" in (logs / run / "train.log").read_text()
        else:   # one log per chunk job, a line per copied run
            text = (logs / run.parts[0] / "train_group_0.log").read_text()
            line = (f"results/kddcup99/studies/threshold_train_test/{run}/model.pt: same training settings as "
                    f"results/kddcup99/{run}: its model is reused, not trained again")
            assert text.count(line) == 1, text
        # same model, same scores; the threshold is taken over another population, so the flags
        # (and with them precision/recall/F1) may move, while the AUC, which has no threshold, cannot
        a = json.loads((arm / "metrics.json").read_text())["metrics"]
        b = json.loads((base / run / "metrics.json").read_text())["metrics"]
        assert a["auc"] == pytest.approx(b["auc"], abs=1e-12), run
        moved += a["f1"] != b["f1"]
    assert moved, "the train+test threshold changed no F1: the study did not score with its own settings"
    assert study["base"]["seeds"] == [0, 1]
    # the arm trained nothing: no training time is counted for it; its baseline's is
    assert all(w["train_s"] == 0 for k, w in study["study"]["wall_time_s"].items() if k != "total")
    assert all(w["train_s"] > 0 for k, w in study["base"]["wall_time_s"].items() if k != "total")
