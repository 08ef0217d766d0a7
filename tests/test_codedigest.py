"""Code digests: a run records the digest of the code it depends on; a checkout whose code differs
flags the run as stale (report, compare, `memae stale`), comments and docstrings do not, and runs
that record no digest read as "not recorded", neither stale nor current."""
import csv
import io
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from memae import cli, codedigest, report, studies
from memae.aggregate import aggregate, aggregate_sweep
from memae.compare import compare, export
from memae.config import load_params
from memae.data import kddcup99, mnist, synthetic
from memae.evaluate import evaluate
from memae.layout import run_dir, study_path, sweep_name, sweep_path
from memae.train import train
from tests.fixtures.runs import FIXTURES, make_results

REPO = Path(__file__).resolve().parent.parent
REPORTED = REPO / "params" / "reported.yaml"

BASE = '''
"""Module docstring."""
SCALE = 2.0


def f(x, eps=1e-12):
    """Scaled."""
    return SCALE * x / (x + eps)
'''


def digest_of(text: str) -> str:
    return codedigest.source_digest(textwrap.dedent(text))


def test_comments_docstrings_and_layout_leave_the_digest_code_changes_it():
    base = digest_of(BASE)
    same = {
        "comment": BASE.replace("SCALE = 2.0", "SCALE = 2.0   # the scale"),
        "docstrings": BASE.replace('"""Scaled."""', '"""Scaled by SCALE, a new docstring."""')
                          .replace('"""Module docstring."""', '"""Another."""'),
        "no docstrings": BASE.replace('    """Scaled."""\n', "").replace('"""Module docstring."""\n', ""),
        "layout": BASE.replace("return SCALE * x / (x + eps)", "return (SCALE * x\n            / (x + eps))")
                      .replace("\n\n\ndef", "\n\ndef"),
    }
    for what, text in same.items():
        assert digest_of(text) == base, what
    changed = {
        "constant": BASE.replace("SCALE = 2.0", "SCALE = 2.5"),
        "default": BASE.replace("eps=1e-12", "eps=1e-8"),
        "operator": BASE.replace("(x + eps)", "(x - eps)"),
        "int for float": BASE.replace("SCALE = 2.0", "SCALE = 2"),
        "a string that is not a docstring": BASE.replace("SCALE = 2.0", "SCALE = 2.0\nMODE = 'a'"),
    }
    for what, text in changed.items():
        assert digest_of(text) != base, what


def test_the_module_list_follows_the_registry():
    mnist_train, kdd_train = codedigest.modules("mnist", "train"), codedigest.modules("kddcup99", "train")
    for name in ("memae.models", "memae.memory", "memae.variants", "memae.train", "memae.ensemble",
                 "memae.device", "memae.layout", "memae.config", "memae.params_model"):
        assert name in mnist_train and name in kdd_train
    assert {"memae.data.mnist", "memae.protocols.oneclass", "memae.protocols.samples"} <= set(mnist_train)
    assert {"memae.data.kddcup99", "memae.protocols.records"} <= set(kdd_train)
    assert "memae.data.mnist" not in kdd_train and "memae.protocols.video" not in mnist_train
    score = codedigest.modules("ped2", "score")
    assert {"memae.evaluate", "memae.protocols.video"} <= set(score) and "memae.data.ped2" not in score
    for name in codedigest.EXCLUDED:
        assert codedigest.module_path(name) is not None, f"EXCLUDED names {name}, which does not exist"
        assert name not in mnist_train
    # the digest of one dataset's training differs from another's (other module, other protocol)
    assert codedigest.code_digest("mnist")["digest"] != codedigest.code_digest("kddcup99")["digest"]


# --- what a run loads is in the digest or excluded with a reason -----------------------------------

