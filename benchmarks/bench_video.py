"""Speed of the paper's video model (params/ped2.yaml, profile paper: input 1x16x256x256, memory
2000 x 256 at every position): training clips/s and scoring frames/s, on CUDA (bf16 autocast)
when present, else on the CPU. Prints figures; asserts nothing.

    python benchmarks/bench_video.py                 # defaults sized for the device found
    python benchmarks/bench_video.py --threads 2 --train-steps 3 --frames 24
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from memae.config import load_params
from memae.device import autocast, describe, setup
from memae.models import build_model
from memae.train import loss_terms
from memae.variants import get_variant
from memae.video import clip_errors

PARAMS = Path(__file__).resolve().parent.parent / "params"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", default="memae")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: PyTorch's)")
    ap.add_argument("--batch", type=int, default=None, help="training clips per step (default: params, 14)")
    ap.add_argument("--train-steps", type=int, default=None, help="timed steps (default: 20 GPU, 2 CPU)")
    ap.add_argument("--frames", type=int, default=None, help="test video length (default: 180 GPU, 20 CPU)")
    a = ap.parse_args()

    device = setup(a.threads, seed=0)
    cuda = device.type == "cuda"
    p = load_params("ped2", "paper", PARAMS)
    T, (H, W) = p["data"]["clip_len"], p["data"]["frame_size"]
    variant = get_variant(a.variant)
    net = build_model(p["model"], p["memory"], variant, [1, T, H, W]).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=p["train"]["lr"])
    batch = a.batch or (p["train"]["batch_size"] if cuda else 2)
    steps = a.train_steps or (20 if cuda else 2)
    frames = a.frames or (180 if cuda else T + 4)
    print(f"device: {describe(device)}; model: ped2 paper {a.variant}, clip 1x{T}x{H}x{W}, "
          f"memory {p['memory']['num_items']} x {p['model']['channels'][-1]}"
          f"{', bf16 autocast' if cuda else ', float32'}")

    x = torch.rand(batch, 1, T, H, W, device=device) * 2 - 1
    net.train()
    for i in range(steps + 1):          # the first step warms up (cudnn autotuning, allocation)
        if i == 1:
            sync(device)
            t0 = time.perf_counter()
        with autocast(device):
            loss, _ = loss_terms(net, x, variant, p["loss"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync(device)
    dt = time.perf_counter() - t0
    print(f"train: {steps * batch / dt:.2f} clips/s ({steps} steps of {batch} clips, {dt / steps:.3f} s/step)")

    video = torch.randint(0, 256, (frames, H, W), dtype=torch.uint8, device=device)
    score_batch = p["eval"]["batch_size"] if cuda else 2
    clip_errors(net, video[:T + 1], T, p["data"]["scale"], score_batch, device)   # warm-up
    sync(device)
    t0 = time.perf_counter()
    err = clip_errors(net, video, T, p["data"]["scale"], score_batch, device)
    sync(device)
    dt = time.perf_counter() - t0
    print(f"score: {len(err) / dt:.2f} scored frames/s ({len(err)} clips of a {frames}-frame video, "
          f"batch {score_batch}; {dt / len(err) * 1000:.1f} ms/frame; paper: 26.2 ms/frame on a 2019 GPU)")
    if cuda:
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")


if __name__ == "__main__":
    main()
