"""The digest of the code a run depends on, so that results computed by other code are flagged as
stale (the report, `memae compare`, `memae stale`).

Two kinds, per dataset:
- "train": the code that produced a run's weights: memae.train and memae.ensemble (the two ways a
  run is trained, which write the same train_log.json), the dataset's module (registry
  spec.module: the parsers and prepare() that made the prepared data) and its protocol module
  (memae.protocols.<spec.protocol>), with every memae module they import (model, memory,
  variants, device, layout, params handling, ...). Recorded in train_log.json.
- "score": the code that turned the weights into metrics: memae.evaluate and the protocol
  module, with what they import. Recorded in a run's metrics.json.

The module list is derived, not written out: the memae modules that the roots import, found in
their source (every import statement, those inside functions included) and followed module by
module, the packages above each included. A module that imports one dynamically (the protocol
and the dataset module, chosen from the registry) is a root. EXCLUDED names the modules the
search does not enter, each with the reason it cannot change a run's numbers;
tests/test_codedigest.py checks that every memae module a training and a scoring load is in the
list or in EXCLUDED.

The digest is semantic, not textual: each file's syntax tree, docstrings removed, serialised
without positions, so comments, docstrings, blank lines and formatting leave it unchanged while
any change to the code (a constant, an operator, a default) changes it. The serialisation skips
empty fields, so Python 3.11 to 3.13 (whose trees differ in such fields) agree.

Why stale results are flagged and not retrained automatically: a run at the paper's size costs
hours to days of GPU time, and refactors that keep results bit-identical happen; rerunning every
run whose code digest changed would retrain days of work after a renamed variable. Flagging tells
the truth (the report and `memae compare` say which datasets' numbers came from other code, and
`--strict` fails on them), and the user decides: `memae stale --list` prints the outputs of the
stale jobs for `snakemake --cores all --forcerun $(memae stale --list)`.

A change shown to leave every result as it was (an import moved for speed, a faster parser of the
same documents) can be declared in memae/code_equivalents.tsv: the module, its digest before and
after, and the reason with the evidence. Runs recorded with the digest before then count as current
for that module; nothing else is cleared, and the next change to the module flags them again.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import json
from pathlib import Path

VERSION = 1
PACKAGE = "memae"
# The folder holding the memae package's sources (a test points it at a modified copy).
ROOT = Path(__file__).resolve().parent.parent
KINDS = ("train", "score")
ROOTS = {"train": ("memae.train", "memae.ensemble"), "score": ("memae.evaluate",)}

# Modules the search does not enter: none of them computes anything a run's numbers depend on.
EXCLUDED = {
    "memae.codedigest": "computes this digest; records it, computes nothing of a run",
    "memae.provenance": "records the git commit and package versions of a run (train._code_state)",
    "memae.progress": "the progress bar's output format only",
    "memae.datasets": "the registry: a dataset's module and protocol enter the digest as the modules "
                      "themselves; its URLs and checksums only decide which files fetch accepts",
    "memae.data.sources": "the registry's file tables (names, URLs, checksums), re-exported for the "
                          "dataset modules: a different file fails verification, it never trains",
}


def module_path(name: str, root: Path | None = None) -> Path | None:
    """The source file of a memae module (a package's __init__.py), or None when there is none."""
    base = Path(root or ROOT).joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _is_package(name: str, root: Path) -> bool:
    return (Path(root).joinpath(*name.split(".")) / "__init__.py").is_file()


def _imports(name: str, root: Path) -> set[str]:
    """The memae modules a module's source imports (anywhere in it), with their packages."""
    path = module_path(name, root)
    tree = ast.parse(path.read_text(), str(path))
    package = name if _is_package(name, root) else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # `from .data import arrays`: arrays is a module when it has a file of its own
            found |= {f"{target}.{a.name}" for a in node.names if module_path(f"{target}.{a.name}", root)}
    out = set()
    for mod in found:
        if mod == PACKAGE or mod.startswith(PACKAGE + "."):
            parts = mod.split(".")
            out |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return {m for m in out if module_path(m, root)}


def roots(dataset: str, kind: str) -> list[str]:
    """The modules a run's code is searched from: the kind's entry points, the dataset's protocol
    module and (training) its dataset module, both chosen through the registry."""
    from .datasets import spec
    if kind not in KINDS:
        raise ValueError(f"unknown code digest kind {kind!r}; have {', '.join(KINDS)}")
    s = spec(dataset)
    extra = [f"{PACKAGE}.protocols.{s.protocol}"] + ([s.module] if kind == "train" else [])
    return [*ROOTS[kind], *extra]


def modules(dataset: str, kind: str = "train", root: Path | None = None) -> list[str]:
    """Every memae module the code digest of a dataset's runs covers, sorted."""
    root = Path(root or ROOT)
    seen, todo = set(), list(roots(dataset, kind))
    while todo:
        name = todo.pop()
        if name in seen or name in EXCLUDED:
            continue
        if module_path(name, root) is None:
            raise ValueError(f"code digest: module {name} has no source under {root}")
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]   # its packages run first
        todo += sorted(_imports(name, root))
    return sorted(seen)


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def _serialise(node) -> str:
    """A syntax tree as text: node types, fields and constants, no positions; empty fields (None,
    []) are left out, so trees of Python versions that add empty fields agree."""
    if isinstance(node, ast.AST):
        fields = [(k, v) for k, v in ast.iter_fields(node) if v is not None and v != []]
        return f"{type(node).__name__}(" + ",".join(f"{k}={_serialise(v)}" for k, v in fields) + ")"
    if isinstance(node, list):
        return "[" + ",".join(_serialise(x) for x in node) + "]"
    return f"{type(node).__name__}:{node!r}"


