"""memae.fastexit: the exit handler that skips the collector's walk of the heap, in the `memae`
CLI and in the Snakefile. Each case runs a fresh interpreter, since the handler acts at its exit."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Registered before the code under test, so it runs after the handlers that code registers
# (atexit runs last-registered first): it sees the collector's state at the very end.
PROBE = """
import atexit, gc
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0))
"""


def run(code: str) -> str:
    r = subprocess.run([sys.executable, "-c", PROBE + code], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_without_the_handler_nothing_is_frozen():
    assert "frozen at exit: False" in run("")


def test_the_handler_freezes_once():
    out = run("import atexit\n"
              "from memae.fastexit import skip_exit_collections\n"
              "n = atexit._ncallbacks()\n"
              "skip_exit_collections(); skip_exit_collections()\n"
              "print('handlers added:', atexit._ncallbacks() - n)\n")
    assert "handlers added: 1" in out
    assert "frozen at exit: True" in out


def test_the_cli_registers_it():
    out = run("from memae.cli import main\n"
              "main(['params', 'mnist', '--format', 'json'])\n")
    assert '"protocol"' in out          # the command ran and printed the params
    assert "frozen at exit: True" in out


def test_an_unclosed_file_held_by_a_global_is_still_written(tmp_path):
    """What fastexit's docstring claims it keeps: objects held by ordinary references are freed
    as the modules are cleared, so an unclosed file's buffer still reaches the disk."""
    path = tmp_path / "out.txt"
    run("from memae.fastexit import skip_exit_collections\n"
        "skip_exit_collections()\n"
        f"f = open({str(path)!r}, 'w')\n"
        "f.write('x' * 100)\n")
    assert path.read_text() == "x" * 100


def test_the_snakefile_freezes_after_parsing_and_at_exit():
    """Parsing the workflow (what every Snakemake call does) freezes what it built, and registers
    the exit handler, which freezes again at exit: two calls of gc.freeze, one of them at exit."""
    out = run("import sys, gc, atexit\n"
              "calls = []\n"
              "_freeze = gc.freeze\n"
              "def counted():\n"
              "    calls.append('exit' if exiting else 'parse')\n"
              "    _freeze()\n"
              "gc.freeze = counted\n"
              "exiting = False\n"
              "atexit.register(lambda: print('freeze calls:', calls))\n"
              "import snakemake.cli\n"
              "sys.argv = ['snakemake', '--list-rules']\n"
              "try:\n"
              "    snakemake.cli.main()\n"
              "except SystemExit as e:\n"
              "    assert not e.code, e.code\n"
              "finally:\n"
              "    exiting = True\n")
    assert "aggregate" in out            # the rules were listed: the Snakefile was parsed
    assert "freeze calls: ['parse', 'exit']" in out
    assert "frozen at exit: True" in out