LOADED = """
import json, sys
from pathlib import Path
from memae.config import load_params
ds, step, prepared, out = sys.argv[1:5]
params = load_params(ds, "smoke", Path("params"))
params["train"]["epochs"] = 1
if step == "train":
    from memae.train import train
    train(ds, Path(prepared), "memae", sys.argv[5], 0, params, Path(out), threads=1)
elif step == "train-group":
    from memae.ensemble import train_group
    train_group(ds, Path(prepared), "memae", [(sys.argv[5], 1, Path(out))], params, 1, "batched")
else:
    from memae.evaluate import evaluate
    evaluate(ds, Path(prepared), Path(out), params, threads=1)
print(json.dumps(sorted(m for m in sys.modules if m == "memae" or m.startswith("memae."))))
"""


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("codedigest")
    synthetic.make_mirror("mnist", root / "raw", {"train_per_class": 20, "test_per_class": 6})
    mnist.prepare(root / "raw" / "mnist", root / "mnist")
    synthetic.make_mirror("kddcup99", root / "raw", {"records": 600})
    kddcup99.prepare(root / "raw" / "kddcup99", root / "kddcup99")
    return root


def _loaded(*args) -> set[str]:
    r = subprocess.run([sys.executable, "-c", LOADED, *map(str, args)], cwd=REPO, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return set(json.loads(r.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("dataset, split, step", [("mnist", "class0", "train"),
                                                  ("kddcup99", "all", "train-group")])
def test_every_module_a_run_loads_is_in_its_digest_or_excluded(prepared, tmp_path, dataset, split, step):
    run = tmp_path / "run"
    for kind, how in (("train", step), ("score", "evaluate")):
        loaded = _loaded(dataset, how, prepared / dataset, run, split)
        covered = set(codedigest.modules(dataset, kind)) | set(codedigest.EXCLUDED)
        assert loaded - covered == set(), (
            f"{kind}: modules loaded by a run but neither in the code digest nor in "
            "codedigest.EXCLUDED (add a reason there, or let the digest find them)")
    log = json.loads((run / "train_log.json").read_text())
    assert log["code_digest"]["digest"] == codedigest.code_digest(dataset, "train")["digest"]
    scored = json.loads((run / "metrics.json").read_text())
    assert scored["code_digest"]["digest"] == codedigest.code_digest(dataset, "score")["digest"]


# --- a change to the code flags the runs, a comment does not ---------------------------------------

def small_params(params_dir: Path) -> dict:
    """The settings of the `results` fixture's runs: MNIST smoke, AE and MemAE, class0, seed 0, 1 epoch."""
    params = load_params("mnist", "smoke", params_dir)
    params["train"]["epochs"] = 1
    params["protocol"].update(variants=["ae", "memae"], splits=["class0"], seeds=[0])
    return params


@pytest.fixture
def results(prepared, tmp_path, params_dir):
    """results/mnist with one seed of AE and MemAE on class0 (1 epoch), trained, scored and
    aggregated by the checkout's code."""
    params = small_params(params_dir)
    res = tmp_path / "results"
    for variant in ("ae", "memae"):
        run = run_dir(res, "mnist", variant, "class0", 0)
        train("mnist", prepared / "mnist", variant, "class0", 0, params, run, threads=1)
        evaluate("mnist", prepared / "mnist", run, params, threads=1)
    aggregate("mnist", "smoke", params, res, res / "mnist" / "metrics.json", synthetic=True)
    return res


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A copy of the package's sources that the digests are taken from (edited by a test)."""
    src = tmp_path / "src"
    shutil.copytree(REPO / "memae", src / "memae", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(codedigest, "ROOT", src)
    return src


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} not once in {path}"
    path.write_text(text.replace(old, new))


def _render(results: Path, tmp_path: Path) -> str:
    out = tmp_path / "index.html"
    report.render(results, REPORTED, ["mnist"], out, "smoke", tmp_path / "data")
    return out.read_text()


def test_aggregate_records_the_runs_code_digests(results):
    m = json.loads((results / "mnist" / "metrics.json").read_text())
    for kind in ("train", "score"):
        t = m["code"]["digests"][kind]
        assert t["not_recorded"] == 0
        assert list(t["digests"]) == [codedigest.code_digest("mnist", kind)["digest"]]
        assert next(iter(t["digests"].values()))["runs"] == 2


def test_a_comment_keeps_runs_current_a_code_change_makes_them_stale(results, checkout, tmp_path, capsys):
    memory = checkout / "memae" / "memory.py"
    state = lambda: report.load_metrics(results / "mnist" / "metrics.json")["code"]
    assert codedigest.check("mnist", state())["state"] == "current"

    _edit(memory, "EPS = 1e-12\n", "EPS = 1e-12   # a comment about eps\n")
    _edit(memory, '"""Hard shrinkage in', '"""A docstring rewritten.\n\n    Hard shrinkage in')
    assert codedigest.check("mnist", state())["state"] == "current"
    html = _render(results, tmp_path)
    assert 'class="code-stale' not in html and 'class="code-current" id="code-mnist"' in html
    text, status = compare(results, REPORTED, ["mnist"], "smoke", strict=True)
    assert "stale" not in text

    _edit(memory, "EPS = 1e-12", "EPS = 1e-10")
    check = codedigest.check("mnist", state())
    assert check["state"] == "stale" and check["stale"] == 2 and check["runs"] == 2
    assert check["changed"] == ["memae.memory"] and "memae/memory.py" in check["text"]
    assert "memae stale --list" in check["text"] and "--forcerun" in check["text"]

    html = _render(results, tmp_path)
    assert 'class="code-stale" id="code-mnist"' in html
    assert "stale: 2 of 2 runs were computed by other code" in html
    cells = html.split('data-dataset="mnist"')[1:]
    shown = [c for c in cells if "reproduced-value" in c.split("</td>")[0]]
    assert len(shown) == 2   # AE and MemAE ran
    assert all("stale: computed by other code" in c.split("</td>")[0] for c in shown)

    text, status = compare(results, REPORTED, ["mnist"], "smoke")
    assert "note: mnist: stale: 2 of 2 runs" in text and "--strict makes this fail" in text
    assert sum("[stale code]" in line for line in text.splitlines()) == 2
    text, strict_status = compare(results, REPORTED, ["mnist"], "smoke", strict=True)
    assert strict_status == 1 and "error: mnist: stale" in text
    # with tolerances that every number meets, only --strict fails, and on the stale code
    lenient = tmp_path / "reported.yaml"
    doc = yaml.safe_load(REPORTED.read_text())
    doc["tolerances"] = {k: 1.0 for k in doc["tolerances"]}
    lenient.write_text(yaml.safe_dump(doc))
    assert compare(results, lenient, ["mnist"], "smoke")[1] == 0
    text, status = compare(results, lenient, ["mnist"], "smoke", strict=True)
    assert status == 1 and text.splitlines()[-1] == "exit 1: 1 dataset(s) with stale code (--strict): mnist."
    doc = json.loads(export(results, REPORTED, ["mnist"], "json", strict_status))
    assert doc["code"]["mnist"]["state"] == "stale"
    assert {r["code"] for r in doc["rows"] if r["mean"] is not None} == {"stale"}
    rows = list(csv.DictReader(io.StringIO(export(results, REPORTED, ["mnist"], "csv", strict_status))))
    assert {r["code"] for r in rows if r["mean"]} == {"stale"}
    md = export(results, REPORTED, ["mnist"], "markdown", strict_status)
    assert sum("**stale code**" in line for line in md.splitlines()) == 2 and "- note: mnist: stale" in md

    assert cli.main(["stale", "--results", str(results), "--list"]) == 0
    listed = capsys.readouterr().out.split()
    assert sorted(listed) == sorted(str(run_dir(results, "mnist", v, "class0", 0) / "model.pt")
                                    for v in ("ae", "memae"))


def test_a_change_to_the_scoring_code_only_reruns_the_scoring(results, checkout, capsys):
    _edit(checkout / "memae" / "evaluate.py", '"eval_s": time.perf_counter() - t0',
          '"eval_s": time.perf_counter() - t0 + 0')
    rows = codedigest.run_states(results)
    assert {(r["train"], r["score"]) for r in rows} == {("current", "stale")}
    assert all(r["rerun"] == r["run"] / "metrics.json" and r["changed"] == ["memae/evaluate.py"] for r in rows)
    m = report.load_metrics(results / "mnist" / "metrics.json")
    assert codedigest.check("mnist", m["code"])["state"] == "stale"


def test_a_code_change_flags_study_arms_and_the_sweep_too(results, checkout, tmp_path, params_dir,
                                                         monkeypatch, capsys):
    """A study's arms (results/<ds>/studies/<name>/metrics.json: its own runs and the baseline) and
    the memory-size sweep (results/<ds>/sweep/metrics.json) are flagged like the main runs: in the
    report's "What moves the number", the sweep figure and `memae stale`, also with only the
    aggregated files left (a fresh clone)."""
    params = small_params(params_dir)
    # a study whose arm ran with the checkout's code (its runs: copies of the main ones, which
    # carry the same digests) and whose baseline is the main runs
    spec = {"description": "A study.", "set": {"train": {"lr": 0.001}}, "shorten": {}}
    monkeypatch.setattr(studies, "load_params", lambda *a, **k: params)
    monkeypatch.setattr(studies, "load_studies", lambda *a, **k: {"lr": spec})
    for v in ("ae", "memae"):
        shutil.copytree(run_dir(results, "mnist", v, "class0", 0), run_dir(results, "mnist", v, "class0", 0, "lr"))
    studies.aggregate_study("mnist", "lr", "smoke", results, study_path(results, "mnist", "lr"))
    # a sweep of two memory sizes: the MemAE run itself and a copy as the other point
    n0 = params["memory"]["num_items"]
    params["protocol"]["sweep_num_items"] = [n0 // 2, n0]
    shutil.copytree(run_dir(results, "mnist", "memae", "class0", 0),
                    run_dir(results, "mnist", sweep_name("memae", n0 // 2), "class0", 0))
    sweep = aggregate_sweep("mnist", params, results, sweep_path(results, "mnist"))
    assert codedigest.check("mnist", sweep["code"])["state"] == "current"

    def stale_output() -> str:
        assert cli.main(["stale", "--results", str(results)]) == 0
        return capsys.readouterr().out

    html = _render(results, tmp_path)
    assert 'id="code-mnist-lr"' not in html and "Code stale" not in html
    assert "0 with stale numbers" in stale_output()

    _edit(checkout / "memae" / "memory.py", "EPS = 1e-12", "EPS = 1e-10")
    check = codedigest.check_arms("mnist", report.load_study(study_path(results, "mnist", "lr")))
    assert check["state"] == "stale" and check["stale"] == 4 and check["changed"] == ["memae.memory"]
    assert "study arm: 2 of 2 runs; baseline: 2 of 2 runs" in check["text"]
    html = _render(results, tmp_path)
    assert '<small class="code-stale" id="code-mnist-lr">stale: computed by other code' in html
    assert "memae/memory.py" in html.split('id="code-mnist-lr">')[1].split("</small>")[0]
    assert "Code stale: 2 of 2 runs were computed by other code" in html   # the sweep figure's caption

    out = stale_output()
    study_file, sweep_file = study_path(results, "mnist", "lr"), sweep_path(results, "mnist")
    assert f"{study_file} (study lr): stale, 4 of 4 runs computed by other code (changed: memae/memory.py)" in out
    assert f"{sweep_file} (memory-size sweep): stale, 2 of 2 runs" in out
    assert "3 aggregated files: 3 with stale numbers" in out
    assert cli.main(["stale", "--results", str(results), "--list"]) == 0
    listed = set(capsys.readouterr().out.split())
    assert {str(run_dir(results, "mnist", v, "class0", 0, "lr") / "model.pt") for v in ("ae", "memae")} <= listed
    assert str(run_dir(results, "mnist", sweep_name("memae", n0 // 2), "class0", 0) / "model.pt") in listed

    # a fresh clone holds the aggregated files only: they still say which numbers are stale
    for log in list(results.rglob("train_log.json")):
        shutil.rmtree(log.parent)
    out = stale_output()
    assert f"{study_file} (study lr): stale" in out and f"{sweep_file} (memory-size sweep): stale" in out
    assert "0 runs: 0 stale" in out and "3 aggregated files: 3 with stale numbers" in out


# --- runs that record no digest -------------------------------------------------------------------

def test_runs_without_a_digest_are_not_recorded_neither_stale_nor_current(tmp_path, params_dir):
    # the tracked fixtures: metrics files written before digests were recorded
    text, _ = compare(FIXTURES, REPORTED, ["mnist", "kddcup99"], "quick", strict=True)
    assert "note: mnist: code digest not recorded" in text and "stale" not in text
    html = _render_fixtures(tmp_path)
    assert 'class="code-not-recorded" id="code-mnist"' in html and 'class="code-stale' not in html
    assert html.count('<small class="code-not-recorded">code digest not recorded</small>') > 0

    # aggregated from run logs without a digest (results of older runs): counted as not recorded
    res = make_results(tmp_path / "old")
    for log in res.rglob("train_log.json"):
        run = log.parent
        metrics = json.loads((run / "metrics.json").read_text())
        (run / "metrics.json").write_text(json.dumps({**metrics, "metrics": {"auc": 0.9}}))
    params = load_params("mnist", "quick", params_dir)
    m = json.loads((res / "mnist" / "metrics.json").read_text())
    params["protocol"].update(variants=list(m["variants"]), splits=m["splits"], seeds=m["seeds"])
    agg = aggregate("mnist", "quick", params, res, res / "mnist" / "metrics.json")
    check = codedigest.check("mnist", agg["code"])
    n = len(m["variants"]) * len(m["splits"]) * len(m["seeds"])
    assert check["state"] == "not recorded" and check["not_recorded"] == n and check["stale"] == 0
    assert {r["train"] for r in codedigest.run_states(res, ["mnist"])} == {"not recorded"}
    assert all(r["rerun"] is None for r in codedigest.run_states(res, ["mnist"]))


def _render_fixtures(tmp_path: Path) -> str:
    out = tmp_path / "fixtures.html"
    report.render(FIXTURES, REPORTED, ["mnist", "kddcup99"], out, "quick", tmp_path / "data")
    return out.read_text()


# --- declared equivalent changes (memae/code_equivalents.tsv) ---------------------------------------

@pytest.fixture
def equivalents(tmp_path, monkeypatch):
    """An equivalence table of the test's own, read in place of the committed one."""
    table = tmp_path / "code_equivalents.tsv"
    monkeypatch.setattr(codedigest, "EQUIVALENTS", table)
    codedigest._equivalents.cache_clear()
    yield table
    codedigest._equivalents.cache_clear()


def _table(path: Path, rows: list[tuple[str, str, str]]) -> None:
    path.write_text("# a test's table\nmodule\tfrom\tto\treason\n"
                    + "".join(f"{m}\t{a}\t{b}\ta reason\n" for m, a, b in rows))


def test_a_change_declared_equivalent_keeps_runs_current_any_other_makes_them_stale(
        results, checkout, equivalents, capsys):
    """A code change counts as no change only for the module and the exact pair of digests that the
    table declares (or a chain of such pairs); the same pair under another module, a pair that ends
    elsewhere, or a second change to the module leaves the runs stale."""
    state = lambda: report.load_metrics(results / "mnist" / "metrics.json")["code"]
    memory = checkout / "memae" / "memory.py"
    before = codedigest.code_digest("mnist", "train")["modules"]["memae.memory"]
    _edit(memory, "EPS = 1e-12", "EPS = 1e-12 * 1.0")
    after = codedigest.code_digest("mnist", "train")["modules"]["memae.memory"]
    assert after != before

    _table(equivalents, [])
    codedigest._equivalents.cache_clear()
    assert codedigest.check("mnist", state())["state"] == "stale"
    _table(equivalents, [("memae.models", before, after), ("memae.memory", before, "0" * 16)])
    codedigest._equivalents.cache_clear()
    assert codedigest.check("mnist", state())["changed"] == ["memae.memory"]

    _table(equivalents, [("memae.memory", before, "0" * 16), ("memae.memory", "0" * 16, after)])  # a chain
    codedigest._equivalents.cache_clear()
    check = codedigest.check("mnist", state())
    assert check["state"] == "current" and check["stale"] == 0
    assert {(r["train"], r["score"]) for r in codedigest.run_states(results)} == {("current", "current")}
    assert cli.main(["stale", "--results", str(results), "--list"]) == 0
    assert capsys.readouterr().out.split() == []

    _edit(memory, "EPS = 1e-12 * 1.0", "EPS = 1e-12 * 2.0")     # a later change is not covered
    check = codedigest.check("mnist", state())
    assert check["state"] == "stale" and check["changed"] == ["memae.memory"]


@pytest.mark.parametrize("row", ["memae.memory\t0123456789abcdef\t0123456789abcdef\tsame digest twice",
                                 "memae.memory\t0123456789abcdef\tfedcba9876543210\t",
                                 "memae.memory\t0123456789abcdeg\tfedcba9876543210\tnot hex",
                                 "memae.memory\t0123456789abcdef\tfedcba987654321\tshort",
                                 "numpy\t0123456789abcdef\tfedcba9876543210\tnot ours",
                                 "memaex.memory\t0123456789abcdef\tfedcba9876543210\tnot ours either"])
def test_a_malformed_equivalence_row_is_an_error_naming_the_line(equivalents, row):
    equivalents.write_text("module\tfrom\tto\treason\n" + row + "\n")
    with pytest.raises(ValueError, match=r"code_equivalents\.tsv, line 2: expected module"):
        codedigest.load_equivalents(equivalents)


def test_an_equivalence_table_without_its_header_is_an_error(equivalents):
    """A table whose column row was lost would otherwise drop its first declaration silently."""
    equivalents.write_text("# comment\nmemae.memory\t0123456789abcdef\tfedcba9876543210\ta reason\n")
    with pytest.raises(ValueError, match="must name the columns"):
        codedigest.load_equivalents(equivalents)


def test_the_committed_equivalence_table_reads_and_names_real_modules():
    table = codedigest.load_equivalents()
    assert table, "the committed table declares the changes of this project's speed work"
    for module in table:
        assert codedigest.module_path(module) is not None, module


def test_params_files_parse_alike_with_both_loaders():
    """The evidence of the memae.config row: every params file gives the same document with
    libyaml's loader (what memae.config reads with) as with PyYAML's pure-Python safe_load."""
    from memae import config
    if not yaml.__with_libyaml__:
        pytest.skip("this PyYAML was built without libyaml: memae.config reads with the pure-Python loader")
    assert config._LOADER is yaml.CSafeLoader   # the fast path is taken where libyaml is there
    files = sorted((REPO / "params").glob("*.yaml"))
    assert len(files) >= 8
    for path in files:
        text = path.read_text()
        assert yaml.load(text, Loader=yaml.CSafeLoader) == yaml.safe_load(text), path


def test_a_params_document_is_a_fresh_copy_each_read(tmp_path):
    """Parsed once per text, but a caller that edits its document does not edit the next caller's."""
    from memae import config
    path = tmp_path / "x.yaml"
    path.write_text("train: {epochs: 3}\n")
    first = config._read_yaml(path)
    first["train"]["epochs"] = 99
    assert config._read_yaml(path) == {"train": {"epochs": 3}}
    path.write_text("train: {epochs: 4}\n")
    assert config._read_yaml(path) == {"train": {"epochs": 4}}