def source_digest(source: str, filename: str = "<source>") -> str:
    """sha256 of a module's normalised syntax tree (docstrings, comments and layout left out)."""
    tree = _strip_docstrings(ast.parse(source, filename))
    return hashlib.sha256(_serialise(tree).encode()).hexdigest()


_CACHE: dict = {}


def _signature(root: Path) -> tuple:
    """(file, mtime, size) of every source file of the package: a cached digest is reused only
    while none of them changed."""
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size)
                 for p in sorted((root / PACKAGE).rglob("*.py")))


def code_digest(dataset: str, kind: str = "train", root: Path | None = None) -> dict:
    """{"version", "kind", "digest", "modules": {module: digest}} of the code of a dataset's runs
    as the checkout (or root) holds it now."""
    root = Path(root or ROOT)
    key = (str(root), dataset, kind)
    sig = _signature(root)
    if key in _CACHE and _CACHE[key][0] == sig:
        return dict(_CACHE[key][1])
    result = _code_digest(dataset, kind, root)
    _CACHE[key] = (sig, result)
    return dict(result)


def safe_digest(dataset: str, kind: str) -> dict:
    """code_digest for recording beside a result: a failure is recorded (and read back as "not
    recorded"), never allowed to lose the run it describes."""
    try:
        return code_digest(dataset, kind)
    except Exception as e:   # noqa: BLE001 - metadata only: the run's files are already written
        return {"version": VERSION, "kind": kind, "error": f"{type(e).__name__}: {e}"}


def _code_digest(dataset: str, kind: str, root: Path) -> dict:
    per_module = {}
    for name in modules(dataset, kind, root):
        path = module_path(name, root)
        per_module[name] = source_digest(path.read_text(), str(path))[:16]
    total = hashlib.sha256(json.dumps({"version": VERSION, "modules": per_module},
                                      sort_keys=True).encode()).hexdigest()
    return {"version": VERSION, "kind": kind, "digest": total, "modules": per_module}


def recorded(doc: dict) -> dict | None:
    """The code digest a train_log.json or a run's metrics.json records (None: not recorded)."""
    d = doc.get("code_digest") if isinstance(doc, dict) else None
    return d if isinstance(d, dict) and isinstance(d.get("digest"), str) else None


# --- aggregates: which digests a dataset's runs were computed with --------------------------------

def tally(entries: list[dict | None]) -> dict:
    """{"digests": {digest: {"runs": n, "modules": {...}}}, "not_recorded": n} of some runs'
    recorded digests (None for a run that records none)."""
    out = {"digests": {}, "not_recorded": 0}
    for d in entries:
        if d is None:
            out["not_recorded"] += 1
            continue
        slot = out["digests"].setdefault(d["digest"], {"runs": 0, "modules": d.get("modules", {})})
        slot["runs"] += 1
    return out


STATES = ("current", "stale", "not recorded")
RERUN = ("list the stale runs with `memae stale --list`, then retrain and rescore them: "
         "`snakemake --cores all --forcerun $(memae stale --list)`")


def _shown(name: str, root: Path | None = None) -> str:
    """A module as the path of its file in the checkout (memae/memory.py), else its name."""
    root = Path(root or ROOT)
    path = module_path(name, root)
    return path.relative_to(root).as_posix() if path else name


# Declared code changes that cannot move a run's numbers (a refactor, an import moved for speed):
# module digests that count as the same code, each pair with its reason and evidence.
EQUIVALENTS = Path(__file__).with_name("code_equivalents.tsv")
_HEX16 = frozenset("0123456789abcdef")


