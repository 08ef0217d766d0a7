"""The package as `pip install .` (not editable) installs it: the report template travels as package
data, so the installed `memae report` renders from a folder that holds no source tree."""
import json
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

if sys.version_info < (3, 11):  # pragma: no cover
    pytest.skip("needs Python 3.11+", allow_module_level=True)


def _tracked(dest: Path, prefixes: tuple[str, ...]) -> None:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for rel in filter(None, out.decode().split("\0")):
        if rel.startswith(prefixes) and (REPO / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dest / rel)


def test_non_editable_install_renders_the_report(tmp_path):
    src, venv, run = tmp_path / "src", tmp_path / "venv", tmp_path / "run"
    _tracked(src, ("memae/", "pyproject.toml", "README.md"))
    # A bare venv that sees this interpreter's packages (torch, jinja2, ...) through a .pth line,
    # but not its editable memae (a path line does not run the editable finder's .pth).
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    purelib = Path(subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    (purelib / "_parent_env.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    r = subprocess.run([py, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                        "--no-index", str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    shutil.rmtree(src)   # from here on only the installed copy exists

    run.mkdir()
    _tracked(run, ("params/",))
    (run / "results/kddcup99").mkdir(parents=True)
    stats = {"precision": 0.8765, "recall": 0.8642, "f1": 0.8703}
    (run / "results/kddcup99/metrics.json").write_text(json.dumps({
        "dataset": "kddcup99", "profile": "smoke", "splits": ["all"], "seeds": [0, 1],
        "variants": {v: {k: {"mean": x, "std": 0.0123, "n": 2} for k, x in stats.items()}
                     for v in ("ae", "memae_nonspar", "memae")}}))
    where = subprocess.run([py, "-c", "import memae.report as r; print(r.__file__); print(r.TEMPLATES)"],
                           cwd=run, capture_output=True, text=True, check=True).stdout.split()
    assert all(Path(p).is_relative_to(purelib) for p in where), where
    assert (Path(where[1]) / "index.html.j2").is_file()

    r = subprocess.run([venv / "bin" / "memae", "report", "--results", "results", "--out", "out.html",
                        "--profile", "smoke", "--datasets", "kddcup99"],
                       cwd=run, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    html = (run / "out.html").read_text()
    assert html.lstrip().lower().startswith("<!doctype html")
    assert "Table 3" in html and "0.8703 ± 0.0123" in html


def _pins(text: str) -> dict[str, str]:
    """name -> version of every `name==version` line (names normalised as pip does)."""
    pins = {}
    for line in text.splitlines():
        line = line.split("#")[0].strip().rstrip("\\").strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split(";")[0].split("==")
            pins[name.strip().lower().replace("_", "-").replace(".", "-")] = version.strip()
    return pins


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-cuda.lock"])
def test_lock_files_hold_the_direct_pins_with_hashes(lock):
    """A pin changed in requirements.txt without `make lock` would leave `make setup` installing the
    old version: each lock must pin every direct requirement at its version, each with a hash."""
    direct = _pins((REPO / "requirements.txt").read_text())
    text = (REPO / lock).read_text()
    locked = _pins(text)
    assert len(direct) >= 15
    for name, version in direct.items():
        assert locked.get(name, "").split("+")[0] == version, (lock, name, version, locked.get(name))
    entries = [e for e in text.split("\n") if "==" in e and not e.lstrip().startswith("#")]
    assert len(entries) >= len(locked) > len(direct)   # a universal lock may split one name by marker
    assert text.count("--hash=sha256:") >= len(locked)
    assert all(e.rstrip().endswith("\\") for e in entries), "an entry without --hash"
