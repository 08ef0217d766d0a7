"""Speed of the paper's video model (params/ped2.yaml, profile paper: memory 2000 x 256 at every
position) side by side in one process: the official configuration (plain float32, eager,
contiguous) against the project's path (train.precision: auto, memae/device.py: bf16 autocast and
channels_last_3d where the device computes bf16 natively, float32 elsewhere), at 1x16x256x256,
1x16x128x128 and 1x8x64x64: training clips/s and scoring frames/s, and the cost in fidelity: the
max |delta| of clip scores of the same weights, and the frame AUC on the synthetic smoke videos
(a smoke-size model trained briefly in float32, scored both ways). Prints figures; asserts nothing.

    python benchmarks/bench_video.py --threads 2                 # a few steps each, minutes on a CPU
    python benchmarks/bench_video.py --paths fp32,auto,bf16      # bf16 forced, where auto is fp32
    python benchmarks/bench_video.py --compile                   # also the project path compiled
    python benchmarks/bench_video.py --sizes 16x256x256 --no-auc
"""
from __future__ import annotations

import argparse
import copy
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from memae import device as dev
from memae.config import load_params
from memae.models import build_model
from memae.train import loss_terms
from memae.variants import get_variant
from memae.protocols.video import clip_errors

PARAMS = Path(__file__).resolve().parent.parent / "params"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def use(path: str, device: torch.device) -> str:
    """Switch this process's autocast to a path: 'fp32' (official configuration), 'auto' (the
    project's default setting where it is set), 'bf16' (forced). Returns the precision used."""
    setting = {"official": "fp32", "fp32cl": "fp32"}.get(path, path)
    dev._precision["value"] = dev.resolve_precision(setting, device)
    return dev._precision["value"]


def model_for(net: torch.nn.Module, path: str, device: torch.device, compile_: bool):
    m = copy.deepcopy(net)
    if path == "fp32cl":      # float32 in channels_last_3d: not a project path (it changes rounding)
        m = m.to(memory_format=torch.channels_last_3d)
    elif path != "official":
        m = dev.set_memory_format(m, device)
    if compile_:
        m = torch.compile(m)
    return m