def load_equivalents(path: Path | None = None) -> dict[str, list[frozenset[str]]]:
    """{module: [sets of module digests that count as the same code]} from the equivalence table
    (rows: module, from, to, reason; chains of rows join into one set). A malformed row is an error
    naming the file and line: a table that is silently half-read would flag or clear the wrong runs."""
    path = Path(path or EQUIVALENTS)
    groups: dict[str, list[set[str]]] = {}
    if not path.exists():
        return {}
    rows = [(n, line) for n, line in enumerate(path.read_text().splitlines(), 1)
            if line.strip() and not line.startswith("#")]
    if not rows or rows[0][1].split("\t") != ["module", "from", "to", "reason"]:
        raise ValueError(f"{path}: the first row that is not a comment must name the columns: "
                         "module, from, to, reason (tab-separated)")
    for n, line in rows[1:]:
        cells = line.split("\t")
        ok = (len(cells) == 4 and (cells[0] == PACKAGE or cells[0].startswith(PACKAGE + "."))
              and cells[3].strip() and cells[1] != cells[2]
              and all(len(c) == 16 and set(c) <= _HEX16 for c in cells[1:3]))
        if not ok:
            raise ValueError(f"{path}, line {n}: expected module, from, to (two different 16-hex module "
                             f"digests) and a reason, separated by tabs; got {line!r}")
        module, a, b = cells[:3]
        sets = groups.setdefault(module, [])
        joined = {a, b}.union(*[s for s in sets if a in s or b in s])
        sets[:] = [s for s in sets if not (a in s or b in s)] + [joined]
    return {m: [frozenset(s) for s in sets] for m, sets in groups.items()}


@functools.lru_cache(maxsize=1)
def _equivalents() -> dict[str, list[frozenset[str]]]:
    return load_equivalents()


def same_code(module: str, then: str | None, now: str | None) -> bool:
    """Whether a module's recorded digest and the checkout's are the same code: equal, or declared
    equivalent in the table."""
    if then == now:
        return True
    if then is None or now is None:
        return False
    return any(then in s and now in s for s in _equivalents().get(module, ()))


def changed_modules(then: dict, now: dict) -> list[str]:
    """The modules whose digest differs (or that were added or removed) between two module maps,
    less the changes declared equivalent (memae/code_equivalents.tsv)."""
    return sorted(m for m in set(then) | set(now) if not same_code(m, then.get(m), now.get(m)))


def check(dataset: str, code: dict | None, root: Path | None = None) -> dict:
    """Whether a dataset's aggregated runs (metrics.json `code.digests`, as aggregate writes it)
    were computed by the checkout's code: {"state", "runs", "stale", "not_recorded", "changed",
    "text"}. state: "stale" when any run's recorded digest (training or scoring) differs from
    the checkout's in a module whose change is not declared equivalent, else "not recorded" when some run (or the whole file, written before digests
    were recorded) records none, else "current"."""
    digests = (code or {}).get("digests")
    if not isinstance(digests, dict):
        return {"state": "not recorded", "runs": None, "stale": 0, "not_recorded": None, "changed": [],
                "text": "code digest not recorded (these runs predate code digests): whether they "
                        "match the checkout's code is unknown"}
    runs = stale = missing = 0
    changed: set[str] = set()
    for kind in KINDS:
        t = digests.get(kind) or {"digests": {}, "not_recorded": 0}
        now = code_digest(dataset, kind, root)
        n_kind = t["not_recorded"] + sum(d["runs"] for d in t["digests"].values())
        runs = max(runs, n_kind)
        missing = max(missing, t["not_recorded"])
        bad = {k: d for k, d in t["digests"].items()
               if k != now["digest"] and changed_modules(d.get("modules", {}), now["modules"])}
        stale = max(stale, sum(d["runs"] for d in bad.values()))
        for d in bad.values():
            changed |= set(changed_modules(d.get("modules", {}), now["modules"]))
    changed_list = sorted(changed)
    if stale:
        where = ", ".join(_shown(m, root) for m in changed_list) or "unknown"
        text = (f"stale: {stale} of {runs} runs were computed by other code than the checkout's "
                f"(changed since: {where}); {RERUN}")
        state = "stale"
    elif missing:
        text = (f"code digest not recorded for {missing} of {runs} runs: whether they match the "
                "checkout's code is unknown")
        state = "not recorded"
    else:
        text = f"current: all {runs} runs were computed by the checkout's code"
        state = "current"
    return {"state": state, "runs": runs, "stale": stale, "not_recorded": missing,
            "changed": changed_list, "text": text}


ARMS = {"study": "study arm", "base": "baseline"}


