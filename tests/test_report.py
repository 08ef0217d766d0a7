"""The report, `memae compare`, the figures and the provenance, from fixed metrics fixtures
(tests/fixtures/results) whose expected cells were worked out by hand against params/reported.yaml."""
import json
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from memae import cli, figures, provenance, report
from memae.compare import compare
from tests.fixtures.runs import FIXTURES, make_results, save_model

REPO = Path(__file__).resolve().parent.parent
REPORTED = REPO / "params" / "reported.yaml"
SELECTED = ["mnist", "kddcup99"]

# (table, variant, dataset, metric) -> (reported, reproduced text, delta text, verdict), by hand:
# reported.yaml's numbers, the fixtures' means, delta = mean - reported, tolerance 0.02.
EXPECTED = {
    ("table1", "ae", "mnist", "auc"): ("0.9619", "0.9300 ± 0.0100 (3 seeds)", "Δ -0.0319", "short"),
    ("table1", "memae_nonspar", "mnist", "auc"): ("0.9725", "0.9950 ± 0.0020 (3 seeds)", "Δ +0.0225", "above"),
    ("table1", "memae", "mnist", "auc"): ("0.9751", "0.9600 ± 0.0050 (3 seeds)", "Δ -0.0151", "reproduced"),
    ("table3", "ae", "kddcup99", "precision"): ("0.9328", "0.9300 ± 0.0010 (2 seeds)", "Δ -0.0028", "reproduced"),
    ("table3", "ae", "kddcup99", "recall"): ("0.9356", "0.9000 ± 0.0020 (2 seeds)", "Δ -0.0356", "short"),
    ("table3", "ae", "kddcup99", "f1"): ("0.9342", "0.9146 ± 0.0015 (2 seeds)", "Δ -0.0196", "reproduced"),
    ("table3", "memae_nonspar", "kddcup99", "precision"): (None, "0.9500 ± 0.0030 (2 seeds)", None, "no reported value"),
    ("table3", "memae_nonspar", "kddcup99", "f1"): ("0.9355", "0.9400 ± 0.0030 (2 seeds)", "Δ +0.0045", "reproduced"),
    ("table3", "memae", "kddcup99", "f1"): ("0.9641", "0.9641 ± 0.0040 (2 seeds)", "Δ +0.0000", "reproduced"),
}


class Cells(HTMLParser):
    """The result cells of the rendered tables: key -> {class: text} of their spans."""

    def __init__(self):
        super().__init__()
        self.cells, self.table, self.variant, self.key, self.part = {}, None, None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and "data-table" in a:
            self.table = a["data-table"]
        elif tag == "tr" and "data-variant" in a:
            self.variant = a["data-variant"]
        elif tag == "td" and "data-verdict" in a:
            self.key = (self.table, self.variant, a["data-dataset"], a["data-metric"])
            self.cells[self.key] = {"td-verdict": a["data-verdict"], "text": ""}
        elif self.key and tag in ("span", "strong") and "class" in a:
            self.part = a["class"]

    def handle_endtag(self, tag):
        if tag == "td" and self.key:
            cell = self.cells[self.key]
            cell.update({k: " ".join(v.split()) for k, v in cell.items()})
            self.key = None
        elif tag in ("span", "strong"):
            self.part = None

    def handle_data(self, data):
        if self.key:
            cell = self.cells[self.key]
            cell["text"] += data
            if self.part:
                cell[self.part] = cell.get(self.part, "") + data


@pytest.fixture
def rendered(tmp_path):
    out = tmp_path / "index.html"
    r = report.render(FIXTURES, REPORTED, SELECTED, out, "quick", tmp_path / "data")
    parser = Cells()
    parser.feed(out.read_text())
    return r, parser.cells, out.read_text()


def test_every_cell_shows_reported_reproduced_delta_and_verdict(rendered):
    _, cells, _ = rendered
    for key, (rep, got, delta, verdict) in EXPECTED.items():
        cell = cells[key]
        assert cell["td-verdict"] == verdict and cell["verdict"] == verdict, key
        assert cell["reported"] == (f"reported {rep}" if rep else "reported not confirmed"), key
        assert cell["reproduced-value"] == got, key
        assert cell.get("delta") == delta, key


