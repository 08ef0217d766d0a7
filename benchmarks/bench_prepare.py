"""Benchmark of video preparation (issue 3 acceptance): throughput and peak RAM of `prepare`.

1. A synthetic Ped2-layout archive of 4,560 frames at 240x360 (the size of real Ped2: 12 train and
   12 test videos of 190 frames here): frames per second of ped2.prepare (extraction included) into
   256x256 frames. Target: >= 500 frames/s on the 2-core development machine.
2. A synthetic Ped2-layout set of 50,000 frames: peak RAM of the whole process tree (main process
   and decoding workers: proportional set size, sampled from /proc every 50 ms) during prepare.
   Target: < 2 GB. Also printed: the largest max RSS of any single process.

    python benchmarks/bench_prepare.py [--workers 2] [--big-frames 50000] [--skip-big] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from memae.data import synthetic

CHILD = """
import json, resource, sys, time
from pathlib import Path
from memae.data import ped2
raw, out, workers = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
t = time.perf_counter()
s = ped2.prepare(raw, out, {"data": {"frame_size": [256, 256]}}, workers=workers)
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "frames": s["train"]["frames"] + s["test"]["frames"],
                  "self_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "children_maxrss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def tree_pss_mb(pid: int) -> float:
    """Proportional set size of pid and all its descendants, in MB: pages shared by forked workers
    are counted once in total, not once per process as summed RSS would."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                total += next((int(line.split()[1]) for line in f if line.startswith("Pss:")), 0)
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack += [int(c) for c in f.read().split()]
        except (OSError, StopIteration):
            continue
    return total / 1024


def run(raw: Path, out: Path, workers: int) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(raw), str(out), str(workers)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, tree_pss_mb(proc.pid))
        time.sleep(0.05)
    stdout = proc.stdout.read()
    if proc.returncode:
        sys.exit(f"prepare failed (exit {proc.returncode})")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(stdout.strip().splitlines()[-1]) | {"peak_tree_pss_mb": peak, "cpu_s": cpu}


def make(root: Path, videos: int, frames: int, distinct: int | None = None) -> tuple[Path, float]:
    t = time.perf_counter()
    size = {"train_videos": videos, "test_videos": videos, "frames": frames, "height": 240, "width": 360}
    if distinct:
        size["distinct_videos"] = distinct
    synthetic.make_mirror("ped2", root, size)
    return root / "ped2", time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--big-frames", type=int, default=50_000)
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--keep", type=Path, help="work folder to keep (default: a temporary one, removed)")
    a = ap.parse_args()
    work = a.keep or Path(tempfile.mkdtemp(prefix="bench_prepare_"))
    try:
        raw, gen_s = make(work / "small", 12, 190)
        r = run(raw, work / "small_out", a.workers)
        print(f"Ped2 layout, {r['frames']} frames at 240x360 -> 256x256, {a.workers} workers: "
              f"{r['frames'] / r['seconds']:.0f} frames/s ({r['seconds']:.1f} s wall, extraction included; "
              f"CPU time of the process tree {r['cpu_s']:.1f} s; archive built in {gen_s:.0f} s); "
              f"peak RAM (PSS) of the process tree {r['peak_tree_pss_mb']:.0f} MB")
        shutil.rmtree(work / "small_out", ignore_errors=True)
        if not a.skip_big:
            per_video = 500
            videos = max(1, a.big_frames // (2 * per_video))
            raw, gen_s = make(work / "big", videos, per_video, distinct=4)
            r = run(raw, work / "big_out", a.workers)
            print(f"Ped2 layout, {r['frames']} frames at 240x360 -> 256x256 "
                  f"({r['frames'] * 256 * 256 / 2**30:.1f} GiB of frames), {a.workers} workers: "
                  f"peak RAM (PSS) of the process tree {r['peak_tree_pss_mb']:.0f} MB (largest single process "
                  f"{max(r['self_maxrss_mb'], r['children_maxrss_mb']):.0f} MB); "
                  f"{r['frames'] / r['seconds']:.0f} frames/s; archive built in {gen_s:.0f} s")
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
