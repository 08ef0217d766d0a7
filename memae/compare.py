"""`memae compare`: the report's reported-vs-reproduced table as plain text, and an exit status a
CI can gate on (1 when any reproduced number lies outside its tolerance, above or below)."""
from __future__ import annotations

from pathlib import Path

from .report import build_tables, code_states, count_verdicts, known_datasets, load_reported, load_results

# A number whose runs were computed by other code than the checkout's (memae.codedigest) is
# flagged in every format; runs that record no code digest are named below the rows, neither
# stale nor current.
STALE = "stale code"


def code_lines(code: dict[str, dict], strict: bool) -> list[str]:
    """One line per dataset whose runs are stale or record no code digest."""
    return [f"{'error' if strict and s['state'] == 'stale' else 'note'}: {ds}: {s['text']}"
            + ("" if strict or s["state"] != "stale" else "; --strict makes this fail")
            for ds, s in code.items() if s["state"] != "current"]


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
                    f" (on {c['stand_in']})" if c["stand_in"] else "") + (
                    f" [{STALE}]" if c.get("code") == "stale" else "")
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
    fails the comparison (exit 1) instead of counting as not run, and so does one whose runs were
    computed by other code than the checkout's (stale; runs without a recorded digest do not fail). A metrics file holding NaN or
    infinity is always an error (report.load_metrics)."""
    reported = load_reported(reported_path)
    metrics = load_results(results, known_datasets(reported), selected)
    missing = [ds for ds in selected if ds not in metrics]
    tables = build_tables(reported, metrics, selected)
    s = count_verdicts(tables)
    c = s["counts"]
    code = code_states(metrics)
    stale = [ds for ds, x in code.items() if x["state"] == "stale"]
    lines = table_lines(tables) + [
        "",
        f"{c['reproduced']} of {s['total']} reported numbers reproduced within tolerance, "
        f"{c['short']} short, {c['above']} above, {c['not run']} not run.",
        *[f"note: {results}/{ds}/metrics.json comes from profile {m.get('profile')!r}, not {profile!r}"
          for ds, m in metrics.items() if m.get("profile") != profile],
        *[f"{'error' if strict else 'note'}: selected dataset {ds} has no results ({results}/{ds}/metrics.json "
          f"is missing){'' if strict else '; --strict makes this fail'}" for ds in missing],
        *code_lines(code, strict),
        (f"exit 1: {s['outside']} number(s) outside tolerance." if s["outside"] else
         f"exit 1: {len(missing)} selected dataset(s) without results (--strict)." if strict and missing else
         f"exit 1: {len(stale)} dataset(s) with stale code (--strict): {', '.join(stale)}." if strict and stale else
         "exit 0: every number that was run is within tolerance (numbers not run do not fail)."),
    ]
    return "\n".join(lines).lstrip("\n"), 1 if s["outside"] or (strict and (missing or stale)) else 0


FIELDS = ("table", "method", "variant", "dataset", "metric", "reported", "mean", "std", "n", "delta",
          "verdict", "note", "code")


def records(tables: list[dict]) -> list[dict]:
    """One record per reported number, with the fields of FIELDS (None where there is no value)."""
    out = []
    for t in tables:
        for r in t["rows"]:
            for c in r["cells"]:
                note = c.get("reason") if c["verdict"] == "not run" else None
                if c.get("stand_in"):
                    note = f"{note + '; ' if note else ''}on {c['stand_in']}"
                out.append({"table": t["title"], "method": r["label"], "variant": r.get("variant"),
                            "dataset": c["dataset"], "metric": c["metric"], "reported": c["reported"],
                            "mean": c["mean"], "std": c["std"], "n": c["n"], "delta": c["delta"],
                            "verdict": c["verdict"], "note": note,
                            "code": c.get("code")})   # current | stale | not recorded | None
    return out


def export(results: Path, reported_path: Path, selected: list[str], fmt: str, status: int) -> str:
    """The comparison as json (rows, counts, exit status), csv (one row per reported number) or
    markdown (one table per paper table, then the counts); `compare` gives the exit status."""
    import csv
    import io
    import json
    reported = load_reported(reported_path)
    metrics = load_results(results, known_datasets(reported), selected)
    tables = build_tables(reported, metrics, selected)
    s = count_verdicts(tables)
    rows = records(tables)
    code = code_states(metrics)
    if fmt == "json":
        return json.dumps({"rows": rows, "counts": s["counts"], "total": s["total"],
                           "outside_tolerance": s["outside"], "exit_status": status,
                           "code": code}, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, FIELDS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return buf.getvalue().rstrip("\n")
    if fmt != "markdown":
        raise ValueError(f"unknown format {fmt!r}: use table, json, csv or markdown")

    def cell(x) -> str:
        return str(x).replace("|", "\\|")

    lines = []
    for t in tables:
        lines += ["", f"### {cell(t['title'])}", "",
                  "| method | dataset | metric | reported | reproduced | delta | verdict |",
                  "|---|---|---|---:|---:|---:|---|"]
        for r in (x for x in rows if x["table"] == t["title"]):
            got = "-" if r["mean"] is None else f"{r['mean']:.4f} ± {_fmt(r['std'])} (n={r['n']})"
            verdict = r["verdict"] + (f" ({r['note']})" if r["note"] else "") + (
                f" **{STALE}**" if r["code"] == "stale" else "")
            lines.append("| " + " | ".join(cell(x) for x in (
                r["method"], r["dataset"], r["metric"],
                _fmt(r["reported"]) if r["reported"] is not None else "not confirmed",
                got, _fmt(r["delta"], "{:+.4f}"), verdict)) + " |")
    c = s["counts"]
    lines += ["", f"{c['reproduced']} of {s['total']} reported numbers reproduced within tolerance, "
              f"{c['short']} short, {c['above']} above, {c['not run']} not run."]
    lines += [f"- {cell(x)}" for x in code_lines(code, strict=False)]
    return "\n".join(lines).lstrip("\n")
