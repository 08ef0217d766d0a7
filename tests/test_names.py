"""A name means one thing: `prepare` is a dataset's raw -> prepared step (memae/data/), and the
regularity score of the video protocol is defined once."""
import ast
import re
from pathlib import Path

import memae

PACKAGE = Path(memae.__file__).resolve().parent


def _top_level_functions() -> dict[str, list[str]]:
    """Function name -> the modules (paths under memae/) that define it at top level."""
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.setdefault(node.name, []).append(path.relative_to(PACKAGE).as_posix())
    return found


def test_prepare_names_only_data_preparation():
    functions = _top_level_functions()
    # the verb: prepare, prepare_<something> (prepared_<something> names prepared data, same meaning)
    outside = sorted(f"{m}:{name}" for name, mods in functions.items() if re.match(r"prepare(_|$)", name)
                     for m in mods if not m.startswith("data/"))
    assert not outside, f"'prepare' names data preparation (memae/data/) only; also used by {outside}"
    # in memae/data/, `prepare` is the dataset entry point prepare(raw, out, params, workers)
    for path in (PACKAGE / "data").glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name == "prepare":
                assert [a.arg for a in node.args.args] == ["raw", "out", "params", "workers"], path.name


def test_regularity_score_is_defined_once_and_named_apart_from_the_figure():
    functions = _top_level_functions()
    assert functions.get("regularity_score") == ["protocols/video.py"]
    assert all(m == "figures.py" for m in functions.get("regularity", [])), functions.get("regularity")