def test_summary_counts_and_main_claim(rendered):
    r, _, html = rendered
    # 27 reported numbers: mnist 1/1/1 (reproduced/short/above), kddcup99 6 reproduced and
    # 1 short (ae recall), cifar10 3 + video 9 + ablation 5 = 17 not run.
    assert r["counts"] == {"reproduced": 7, "above": 1, "short": 2, "not run": 17}
    assert r["summary"]["total"] == 27 and r["summary"]["outside"] == 3
    assert 'class="n-reproduced">7<' in html and 'class="n-not-run">17<' in html
    claims = {c["dataset"]: c for c in report.main_claim(report.load_reported(REPORTED), {
        ds: report.load_metrics(FIXTURES / ds / "metrics.json") for ds in SELECTED})}
    assert claims["mnist"]["holds"] is False          # nonSpar 0.995 > MemAE 0.96
    assert claims["kddcup99"]["metric"] == "f1" and claims["kddcup99"]["holds"] is True
    assert claims["ped2"]["holds"] is None and claims["ped2"]["paper_holds"] is True
    assert claims["shanghaitech"]["paper_holds"] is False   # paper: nonSpar 0.688 < AE 0.697


def test_missing_dataset_is_a_not_run_row_with_its_reason(rendered):
    r, cells, html = rendered
    cifar = cells[("table1", "memae", "cifar10", "auc")]
    assert cifar["td-verdict"] == "not run"
    assert cifar["reason"] == "not run: not selected in params/pipeline.yaml (datasets)"
    ped2 = cells[("ablation", "ae_l1", "ped2", "auc")]
    assert ped2["reason"] == "not run: not selected in params/pipeline.yaml (datasets)"
    assert r["summary"]["not_run"]["not selected in params/pipeline.yaml (datasets)"] == [
        "avenue", "cifar10", "ped2", "shanghaitech"]
    assert "Not run: not selected in params/pipeline.yaml (datasets)." in html   # its figures


def test_per_class_values_and_protocol_are_shown(rendered):
    _, _, html = rendered
    assert 'id="per-class-mnist"' in html and "<td>class1</td><td>0.9500</td><td>0.9970</td><td>0.9650</td>" in html
    assert "Score: per-image reconstruction MSE." in html
    assert "train.epochs: 100 → 10" in html        # what the quick profile shrank for mnist


def test_a_metrics_file_of_the_wrong_shape_fails_naming_the_file(tmp_path, capsys):
    bad = tmp_path / "results" / "mnist" / "metrics.json"
    bad.parent.mkdir(parents=True)
    bad.write_text(json.dumps({"variants": {"ae": {"auc": 0.9}}}))
    with pytest.raises(report.MetricsError, match=str(bad)):
        report.load_metrics(bad)
    status = cli.main(["report", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "r.html"),
                       "--params-dir", str(REPO / "params")])
    assert status == 1 and str(bad) in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_verdict_at_the_tolerance_boundary():
    assert report.verdict(0.90, 0.92, 0.02) == "reproduced"
    assert report.verdict(0.90, 0.9201, 0.02) == "above"
    assert report.verdict(0.90, 0.8799, 0.02) == "short"
    assert report.verdict(None, 0.5, 0.02) == "no reported value"
    assert report.verdict(0.9, None, 0.02) == "not run"


def test_compare_prints_the_table_and_fails_outside_tolerance(tmp_path):
    text, status = compare(FIXTURES, REPORTED, SELECTED, "quick")
    assert status == 1 and "exit 1: 3 number(s) outside tolerance." in text
    line = next(x for x in text.splitlines() if x.startswith("MemAE ") and " mnist " in x)
    assert line.split() == ["MemAE", "mnist", "auc", "0.9751", "0.9600", "±", "0.0050", "(n=3)",
                            "-0.0151", "reproduced"]
    assert "not run: not selected in params/pipeline.yaml (datasets)" in text
    # only kddcup99, with AE's recall inside tolerance: every number run is within it
    ok = tmp_path / "results" / "kddcup99"
    ok.mkdir(parents=True)
    m = json.loads((FIXTURES / "kddcup99" / "metrics.json").read_text())
    m["variants"]["ae"]["recall"]["mean"] = 0.94
    (ok / "metrics.json").write_text(json.dumps(m))
    text, status = compare(tmp_path / "results", REPORTED, SELECTED, "quick")
    assert status == 0 and "7 of 27 reported numbers reproduced" in text


