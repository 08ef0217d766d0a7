"""results/<dataset>/metrics.json has one writer, memae.results.write (the contract checks the shape
there): a static look at the package and the workflow for anything else that writes it."""
import ast
import re
from pathlib import Path

import memae

PACKAGE = Path(memae.__file__).resolve().parent
REPO = PACKAGE.parent

# Calls that write a file, and which argument is the file (-1: the object the method is called on).
WRITERS = {"write_json": 0, "write": 0, "save": 0, "savez": 0, "savez_compressed": 0, "_save_atomic": 1,
           "dump": 1, "copy": 1, "copy2": 1, "copyfile": 1, "move": 1, "replace": 1, "rename": 1,
           "write_text": -1, "write_bytes": -1, "touch": -1, "symlink_to": -1}
# Names of the file these writes may not touch outside the allowed places.
METRICS = re.compile(r"metrics_path\(|metrics\.json[\"']")   # also f"{root}/metrics.json"

# (file, function) -> why it may write a file named metrics.json (results.py is not searched: it is
# the writer, and its path comes from its callers)
ALLOWED_WRITES = {
    ("memae/results.py", "write"): "the one writer of results/<dataset>/metrics.json, after check()",
    ("memae/evaluate.py", "evaluate"): "a run's own metrics.json (results/<ds>/<variant>/<split>/seed<k>/), "
                                       "which aggregate reads; not the dataset's file",
}
# Who calls the one writer, and why
ALLOWED_CALLERS = {
    ("memae/aggregate.py", "aggregate"): "the dataset's runs aggregated (`memae aggregate`)",
    ("workflow/rules/train.smk", "not_selected"): "the 'not run' file of a dataset the profile does not select",
}
# Workflow rules whose output is metrics_path(...), and how each writes it
RULES_WRITING_METRICS = {"aggregate": "memae aggregate", "not_selected": "results.write("}


def _is_write_mode(call: ast.Call) -> bool:
    # open(path, mode) or path.open(mode): the mode is the first argument of a method's call
    method = isinstance(call.func, ast.Attribute) and not (isinstance(call.func.value, ast.Name)
                                                          and call.func.value.id in ("io", "os", "builtins"))
    i = 0 if method else 1
    mode = call.args[i] if len(call.args) > i else next((k.value for k in call.keywords if k.arg == "mode"), None)
    return isinstance(mode, ast.Constant) and isinstance(mode.value, str) and any(c in mode.value for c in "wax")


def _target(call: ast.Call) -> ast.AST | None:
    """The expression naming the file a call writes, or None for a call that writes no file."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name == "open" and _is_write_mode(call):
        if isinstance(func, ast.Attribute) and not (isinstance(func.value, ast.Name)
                                                    and func.value.id in ("io", "os", "builtins")):
            return func.value                       # path.open("w")
        return call.args[0] if call.args else None
    if name not in WRITERS:
        return None
    i = WRITERS[name]
    if name == "save" and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
            and func.value.id == "torch":
        i = 1                                       # torch.save(obj, f); np.save(f, arr)
    if i < 0:
        return func.value if isinstance(func, ast.Attribute) else None
    return call.args[i] if len(call.args) > i else None


def _sources(text: str, tree: ast.AST, func: ast.AST, node: ast.AST) -> str:
    """The target's source, with the values assigned to the names in it within the function (one
    step of data flow: `path = metrics_path(...)` then `write_json(path, ...)`)."""
    out = [ast.get_source_segment(text, node) or ""]
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    for a in ast.walk(func or tree):
        if isinstance(a, (ast.Assign, ast.AnnAssign)) and a.value is not None:
            targets = a.targets if isinstance(a, ast.Assign) else [a.target]
            if {t.id for t in targets if isinstance(t, ast.Name)} & names:
                out.append(ast.get_source_segment(text, a.value) or "")
    return "\n".join(out)


def _functions(tree: ast.AST):
    """(enclosing function name, node) of every node ("" at module level)."""
    def walk(node, name, func):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield from walk(child, child.name, child)
            else:
                yield name, func, child
                yield from walk(child, name, func)
    yield from walk(tree, "", None)


def metrics_writes(root: Path, package: Path) -> list[tuple[str, str, str]]:
    """(file, function, source) of every write in the package whose file is named metrics.json or
    comes from metrics_path()."""
    found = []
    for path in sorted(package.rglob("*.py")):
        if path == package / "results.py":   # the writer itself
            continue
        text = path.read_text()
        tree = ast.parse(text)
        for name, func, node in _functions(tree):
            if isinstance(node, ast.Call) and (target := _target(node)) is not None:
                src = _sources(text, tree, func, target)
                if METRICS.search(src):
                    found.append((path.relative_to(root).as_posix(), name, src.splitlines()[0]))
    return found


def one_writer_calls(root: Path, package: Path) -> list[tuple[str, str]]:
    """(file, function or rule) of every call of memae.results.write outside results.py."""
    calls = []
    for path in sorted(package.rglob("*.py")):
        if path == package / "results.py":
            continue
        text = path.read_text()
        tree = ast.parse(text)
        imports = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        modules = {a.asname or a.name for n in imports for a in n.names if a.name == "results"}   # results.write
        bare = {a.asname or a.name for n in imports if (n.module or "").split(".")[-1] == "results"
                for a in n.names if a.name == "write"}                                             # write
        for name, _, node in _functions(tree):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            if ((isinstance(f, ast.Attribute) and f.attr == "write" and isinstance(f.value, ast.Name)
                 and f.value.id in modules) or (isinstance(f, ast.Name) and f.id in bare)):
                calls.append((path.relative_to(root).as_posix(), name))
    for path in sorted((root / "workflow").rglob("*.smk")):
        for rule, body in _rules(path.read_text()):
            if "results.write(" in body:
                calls.append((path.relative_to(root).as_posix(), rule))
    return calls


def _rules(text: str) -> list[tuple[str, str]]:
    """(name, body) of each Snakemake rule in a file."""
    heads = list(re.finditer(r"^[ \t]*rule(?:[ \t]+(\w+))?[ \t]*:", text, re.M))
    return [(m.group(1) or "<unnamed>", text[m.end():heads[i + 1].start() if i + 1 < len(heads) else len(text)])
            for i, m in enumerate(heads)]


def _output(body: str) -> str:
    m = re.search(r"^([ \t]+)output:\n((?:\1[ \t]+.*\n|[ \t]*\n)*)", body, re.M)
    return m.group(2) if m else ""


def rules_writing_metrics(root: Path) -> dict[str, str]:
    """rule -> its body, for each workflow rule whose output is a dataset's metrics_path(...)."""
    return {rule: body for path in sorted((root / "workflow").rglob("*.smk"))
            for rule, body in _rules(path.read_text()) if "metrics_path(" in _output(body)}


