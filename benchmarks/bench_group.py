"""KDDCUP99's network trained one run at a time against the batched ensemble (memae.ensemble,
mode "batched"), side by side in one process: CPU milliseconds per training step of one run, at the
params' batch size, for groups of R runs. Both compute bit-identical results; this says which is
faster here. Prints figures; asserts nothing.

    python benchmarks/bench_group.py                   # ae and memae, R = 4 and 20, 40 steps
    python benchmarks/bench_group.py --runs 20 --steps 80 --variants memae
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from memae import ensemble
from memae.config import load_params
from memae.device import setup
from memae.models import build_model
from memae.train import loss_terms
from memae.variants import get_variant

PARAMS = Path(__file__).resolve().parent.parent / "params"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default="ae,memae")
    ap.add_argument("--runs", default="4,20", help="group sizes R, comma-separated")
    ap.add_argument("--steps", type=int, default=40, help="timed steps of one run (the group: steps / R, at least 2)")
    ap.add_argument("--records", type=int, default=200_000, help="random training records (KDD: ~190,000)")
    a = ap.parse_args()
    setup(1, 0)
    p = load_params("kddcup99", "quick", PARAMS)
    B = p["train"]["batch_size"]
    X = torch.rand(a.records, 118, generator=torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(1)
    print(f"1 thread; batch {B}; load {os.getloadavg()[0]:.2f} (CPU seconds, so other processes "
          "matter less than for wall time)")
    for vn in a.variants.split(","):
        v = get_variant(vn)
        for R in (int(r) for r in a.runs.split(",")):
            nets = []
            for s in range(R):
                torch.manual_seed(s)
                nets.append(build_model(p["model"], p["memory"], v, [118]))
            net, opt = nets[0], torch.optim.Adam(nets[0].parameters(), lr=p["train"]["lr"])

            def alone(steps):
                for _ in range(steps):
                    xb = X[torch.randint(0, len(X), (B,), generator=gen)]
                    loss, _ = loss_terms(net, xb, v, p["loss"])
                    float(loss.detach())
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()

            st = ensemble.Stacked(nets)
            adam = ensemble.StackedAdam(st.leaves, p["train"]["lr"])

            def grouped(steps):
                for _ in range(steps):
                    xb = torch.stack([X[torch.randint(0, len(X), (B,), generator=gen)] for _ in range(R)])
                    loss, recon = ensemble.loss_terms(st, st.leaves, xb, v, p["loss"])
                    torch.stack([loss.detach(), recon.detach()]).tolist()
                    adam.zero_grad()
                    loss.sum().backward()
                    adam.step(None)

            alone(3)
            grouped(1)
            gsteps = max(2, a.steps // R)
            t = time.process_time()
            alone(a.steps)
            t_alone = (time.process_time() - t) / a.steps
            t = time.process_time()
            grouped(gsteps)
            t_group = (time.process_time() - t) / gsteps / R
            print(f"{vn:14s} R={R:3d}: alone {t_alone * 1e3:6.2f} ms/step, batched {t_group * 1e3:6.2f} ms "
                  f"per run-step; alone/batched {t_alone / t_group:.2f}x", flush=True)


if __name__ == "__main__":
    main()