def time_train(net, variant, p, x, steps, device) -> float:
    """Seconds per training step (after one warm-up step)."""
    opt = torch.optim.Adam(net.parameters(), lr=p["train"]["lr"])
    net.train()
    for i in range(steps + 1):
        if i == 1:
            sync(device)
            t0 = time.perf_counter()
        with dev.autocast(device):
            loss, _ = loss_terms(net, x, variant, p["loss"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync(device)
    return (time.perf_counter() - t0) / steps


def time_score(net, video, T, scale, batch, device) -> tuple[float, np.ndarray]:
    """(seconds per scored frame, clip errors) over one video, after a warm-up clip batch."""
    net.eval()
    clip_errors(net, video[:T + batch - 1], T, scale, batch, device)
    sync(device)
    t0 = time.perf_counter()
    err = clip_errors(net, video, T, scale, batch, device)
    sync(device)
    return (time.perf_counter() - t0) / len(err), err


def smoke_auc(paths: list[str], device, threads: int | None, epochs: int) -> dict[str, float]:
    """Frame AUC on the synthetic smoke videos of a smoke-size memae trained in float32, scored
    by each path."""
    from memae.data import ped2, synthetic
    from memae.evaluate import load_trained
    from memae.train import train
    from memae.protocols import video
    p = load_params("ped2", "smoke", PARAMS)
    p["train"]["epochs"] = epochs
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        synthetic.make_mirror("ped2", tmp / "raw", p["data"]["synthetic_size"])
        ped2.prepare(tmp / "raw" / "ped2", tmp / "prepared", p)
        p["train"]["precision"] = "fp32"
        train("ped2", tmp / "prepared", "memae", "all", 0, p, tmp / "run", threads)
        test = video.test_data(tmp / "prepared", "all", 0, p)
        for path in paths:
            use(path, device)
            net, _ = load_trained(tmp / "run" / "model.pt", device)
            net = model_for(net, path, device, False)
            s = video.score_videos(net, test, p["eval"]["batch_size"], device)
            out[path] = video.metrics(s, p)["auc"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", default="memae")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: PyTorch's)")
    ap.add_argument("--sizes", default="16x256x256,16x128x128,8x64x64", help="TxHxW, comma-separated")
    ap.add_argument("--paths", default="official,auto",
                    help="official (plain fp32 eager), auto (the project's path), fp32, bf16, "
                    "fp32cl (float32 in channels_last_3d)")
    ap.add_argument("--batch", type=int, default=None, help="training clips per step (default 2 CPU, 14 GPU)")
    ap.add_argument("--score-batch", type=int, default=None, help="clips per scoring pass (default 4 CPU, 16 GPU)")
    ap.add_argument("--steps", type=int, default=None, help="timed training steps (default 2 CPU, 20 GPU)")
    ap.add_argument("--frames", type=int, default=None, help="extra frames of the scored video (default 6 CPU, 180 GPU)")
    ap.add_argument("--compile", action="store_true", help="also time the project path under torch.compile")
    ap.add_argument("--no-auc", action="store_true", help="skip the AUC on the smoke videos")
    ap.add_argument("--auc-epochs", type=int, default=3)
    a = ap.parse_args()

    device = dev.setup(a.threads, seed=0)
    cuda = device.type == "cuda"
    paths = a.paths.split(",")
    if a.compile:
        paths.append("auto+compile")
    batch, sbatch = a.batch or (14 if cuda else 2), a.score_batch or (16 if cuda else 4)
    steps, extra = a.steps or (20 if cuda else 2), a.frames or (180 if cuda else 6)
    variant = get_variant(a.variant)
    print(f"device: {dev.describe(device)}; native bf16 on this CPU: {dev.cpu_has_native_bf16()}; "
          f"torch CPU capability: {torch.backends.cpu.get_cpu_capability()}; load: {os.getloadavg()[0]:.2f}")
    print("paths: " + ", ".join(f"{q} = {use(q.split('+')[0], device)}" for q in paths)
          + f"; training batch {batch}, {steps} timed steps; scoring batch {sbatch}")
    header = f"{'size':>12} {'path':>14} {'train clips/s':>14} {'x':>6} {'score frames/s':>15} {'x':>6} {'max|d score|':>13} {'rel':>9}"
    print(header)
    for size in a.sizes.split(","):
        T, H, W = (int(v) for v in size.split("x"))
        p = load_params("ped2", "paper", PARAMS)
        p["data"]["clip_len"], p["data"]["frame_size"] = T, [H, W]
        torch.manual_seed(0)
        base = build_model(p["model"], p["memory"], variant, [1, T, H, W]).to(device)
        x = torch.rand(batch, 1, T, H, W, device=device, generator=None) * 2 - 1
        video = torch.randint(0, 256, (T + extra, H, W), dtype=torch.uint8, device=device)
        ref = None
        for q in paths:
            path, comp = q.split("+")[0], q.endswith("+compile")
            use(path, device)
            net = model_for(base, path, device, comp)
            t_train = time_train(net, variant, p, x, steps, device)
            net = model_for(base, path, device, comp)     # the same weights for every path's scores
            t_score, err = time_score(net, video, T, p["data"]["scale"], sbatch, device)
            if ref is None:
                ref = (t_train, t_score, err)
            d = float(np.abs(err - ref[2]).max())
            print(f"{size:>12} {q:>14} {batch / t_train:14.3f} {ref[0] / t_train:6.2f} {1 / t_score:15.3f} "
                  f"{ref[1] / t_score:6.2f} {d:13.3g} {d / float(np.abs(ref[2]).max()):9.2g}", flush=True)
    if not a.no_auc:
        aucs = smoke_auc([q for q in paths if "+" not in q], device, a.threads, a.auc_epochs)
        print("frame AUC on the smoke videos (smoke-size memae, trained in float32, scored by each path): "
              + ", ".join(f"{q} {v:.4f}" for q, v in aucs.items()))
    if cuda:
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")


if __name__ == "__main__":
    main()