# --- the checks -----------------------------------------------------------------------------------

def test_only_the_results_contract_writes_a_file_named_metrics_json():
    writes = metrics_writes(REPO, PACKAGE)
    assert {(f, fn) for f, fn, _ in writes} == set(ALLOWED_WRITES) - {("memae/results.py", "write")}, writes
    assert writes == [("memae/evaluate.py", "evaluate", 'run / "metrics.json"')]


def test_the_one_writer_is_called_by_aggregate_and_the_not_selected_rule_only():
    assert set(one_writer_calls(REPO, PACKAGE)) == set(ALLOWED_CALLERS)
    # aggregate's one write is that call: nothing else of it writes a file
    tree = ast.parse((PACKAGE / "aggregate.py").read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "aggregate")
    assert [ast.unparse(c.func) for c in ast.walk(fn) if isinstance(c, ast.Call) and _target(c) is not None] \
        == ["results_file.write"]


def test_the_workflow_writes_a_dataset_s_metrics_only_through_aggregate_or_the_one_writer():
    rules = rules_writing_metrics(REPO)
    assert set(rules) == set(RULES_WRITING_METRICS)
    for rule, how in RULES_WRITING_METRICS.items():
        assert how in rules[rule], rule
    assert "--sweep" not in rules["aggregate"]


def test_the_checks_find_a_second_writer(tmp_path):
    # a copy of the package and workflow with one more writer of each kind: every check sees it
    pkg = tmp_path / "memae"
    pkg.mkdir()
    for name in ("results.py", "evaluate.py", "aggregate.py"):
        (pkg / name).write_text((PACKAGE / name).read_text())
    (pkg / "sneaky.py").write_text(
        "from .data.arrays import write_json\nfrom .layout import metrics_path\nfrom . import results\n\n"
        "def direct(root, ds, m):\n    path = metrics_path(root, ds)\n    write_json(path, m)\n\n"
        "def text(root, ds, m):\n    (root / ds / 'metrics.json').write_text(str(m))\n\n"
        "def opened(root, m):\n    with open(root / 'metrics.json', 'w') as f:\n        f.write(m)\n\n"
        "def method_open(root, m):\n    with (root / 'metrics.json').open('w') as f:\n        f.write(m)\n\n"
        "def torch_saved(root, m):\n    import torch\n    torch.save(m, root / 'metrics.json')\n\n"
        "def formatted(root, ds, m):\n    write_json(f'{root}/{ds}/metrics.json', m)\n\n"
        "def read_only(root):\n    with (root / 'metrics.json').open() as f:\n        return f.read()\n\n"
        "def through_the_writer(out, m):\n    results.write(out, m)\n")
    (tmp_path / "workflow/rules").mkdir(parents=True)
    (tmp_path / "workflow/rules/extra.smk").write_text(
        "rule shortcut:\n    output:\n        str(metrics_path(RESULTS, \"{dataset}\")),\n"
        "    shell:\n        \"echo {{}} > {output}\"\n")
    writes = {(f, fn) for f, fn, _ in metrics_writes(tmp_path, pkg)}
    assert writes - set(ALLOWED_WRITES) == {("memae/sneaky.py", f) for f in (
        "direct", "text", "opened", "method_open", "torch_saved", "formatted")}   # not read_only
    assert set(one_writer_calls(tmp_path, pkg)) - set(ALLOWED_CALLERS) == {("memae/sneaky.py", "through_the_writer")}
    assert set(rules_writing_metrics(tmp_path)) == {"shortcut"}
