"""The CLI's informational outputs: --version, `memae params` (resolved settings), `memae compare
--format`, and progress lines in log files."""
import csv
import io
import json
import tomllib

import pytest
import yaml

from memae.cli import main
from memae.progress import tqdm

from .conftest import REPO

KDD_F1_MEMAE_PAPER = 0.9641   # Table 3 of the paper (README), MemAE F1 on KDDCUP99
STATS = {"precision": 0.8765, "recall": 0.8642, "f1": 0.8703}


def test_version_is_the_packages(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert capsys.readouterr().out.strip() == f"memae {version}"


@pytest.mark.parametrize("profile", ["paper", "quick", "smoke"])
def test_params_prints_the_settings_after_the_profile_overlay(capsys, profile):
    raw = yaml.safe_load((REPO / "params/kddcup99.yaml").read_text())
    overlay = raw["profiles"].get(profile, {}) if profile != "paper" else {}
    assert main(["params", "kddcup99", "--profile", profile, "--params-dir", str(REPO / "params")]) == 0
    out = yaml.safe_load(capsys.readouterr().out)
    assert "profiles" not in out and "studies" not in out
    for section in ("train", "protocol", "memory"):
        for key, value in raw[section].items():
            want = overlay.get(section, {}).get(key, value)
            assert out[section][key] == want, (profile, section, key)
    if profile == "smoke":   # the overlay really differs from the paper there
        assert out["train"]["epochs"] != raw["train"]["epochs"]


def test_params_json_is_what_the_aggregate_rule_records(capsys):
    raw = yaml.safe_load((REPO / "params/kddcup99.yaml").read_text())
    assert main(["params", "kddcup99", "--profile", "quick", "--format", "json",
                 "--params-dir", str(REPO / "params")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["dataset"], doc["profile"]) == ("kddcup99", "quick")
    assert doc["train"]["epochs"] == raw["profiles"]["quick"]["train"]["epochs"] != raw["train"]["epochs"]


@pytest.fixture
def kdd_results(tmp_path):
    d = tmp_path / "results" / "kddcup99"
    d.mkdir(parents=True)
    (d / "metrics.json").write_text(json.dumps({
        "dataset": "kddcup99", "profile": "smoke", "splits": ["all"], "seeds": [0, 1],
        "variants": {v: {k: {"mean": x, "std": 0.0123, "n": 2} for k, x in STATS.items()}
                     for v in ("ae", "memae_nonspar", "memae")}}))
    return tmp_path / "results"


def _compare(capsys, results, fmt):
    status = main(["compare", "--results", str(results), "--profile", "smoke", "--datasets", "kddcup99",
                   "--params-dir", str(REPO / "params"), "--format", fmt])
    return status, capsys.readouterr().out


def test_compare_json_csv_and_markdown_carry_the_same_numbers(capsys, kdd_results):
    status, text = _compare(capsys, kdd_results, "json")
    assert status == 1   # 0.8703 is far below the paper's 0.9641
    doc = json.loads(text)
    assert doc["exit_status"] == 1 and doc["outside_tolerance"] >= 1
    row = next(r for r in doc["rows"] if (r["dataset"], r["variant"], r["metric"]) == ("kddcup99", "memae", "f1"))
    assert row["mean"] == 0.8703 and row["std"] == 0.0123 and row["n"] == 2
    assert row["reported"] == KDD_F1_MEMAE_PAPER
    assert row["delta"] == pytest.approx(0.8703 - KDD_F1_MEMAE_PAPER)
    assert row["verdict"] == "short"
    not_run = [r for r in doc["rows"] if r["dataset"] != "kddcup99"]
    assert not_run and all(r["verdict"] == "not run" and r["mean"] is None for r in not_run)

    status, text = _compare(capsys, kdd_results, "csv")
    assert status == 1
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(doc["rows"])
    row = next(r for r in rows if (r["dataset"], r["variant"], r["metric"]) == ("kddcup99", "memae", "f1"))
    assert (float(row["mean"]), float(row["reported"]), row["n"], row["verdict"]) == (0.8703, KDD_F1_MEMAE_PAPER, "2", "short")

    status, text = _compare(capsys, kdd_results, "markdown")
    assert status == 1
    assert "| MemAE | kddcup99 | f1 | 0.9641 | 0.8703 ± 0.0123 (n=2) | -0.0938 | short |" in text.splitlines()
    tables = [line for line in text.splitlines() if line.startswith("### ")]
    assert len(tables) == len({r["table"] for r in doc["rows"]})


def test_compare_table_stays_the_default(capsys, kdd_results):
    status = main(["compare", "--results", str(kdd_results), "--profile", "smoke", "--datasets", "kddcup99",
                   "--params-dir", str(REPO / "params")])
    text = capsys.readouterr().out
    assert status == 1 and "|---" not in text and not text.lstrip().startswith("{")
    assert "0.8703 ± 0.0123 (n=2)" in text and "exit 1" in text


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _epochs(fp, start=0, total=3):
    bar = tqdm(range(start, total), desc="train kddcup99/memae", unit="epoch", initial=start, total=total, file=fp)
    for epoch in bar:
        bar.set_postfix(loss=f"{0.5 / (epoch + 1):.4g}")
    return fp.getvalue()


def test_progress_in_a_log_file_is_one_line_per_epoch():
    log = _epochs(io.StringIO())
    assert "\r" not in log and "\x1b" not in log
    lines = log.splitlines()
    assert [line.split("|")[0].split(":")[1].strip() for line in lines] == ["0%", "33%", "67%", "100%"]
    assert "1/3" in lines[1] and "loss=0.5" in lines[1] and "loss=0.1667" in lines[3]
    resumed = _epochs(io.StringIO(), start=1).splitlines()   # a resumed run starts at its epoch
    assert len(resumed) == 3 and "1/3" in resumed[0] and "3/3" in resumed[-1]


def test_progress_on_a_terminal_redraws_in_place():
    assert "\r" in _epochs(_Terminal())
