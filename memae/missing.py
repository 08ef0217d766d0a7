"""What a selected dataset that did not run lacks, and the fix: the summary the workflow prints at
its end (workflow/Snakefile onsuccess/onerror) and the reason the report gives.

A dataset's data is present when every raw file of the registry (memae.datasets) has the stamp
`memae fetch` writes once the file is verified (memae.layout.stamp_path): the fetch job's outputs.
The fix names where to put the missing files: the dataset's raw folder, or a mirror folder
(`MEMAE_MIRROR=<folder>` holding <dataset>/<file>), and the registry's by-hand instructions where
a file has them (ShanghaiTech, the JPEG copy of CIFAR-10).

Torch-free and matplotlib-free: the workflow imports it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import results as results_file
from .datasets import SPECS, RemoteFile
from .layout import metrics_path, raw_dir, stamp_path


def missing_files(dataset: str, data_root: str | Path) -> list[RemoteFile]:
    """The registry's files of a dataset that `memae fetch` has not verified under data_root."""
    raw = raw_dir(data_root, dataset)
    files = SPECS[dataset].files if dataset in SPECS else ()
    return [rf for rf in files if not stamp_path(raw, rf.name).is_file()]


def fix(dataset: str, lacking: list[RemoteFile], data_root: str | Path) -> str:
    """Where to put a dataset's missing files (and, for a by-hand file, where to get it)."""
    raw = raw_dir(data_root, dataset)
    names = ", ".join(rf.name for rf in lacking)
    text = (f"put {names} in {raw}/, or set MEMAE_MIRROR=<folder> holding "
            f"{dataset}/<file> (`memae fetch {dataset}` verifies them)")
    hosts = list(dict.fromkeys(rf.urls[0].split("/")[2] for rf in lacking if rf.urls and not rf.manual))
    if hosts:
        text += f"; the download from {', '.join(hosts)} failed or was not tried"
    return "; ".join([rf.manual for rf in lacking if rf.manual] + [text])


def data_missing_reason(dataset: str, data_root: str | Path) -> str | None:
    """'data missing: ...' naming the files and the fix, or None when the data is there."""
    lacking = missing_files(dataset, data_root)
    return f"data missing: {fix(dataset, lacking, data_root)}" if lacking else None


@dataclass(frozen=True)
class NotRun:
    dataset: str
    missing: tuple[str, ...]   # raw files not verified (paths); empty: a later job failed
    fix: str

    def line(self) -> str:
        if self.missing:
            return f"{self.dataset}: missing {', '.join(self.missing)}. Fix: {self.fix}"
        return f"{self.dataset}: did not finish. {self.fix}"


def not_run(selected: list[str], results_root: str | Path, data_root: str | Path) -> list[NotRun]:
    """The selected datasets without a results/<dataset>/metrics.json of status "run", each with
    what is missing and the fix."""
    out = []
    for ds in selected:
        path = metrics_path(results_root, ds)
        try:
            if path.is_file() and results_file.read(path)["status"] == "run":
                continue
        except results_file.MetricsError:
            pass
        lacking = missing_files(ds, data_root)
        if lacking:
            out.append(NotRun(ds, tuple(str(raw_dir(data_root, ds) / rf.name) for rf in lacking),
                              f"{fix(ds, lacking, data_root)} (log: logs/fetch_{ds}.log)"))
        else:
            out.append(NotRun(ds, (), f"Its data is there; a later job failed: see the failed jobs' logs "
                                      f"above (logs/{ds}/), fix, and run the same command again."))
    return out


def summary(items: list[NotRun], selected: int) -> str:
    """The short summary printed at the end of the workflow ('' when every dataset ran)."""
    if not items:
        return ""
    lines = [f"memae: {len(items)} of {selected} selected dataset(s) did not run:"]
    lines += [f"  {it.line()}" for it in items]
    lines.append("Every other dataset ran to the end. Once the files are in place, run the same command "
                 "again: only what is missing runs.")
    return "\n".join(lines)
