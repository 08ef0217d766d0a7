"""The rendered report in a real browser: headless Chromium opens it from a file URL, and the test
reads back the DOM Chromium built and a screenshot of what it drew.

Chromium is driven through its own command line (--dump-dom, --screenshot) rather than through
Selenium: no extra Python dependency and no driver version to match; the Debian packages that
.ci/run installs are enough."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from memae import report
from tests.fixtures.runs import make_results

REPORTED = Path(__file__).resolve().parent.parent / "params" / "reported.yaml"
SELECTED = ["mnist", "kddcup99"]

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary on PATH: install the Debian package chromium "
    "(.ci/run does) to run the browser test")

# Appended to a copy of the report: once the page has loaded, count the images the browser
# actually decoded, and the tables it laid out, into attributes --dump-dom shows.
PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = [...document.images];
  document.body.dataset.images = imgs.length;
  document.body.dataset.imagesDecoded = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.tablesShown = [...document.querySelectorAll("table.results")]
    .filter(t => t.getBoundingClientRect().height > 0).length;
});
</script>
</body>"""


def chromium(tmp_path, *args) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done


def test_report_renders_tables_and_figures_in_chromium(tmp_path):
    results = make_results(tmp_path / "results")
    page = tmp_path / "report" / "index.html"
    report.render(results, REPORTED, SELECTED, page, "quick", tmp_path / "data")
    table_ids = [t["id"] for t in report.load_reported(REPORTED)["tables"]]

    probe = page.with_name("probe.html")
    probe.write_text(page.read_text().replace("</body>", PROBE))
    dom = chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()).stdout
    for tid in table_ids:
        assert f'data-table="{tid}"' in dom, f"table {tid} missing from the page Chromium rendered"
    for section in ("summary", "main-claim", "figures", "provenance", "prov-packages", "prov-checksums"):
        assert f'id="{section}"' in dom
    body = re.search(r"<body([^>]*)>", dom).group(1)
    # 6 figures: mnist ROC, training curves, memory items; kddcup99 ROC, training curves; Ped2 sweep
    assert 'data-images="6"' in body and 'data-images-decoded="6"' in body, body
    assert f'data-tables-shown="{len(table_ids)}"' in body, body

    shot = tmp_path / "report.png"
    chromium(tmp_path, "--window-size=1280,2400", f"--screenshot={shot}", page.as_uri())
    with Image.open(shot) as im:
        assert im.size == (1280, 2400)
        extrema = im.convert("L").getextrema()
    assert extrema[1] - extrema[0] > 100, "the screenshot is blank"
