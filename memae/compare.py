"""`memae compare`: the report's reported-vs-reproduced table as plain text, and an exit status a
CI can gate on (1 when any reproduced number lies outside its tolerance, above or below)."""
from __future__ import annotations

from pathlib import Path

from .report import build_tables, known_datasets, load_reported, load_results, summarise


def _fmt(x: float | None, fmt: str = "{:.4f}") -> str:
    return "-" if x is None else fmt.format(x)


def table_lines(tables: list[dict]) -> list[str]:
    head = ("method", "dataset", "metric", "reported", "reproduced", "delta", "verdict")
    lines = []
    for t in tables:
        rows = []
        for r in t["rows"]:
            for c in r["cells"]:
                got = ("-" if c["mean"] is None else
                       f"{c['mean']:.4f} ± {_fmt(c['std'])} (n={c['n']})")
                note = (f"not run: {c['reason']}" if c["verdict"] == "not run" else c["verdict"]) + (
                    f" (on {c['stand_in']})" if c["stand_in"] else "")
                rows.append((r["label"], c["dataset"], c["metric"],
                             _fmt(c["reported"]) if c["reported"] is not None else "not confirmed",
                             got, _fmt(c["delta"], "{:+.4f}"), note))
        widths = [max(len(x[i]) for x in [head, *rows]) for i in range(len(head) - 1)]
        lines += ["", t["title"]]
        lines += ["  ".join(x.ljust(w) for x, w in zip(row, widths)) + "  " + row[-1]
                  for row in [head, *rows]]
    return lines


def compare(results: Path, reported_path: Path, selected: list[str], profile: str,
            strict: bool = False) -> tuple[str, int]:
    """The text to print and the exit status. strict: a selected dataset without a metrics file
    fails the comparison (exit 1) instead of counting as not run. A metrics file holding NaN or
    infinity is always an error (report.load_metrics)."""
    reported = load_reported(reported_path)
    metrics = load_results(results, known_datasets(reported), selected)
    missing = [ds for ds in selected if ds not in metrics]
    tables = build_tables(reported, metrics, selected)
    s = summarise(tables)
    c = s["counts"]
    lines = table_lines(tables) + [
        "",
        f"{c['reproduced']} of {s['total']} reported numbers reproduced within tolerance, "
        f"{c['short']} short, {c['above']} above, {c['not run']} not run.",
        *[f"note: {results}/{ds}/metrics.json comes from profile {m.get('profile')!r}, not {profile!r}"
          for ds, m in metrics.items() if m.get("profile") != profile],
        *[f"{'error' if strict else 'note'}: selected dataset {ds} has no results ({results}/{ds}/metrics.json "
          f"is missing){'' if strict else '; --strict makes this fail'}" for ds in missing],
        (f"exit 1: {s['outside']} number(s) outside tolerance." if s["outside"] else
         f"exit 1: {len(missing)} selected dataset(s) without results (--strict)." if strict and missing else
         "exit 0: every number that was run is within tolerance (numbers not run do not fail)."),
    ]
    return "\n".join(lines).lstrip("\n"), 1 if s["outside"] or (strict and missing) else 0
