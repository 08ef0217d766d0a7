"""A selected dataset that did not run: the summary the workflow prints at its end (memae.missing)
and the report's reason name the missing files and where to put them."""
import json
from pathlib import Path

from memae import missing, report
from memae.datasets import SPECS

REPO = Path(__file__).resolve().parent.parent
REPORTED = REPO / "params" / "reported.yaml"


def verify(data: Path, ds: str, name: str) -> None:
    """What `memae fetch` leaves once a file is verified: the file and its stamp."""
    raw = data / "raw" / ds
    raw.mkdir(parents=True, exist_ok=True)
    (raw / name).write_bytes(b"x")
    (raw / f".{name}.verified").write_text("{}")


def test_missing_files_are_those_without_a_verified_stamp(tmp_path):
    data = tmp_path / "data"
    verify(data, "mnist", "train-images-idx3-ubyte.gz")
    verify(data, "mnist", "t10k-labels-idx1-ubyte.gz")
    (data / "raw/mnist/train-labels-idx1-ubyte.gz").write_bytes(b"not verified")   # no stamp
    assert [rf.name for rf in missing.missing_files("mnist", data)] == [
        "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"]
    for name in ("train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        verify(data, "mnist", name)
    assert missing.missing_files("mnist", data) == []
    assert missing.data_missing_reason("mnist", data) is None


def test_summary_names_files_folder_mirror_and_by_hand_instructions(tmp_path):
    data, results = tmp_path / "data", tmp_path / "results"
    verify(data, "mnist", "train-images-idx3-ubyte.gz")
    # kddcup99 ran (its metrics say so): not in the summary, whatever its raw folder holds
    (results / "kddcup99").mkdir(parents=True)
    (results / "kddcup99/metrics.json").write_text(json.dumps(
        {"dataset": "kddcup99", "profile": "quick", "status": "run", "data": "real", "splits": ["all"],
         "seeds": [0], "variants": {"ae": {"f1": {"mean": 0.9, "std": None, "n": 1}}}}))
    items = missing.not_run(["mnist", "kddcup99", "shanghaitech"], results, data)
    assert [it.dataset for it in items] == ["mnist", "shanghaitech"]
    text = missing.summary(items, 3)
    lines = text.splitlines()
    assert lines[0] == "memae: 2 of 3 selected dataset(s) did not run:"
    raw = data / "raw" / "mnist"
    mnist = lines[1]
    assert mnist.startswith(f"  mnist: missing {raw / 'train-labels-idx1-ubyte.gz'}, "
                            f"{raw / 't10k-images-idx3-ubyte.gz'}, {raw / 't10k-labels-idx1-ubyte.gz'}. Fix: ")
    assert f"in {raw}/" in mnist and "MEMAE_MIRROR=<folder> holding mnist/<file>" in mnist
    assert "yann.lecun.com" in mnist and "logs/fetch_mnist.log" in mnist
    sht = lines[2]
    assert f"missing {data / 'raw/shanghaitech/shanghaitech.tar.gz'}" in sht
    assert SPECS["shanghaitech"].files[0].manual in sht       # by hand only: where to get it
    assert "kddcup99" not in text


def test_a_dataset_whose_data_is_there_but_did_not_finish_points_to_the_logs(tmp_path):
    data = tmp_path / "data"
    verify(data, "kddcup99", "kddcup.data_10_percent.gz")
    [item] = missing.not_run(["kddcup99"], tmp_path / "results", data)
    assert item.missing == () and "kddcup99: did not finish" in item.line() and "logs/kddcup99/" in item.line()
    assert missing.summary([], 2) == ""


def test_report_marks_a_selected_dataset_without_data_not_run_naming_the_fix(tmp_path):
    data = tmp_path / "data"
    reported = report.load_reported(REPORTED)
    tables = report.build_tables(reported, {}, ["shanghaitech", "ped2"], data)
    cells = {(c["dataset"], t["id"]) for t in tables for r in t["rows"] for c in r["cells"]
             if c["reason"] and c["reason"].startswith("data missing: ")}
    assert ("shanghaitech", "table2") in cells and ("ped2", "table2") in cells
    reasons = report.count_verdicts(tables)["not_run"]
    sht = next(r for r, dss in reasons.items() if dss == ["shanghaitech"])
    assert "shanghaitech.tar.gz" in sht and "svip-lab.github.io" in sht and f"{data / 'raw/shanghaitech'}/" in sht
    # not selected stays "not selected"; selected with its data there: the pipeline has yet to run
    assert {"mnist", "cifar10", "kddcup99", "avenue"} <= set(reasons["not selected in params/pipeline.yaml (datasets)"])
    assert not {"ped2", "shanghaitech"} & set(reasons["not selected in params/pipeline.yaml (datasets)"])
    verify(data, "ped2", "UCSD_Anomaly_Dataset.tar.gz")
    assert report.not_run_reason("ped2", ["ped2"], data) == "no results yet: run the pipeline"
    assert report.not_run_reason("ped2", ["ped2"]) == "no results yet: run the pipeline"
