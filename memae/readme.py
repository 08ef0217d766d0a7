"""The README's results section, built from the tracked results of record.

`memae readme` rewrites the part of README.md between the markers below from
results/<dataset>/metrics.json (and each dataset's studies), so the README shows exactly the
numbers git holds; `memae readme --check` (and tests/test_readme.py) fails when they differ.
"""
from __future__ import annotations

from pathlib import Path

BEGIN = "<!-- results:begin (written by `memae readme` from results/*/metrics.json; do not edit) -->"
END = "<!-- results:end -->"


class ReadmeError(ValueError):
    pass


def _pm(cell: dict, planned: list | None = None) -> str:
    """mean ± std (n seeds), or (n of N seeds) for a partial file (memae aggregate --seeds)."""
    if cell["mean"] is None:
        return "not run"
    std = f" ± {cell['std']:.4f}" if cell["std"] is not None else ""
    of = f" of {len(planned)}" if planned else ""
    return f"{cell['mean']:.4f}{std} ({cell['n']}{of} seed{'s' if cell['n'] != 1 or planned else ''})"


def section(results: Path, params_dir: Path) -> str:
    """The markdown between the markers."""
    from .report import build_tables, known_datasets, load_reported, load_results
    reported = load_reported(Path(params_dir) / "reported.yaml")
    names = known_datasets(reported)
    metrics = load_results(results, names, names)
    run = {ds: m for ds, m in metrics.items() if m.get("variants")}
    tables = build_tables(reported, run, names)
    lines = ["| table | dataset | metric | variant | paper | reproduced (mean ± std over seeds) | Δ | verdict |",
             "|---|---|---|---|---|---|---|---|"]
    for t in tables:
        for row in t["rows"]:
            for c in row["cells"]:
                if c["mean"] is None:
                    continue
                shown = c["stand_in"] or c["dataset"]
                label = c["dataset"] + (f" (on {shown}, an approximation)" if c["stand_in"] else "")
                rep = "–" if c["reported"] is None else f"{c['reported']:.4f}"
                delta = "–" if c["delta"] is None else f"{c['delta']:+.4f}"
                planned = run.get(shown, {}).get("seeds_planned")
                lines.append(f"| {t['id']} | {label} | {c['metric']} | {row['label']} | {rep} | "
                             f"{_pm(c, planned)} | {delta} | {c['verdict']} |")
    if len(lines) == 2:
        lines.append("| | no results of record yet | | | | | | |")
    out = ["", "Results of record (tracked in git under `results/`):", ""]
    for ds, m in sorted(run.items()):
        code = m.get("code") or {}
        short = [c.split()[0][:12] + (" (uncommitted files in the tree)" if "dirty" in c else "")
                 for c in code.get("trained_at_commits", [])]
        trained = ", ".join(dict.fromkeys(short)) or "not recorded"
        wall = m.get("wall_time_s", {}).get("total")
        seeds = (f"seeds {m.get('seeds')}" if not m.get("seeds_planned") else
                 f"seeds {m['seeds']} of the profile's {m['seeds_planned']} (partial: the other seeds "
                 "have not run yet)")
        if m.get("variants_planned"):
            seeds += (f", variants {sorted(m['variants'])} of the profile's {m['variants_planned']} "
                      "(partial: the other variants have not run on every split yet)")
        out.append(f"- `{ds}`: profile `{m.get('profile')}`, {seeds}, trained at commit(s) "
                   f"{trained}" + (f"; {wall / 60:.0f} min of training and scoring summed over its runs"
                                   if wall else ""))
    out += ["", *lines, ""]
    studies = _studies(results, sorted(run))
    if studies:
        out += ["What moves the number (each study against its baseline, primary metric; the report's "
                "section of the same name gives the change and the seeds):", "",
                "| dataset | study | profile | variant | baseline | study | Δ |", "|---|---|---|---|---|---|---|",
                *studies, ""]
    return "\n".join(out)


def _studies(results: Path, datasets: list[str]) -> list[str]:
    from .report import load_study
    from .results import shortened_epochs
    from .variants import VARIANTS
    rows = []
    for ds in datasets:
        for f in sorted(Path(results, ds, "studies").glob("*/metrics.json")):
            m = load_study(f)
            epochs = shortened_epochs(m)   # its delta is measured at that length
            profile = m.get("profile", "?") + (f", {epochs} epochs" if epochs is not None else "")
            for v, d in m["delta"].items():
                if m["metric"] in d:
                    x = d[m["metric"]]
                    rows.append(f"| {ds} ({m['metric']}) | {f.parent.name} | {profile} | "
                                f"{VARIANTS[v].label} | "
                                f"{x['base']:.4f} | {x['study']:.4f} | {x['delta']:+.4f} |")
    return rows


def _split(text: str, path: Path) -> tuple[str, str, str]:
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ReadmeError(f"{path}: needs exactly one results section between {BEGIN!r} and {END!r}")
    head, rest = text.split(BEGIN)
    body, tail = rest.split(END)
    return head, body, tail


def update(readme: Path, results: Path, params_dir: Path, check: bool = False) -> bool:
    """Rewrite the README's results section; with check, only say whether it is current.
    Returns True when the README already matched."""
    readme = Path(readme)
    text = readme.read_text()
    head, body, tail = _split(text, readme)
    new = section(results, params_dir) + "\n"
    if body == new:
        return True
    if check:
        return False
    readme.write_text(head + BEGIN + new + END + tail)
    return False


def tracked_numbers(results: Path) -> dict:
    """{dataset: {variant: {metric: mean}}} of the tracked metrics files (for tests)."""
    out = {}
    from .results import read   # the one reader of results/<dataset>/metrics.json
    for f in sorted(Path(results).glob("*/metrics.json")):
        m = read(f)
        if m.get("variants"):
            out[f.parent.name] = {v: {k: s["mean"] for k, s in ms.items()} for v, ms in m["variants"].items()}
    return out
