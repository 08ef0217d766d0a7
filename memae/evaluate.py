"""Scoring a trained run on its test set: per-sample reconstruction error and the dataset's metrics.

Images and records: one score per sample. Video (the dataset's test_data returns
memae.video.TestVideos): one score per scored frame, with its video and frame index.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from . import datasets
from .data.arrays import write_json
from .device import autocast, describe, setup
from .finite import require_finite, why_undefined
from .models import MemoryParams, ModelParams, build_model
from .runfile import load_run_file
from .train import resolve_variant
from .video import TestVideos, clip_error_kind, score_videos


def load_trained(model_path: Path, device: torch.device | str = "cpu"):
    """The network of a trained run (model.pt) in eval mode, and its saved settings."""
    model_path = Path(model_path)
    if not model_path.exists():
        raise FileNotFoundError(f"{model_path} is missing: train this run first (memae train)")
    saved = load_run_file(model_path, device)   # tensors and plain values only: never runs code
    cfg = saved["config"]
    variant = resolve_variant(cfg["variant"], cfg)[0]  # cfg holds the sweep point's memory already
    net = build_model(ModelParams.parse(cfg["model"], "model."), MemoryParams.parse(cfg["memory"], "memory."),
                      variant, saved["input_shape"])
    net.load_state_dict(saved["model"])
    return net.to(device).eval(), saved


@torch.no_grad()
def reconstruction_errors(net, x: np.ndarray, batch: int, device) -> np.ndarray:
    """Mean squared error per sample, computed in float32."""
    net.eval()
    out = []
    for i in range(0, len(x), batch):
        xb = torch.from_numpy(x[i:i + batch]).to(device)
        with autocast(device):
            x_hat, _, _ = net(xb)
        err = (x_hat.float() - xb.float()) ** 2
        out.append(err.flatten(1).mean(dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def evaluate(dataset: str, prepared: Path, run: Path, params: dict, threads: int | None = None) -> dict:
    run = Path(run)
    t0 = time.perf_counter()
    device = setup(threads)
    net, saved = load_trained(run / "model.pt", device)
    cfg = saved["config"]
    ds = datasets.get(dataset)
    test = ds.test_data(prepared, cfg["split"], cfg["seed"], params)
    batch = params["eval"]["batch_size"]
    if isinstance(test, TestVideos):
        variant = resolve_variant(cfg["variant"], cfg)[0]
        kind = clip_error_kind(params["eval"].get("clip_error", "mse"), variant.memory)
        out = score_videos(net, test, batch, device, kind)
        y = out["labels"]
        m = ds.metrics(out["scores"], y, params, out["video"])
    else:
        x, y = test
        out = {"scores": reconstruction_errors(net, x, batch, device).astype(np.float32),
               "labels": y.astype(np.int8)}
        extra = {}
        if params["eval"].get("threshold_population", "test") == "train_test":
            x_train = ds.train_data(prepared, cfg["split"], cfg["seed"], params)[0]
            extra["train_scores"] = reconstruction_errors(net, x_train, batch, device)
        m = ds.metrics(out["scores"], y, params, **extra)
    require_finite(m, f"{run / 'metrics.json'} (not written)", "metric", hint=why_undefined(y, out["scores"]))
    tmp = run / "scores.tmp.npz"
    np.savez_compressed(tmp, **out)
    tmp.replace(run / "scores.npz")
    result = {"metrics": m, "n_test": int(len(y)), "n_anomalous": int(y.sum()),
              "eval_s": time.perf_counter() - t0, "device": describe(device),
              "variant": cfg["variant"], "split": cfg["split"], "seed": cfg["seed"]}
    write_json(run / "metrics.json", result)
    return result
