"""The README's results section is the tracked results of record: every number it prints equals
the mean in results/<dataset>/metrics.json, and rebuilding it changes nothing."""
import re
from pathlib import Path

import pytest

from memae.readme import BEGIN, END, ReadmeError, tracked_numbers, update
from memae.variants import VARIANTS

REPO = Path(__file__).resolve().parent.parent
LABELS = {v.label: name for name, v in VARIANTS.items()}


def test_readme_results_section_is_built_from_the_tracked_metrics():
    assert update(REPO / "README.md", REPO / "results", REPO / "params", check=True), (
        "README.md's results section differs from results/*/metrics.json: run `memae readme`")


def test_every_number_in_the_readme_equals_the_tracked_mean():
    text = (REPO / "README.md").read_text()
    body = text.split(BEGIN)[1].split(END)[0]
    tracked = tracked_numbers(REPO / "results")
    rows = [r for r in body.splitlines() if re.match(r"\| (table\d+|ablation) \|", r)]
    seen = set()
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        ds = re.search(r"on (\w+), an approximation", cells[1])
        ds = ds.group(1) if ds else cells[1]
        mean = float(cells[5].split()[0])
        assert tracked[ds][LABELS[cells[3]]][cells[2]] == pytest.approx(mean, abs=5e-5), row
        seen.add((ds, LABELS[cells[3]], cells[2]))
    # the primary number of every tracked main variant is in the README
    for ds, variants in tracked.items():
        for v in set(variants) & {"ae", "memae_nonspar", "memae"}:
            assert (ds, v, "f1" if ds == "kddcup99" else "auc") in seen, (ds, v)


def test_a_study_that_shortened_the_epochs_says_so_in_its_rows():
    """A study whose both arms ran fewer epochs than the main numbers (`shorten`) is read at that
    length: its rows in the README name the epochs. CIFAR-10's reimpl_net ran both arms at 20 of the
    paper profile's 100 epochs (params/cifar10.yaml); every other tracked study ran the main epochs."""
    body = (REPO / "README.md").read_text().split(BEGIN)[1].split(END)[0]
    rows = [r.split("|") for r in body.splitlines() if re.match(r"\| \w+ \((auc|f1)\) \| ", r)]
    assert rows
    for r in rows:
        study, profile = r[2].strip(), r[3].strip()
        assert profile == ("paper, 20 epochs" if study == "reimpl_net" else "paper"), "|".join(r)
    assert any(r[2].strip() == "reimpl_net" for r in rows)


def test_a_readme_without_markers_is_an_error(tmp_path):
    (tmp_path / "README.md").write_text("# no markers\n")
    with pytest.raises(ReadmeError, match="results section"):
        update(tmp_path / "README.md", REPO / "results", REPO / "params")