def test_compare_cli_exit_status(tmp_path, capsys):
    args = ["compare", "--results", str(FIXTURES), "--params-dir", str(REPO / "params"), "--profile", "quick"]
    assert cli.main(args) == 1
    assert "Table 3" in capsys.readouterr().out


def png(uri: str) -> Image.Image:
    import base64
    import io
    assert uri.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def test_figures_from_run_files(tmp_path):
    results = make_results(tmp_path / "results")
    m = report.load_metrics(results / "mnist" / "metrics.json")
    figs = figures.dataset_figures(results, m)
    assert [f.title for f in figs] == ["ROC curves, mnist", "Training curves, mnist",
                                       "Memory items decoded, mnist"]
    for f in figs:
        assert f.missing is None and png(f.uri).size[0] > 100
    sweep = figures.memory_sweep(results / "ped2" / "sweep" / "metrics.json")
    assert png(sweep.uri).size[0] > 100
    gone = figures.roc_curves(tmp_path / "elsewhere", m)
    assert gone.uri is None and str(tmp_path / "elsewhere") in gone.missing


def test_regularity_of_video_scores_and_placeholder_without_them(tmp_path):
    m = {"dataset": "ped2", "variants": {"memae": {}}, "splits": ["all"], "seeds": [1]}
    run = tmp_path / "ped2" / "memae" / "all" / "seed1"
    assert "not found" in figures.regularity(tmp_path, m).missing
    run.mkdir(parents=True)
    frame = np.concatenate([np.arange(8, 40), np.arange(8, 30)])
    video = np.repeat([0, 1], [32, 22])
    labels = ((frame > 20) & (frame < 30)).astype(np.int8)
    np.savez(run / "scores.npz", scores=np.linspace(0, 1, 54), labels=labels, video=video,
             frame=frame, names=np.array(["Test001", "Test002"]))
    assert png(figures.regularity(tmp_path, m).uri).size[1] > 100
    np.savez(run / "scores.npz", scores=np.zeros(3), labels=np.zeros(3))
    assert "not a video run" in figures.regularity(tmp_path, m).missing
    np.savez(run / "scores.npz", scores=np.zeros(3))
    with pytest.raises(ValueError, match="scores.npz"):
        figures.load_scores(run / "scores.npz")


def test_spans_of_anomalous_frames():
    assert list(figures._spans(np.array([0, 1, 1, 0, 0, 1, 0, 1]) == 1)) == [(1, 3), (5, 6), (7, 8)]


@pytest.mark.parametrize("granularity", ["image", "position"])
def test_decoded_memory_items_are_the_decoder_output_of_each_item(tmp_path, granularity):
    net = save_model(tmp_path / "model.pt", granularity)
    images, n = figures.decode_memory(tmp_path / "model.pt", 4)
    assert n == 10 and images.shape == (4, 28, 28, 1)
    mem = net.memory.weight.detach()
    with torch.no_grad():
        for i in range(4):
            if granularity == "image":          # an item is a whole 8 x 7 x 7 code
                z = mem[i].reshape(1, 8, 7, 7)
            else:                               # an 8-d item at each of the 7 x 7 positions
                z = torch.stack([torch.stack([mem[i]] * 7, -1)] * 7, -2)[None]
            expected = net.decoder(z)[0, 0].numpy()
            assert np.allclose(images[i, :, :, 0], expected, atol=1e-5)


def test_sweep_file_of_the_wrong_shape_is_named(tmp_path):
    bad = tmp_path / "metrics.json"
    bad.write_text('{"points": [{"auc": 0.9}]}')
    with pytest.raises(ValueError, match=str(bad)):
        figures.memory_sweep(bad)