def check_arms(dataset: str, study: dict, root: Path | None = None) -> dict:
    """Whether a study's runs were computed by the checkout's code: check() of each arm of its file
    (results/<ds>/studies/<name>/metrics.json, "study" and "base", each with `code` as
    aggregate.collect writes it), and together {"state", "arms", "stale", "runs", "changed", "text"}:
    "stale" when either arm is, else "not recorded" when either records no digest, else "current"."""
    per = {arm: check(dataset, (study.get(arm) or {}).get("code"), root) for arm in ARMS}
    changed = sorted({m for c in per.values() for m in c["changed"]})
    stale = [arm for arm, c in per.items() if c["state"] == "stale"]
    runs = sum(c["runs"] or 0 for c in per.values())
    if stale:
        where = ", ".join(_shown(m, root) for m in changed) or "unknown"
        arms = "; ".join(f"{ARMS[a]}: {per[a]['stale']} of {per[a]['runs']} runs" for a in stale)
        text = (f"stale: computed by other code than the checkout's ({arms}; changed since: {where}); "
                f"{RERUN}")
        state = "stale"
    elif any(c["state"] == "not recorded" for c in per.values()):
        text = ("code digest not recorded for some of its runs: whether they match the checkout's "
                "code is unknown")
        state = "not recorded"
    else:
        text = f"current: all {runs} runs of both arms were computed by the checkout's code"
        state = "current"
    return {"state": state, "arms": per, "stale": sum(per[a]["stale"] for a in stale), "runs": runs,
            "changed": changed, "text": text}


def aggregated_states(results: Path, datasets: list[str] | None = None,
                      root: Path | None = None) -> list[dict]:
    """The code state of every aggregated file under results/<dataset>/ (what the report, the
    README and `dvc metrics diff` read, also where the runs themselves are not on disk, as in a
    fresh clone): the main metrics.json, the sweep's and each study's (both arms).
    [{"file", "dataset", "what", "state", "text", "stale", "runs", "files", ...}] as check() /
    check_arms() give them; "files": the changed modules as paths (memae/memory.py)."""
    from . import results as results_file
    from .datasets import SPECS
    from .layout import metrics_path, sweep_path
    results = Path(results)
    names = datasets or ([p.name for p in results.iterdir() if p.is_dir()] if results.is_dir() else [])
    out = []
    for ds in sorted(n for n in names if n in SPECS):
        main = metrics_path(results, ds)
        if main.exists():
            m = results_file.read(main)
            if m["status"] == "run":
                out.append({"file": main, "dataset": ds, "what": "main runs", **check(ds, m.get("code"), root)})
        sweep = sweep_path(results, ds)
        if sweep.exists():
            code = (_read(sweep) or {}).get("code")   # files written before the sweep recorded it: none
            out.append({"file": sweep, "dataset": ds, "what": "memory-size sweep", **check(ds, code, root)})
        for f in sorted((results / ds / "studies").glob("*/metrics.json")):
            out.append({"file": f, "dataset": ds, "what": f"study {f.parent.name}",
                        **check_arms(ds, results_file.read_study(f), root)})
    for row in out:
        row["files"] = [_shown(m, root) for m in row["changed"]]
    return out


# --- runs on disk: `memae stale` -------------------------------------------------------------------

def _read(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def run_states(results: Path, datasets: list[str] | None = None, root: Path | None = None) -> list[dict]:
    """Every run under results/<dataset>/ (main runs, sweep points and study arms: each folder with
    a train_log.json), with the state of its training and its scoring code against the
    checkout's: {"run", "dataset", "train", "score", "changed", "rerun"}; rerun is the file whose
    job reruns it (model.pt for a stale training, which reruns its scoring too; metrics.json for a
    stale scoring only), None for a run that is current or records no digest."""
    from .datasets import SPECS
    out = []
    results = Path(results)
    names = datasets or ([p.name for p in results.iterdir() if p.is_dir()] if results.is_dir() else [])
    for ds in sorted(names):
        if ds not in SPECS:
            continue
        now = {k: code_digest(ds, k, root) for k in KINDS}
        for log_path in sorted((results / ds).rglob("train_log.json")):
            run = log_path.parent
            states, changed = {}, set()
            for kind, doc in (("train", _read(log_path)), ("score", _read(run / "metrics.json"))):
                if doc is None:
                    states[kind] = "missing"
                    continue
                rec = recorded(doc)
                if rec is None:
                    states[kind] = "not recorded"
                elif rec["digest"] == now[kind]["digest"] or not changed_modules(
                        rec.get("modules", {}), now[kind]["modules"]):
                    states[kind] = "current"
                else:
                    states[kind] = "stale"
                    changed |= set(changed_modules(rec.get("modules", {}), now[kind]["modules"]))
            rerun = (run / "model.pt" if states["train"] == "stale" else
                     run / "metrics.json" if states["score"] == "stale" else None)
            out.append({"run": run, "dataset": ds, **states,
                        "changed": [_shown(m, root) for m in sorted(changed)], "rerun": rerun})
    return out