def test_provenance_packages_checksums_and_profile_changes(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("# pins\nnumpy==0.0.1\nno-such-package-xyz==1.0\n")
    v = provenance.package_versions(req)
    assert v["numpy"] == np.__version__ and v["no-such-package-xyz"] == "not installed" and "python" in v
    raw = tmp_path / "data" / "raw" / "kddcup99"
    raw.mkdir(parents=True)
    (raw / ".kddcup.data_10_percent.gz.verified").write_text(json.dumps({"sha256": "ab" * 32}))
    assert provenance.data_checksums("kddcup99", tmp_path / "data")[0]["sha256"] == "ab" * 32
    assert provenance.data_checksums("mnist", tmp_path / "data")[0]["sha256"] is None
    (tmp_path / "toy.yaml").write_text(
        "train: {epochs: 100, lr: 0.001}\nprofiles:\n  quick:\n    train: {epochs: 10}\n")
    assert provenance.profile_changes("toy", "quick", tmp_path) == ["train.epochs: 100 → 10"]
    assert provenance.profile_changes("toy", "paper", tmp_path) == []


def test_git_commit_and_dirty_state(tmp_path):
    assert provenance.git_state(tmp_path)["commit"] is None
    git = lambda *a: subprocess.run(["git", "-C", str(tmp_path), *a], check=True, capture_output=True,
                                    text=True).stdout.strip()
    git("init", "-q")
    (tmp_path / "a.txt").write_text("a")
    git("add", "a.txt")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "a")
    assert provenance.git_state(tmp_path) == {"commit": git("rev-parse", "HEAD"), "dirty": False}
    # metrics the pipeline writes under results/ are not a change to the code
    (tmp_path / "results" / "mnist").mkdir(parents=True)
    (tmp_path / "results" / "mnist" / "metrics.json").write_text("{}")
    assert provenance.git_state(tmp_path)["dirty"] is False
    (tmp_path / "b.py").write_text("x = 1")                      # a new, untracked source file is
    assert provenance.git_state(tmp_path)["dirty"] is True
    (tmp_path / "b.py").unlink()
    (tmp_path / "a.txt").write_text("b")
    assert provenance.git_state(tmp_path)["dirty"] is True


def test_report_shows_jobs_devices_and_figures(tmp_path):
    results = make_results(tmp_path / "results")
    out = tmp_path / "index.html"
    report.render(results, REPORTED, SELECTED, out, "quick", tmp_path / "data")
    html = out.read_text()
    assert html.count('<img src="data:image/png;base64,') == 6   # 3 mnist, 2 kddcup99, 1 sweep
    assert "mnist: 18 jobs" in html and "kddcup99: 6 jobs" in html
    assert "<td>3</td>\n<td>12.5</td><td>2.5</td><td>cpu (1 threads)</td>" in html
    assert "<code>0123456789abcdef</code>" in html
    assert 'src="http' not in html and 'href="http' not in html      # nothing fetched from a network


def test_report_says_when_the_data_was_synthetic(tmp_path):
    # The label comes from what the results record (`data`), not from the --profile of the report:
    # synthetic results rendered under profile quick are labelled synthetic, and real ones rendered
    # under profile smoke (whose pipeline settings say synthetic) are labelled real.
    for data, profile, expected in (("synthetic", "quick", "<strong>synthetic</strong> files"),
                                    ("real", "smoke", "the real datasets")):
        results = tmp_path / data
        for ds in SELECTED:
            m = json.loads((FIXTURES / ds / "metrics.json").read_text())
            (results / ds).mkdir(parents=True)
            (results / ds / "metrics.json").write_text(json.dumps({**m, "status": "run", "data": data}))
        out = tmp_path / f"{data}.html"
        report.render(results, REPORTED, SELECTED, out, profile, tmp_path / "data")
        assert expected in out.read_text(), data


def test_a_results_file_without_data_takes_it_from_its_own_profile(tmp_path):
    # files written before `data` was recorded (the tracked results of record): their own profile
    # says (smoke runs on synthetic data), whatever profile the report is rendered under
    results = tmp_path / "results"
    for ds in SELECTED:
        m = json.loads((FIXTURES / ds / "metrics.json").read_text())
        assert "data" not in m
        (results / ds).mkdir(parents=True)
        (results / ds / "metrics.json").write_text(json.dumps({**m, "profile": "smoke"}))
    out = tmp_path / "index.html"
    report.render(results, REPORTED, SELECTED, out, "quick", tmp_path / "data")
    assert "<strong>synthetic</strong> files" in out.read_text()


def test_a_table_naming_an_unregistered_dataset_is_an_error(tmp_path):
    # every dataset of the paper's tables is in the registry (memae/datasets.py); a table naming
    # another is an error at load time, not a "not implemented" row
    doc = yaml.safe_load(REPORTED.read_text())
    doc["tables"][0]["datasets"].append("svhn")
    path = tmp_path / "reported.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(report.MetricsError, match=r"table1 names dataset 'svhn'.*memae/datasets.py"):
        report.load_reported(path)
