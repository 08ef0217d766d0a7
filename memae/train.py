"""Training one run: one dataset x variant x split x seed. Seeded, checkpointed each epoch,
resumable, deterministic on CPU, bf16 autocast on CUDA."""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from . import datasets
from .config import digest
from .data.arrays import write_json
from .device import autocast, describe, setup
from .memory import entropy
from .models import build_model
from .variants import Variant, get_variant


class TrainingError(RuntimeError):
    pass


def loss_terms(net, x: torch.Tensor, variant: Variant, loss_params: dict):
    """Returns (total loss, reconstruction loss) of a batch."""
    x_hat, z, w = net(x)
    recon = torch.mean((x_hat.float() - x.float()) ** 2)
    total = recon
    if variant.entropy and w is not None:
        total = total + loss_params["entropy_weight"] * entropy(w).mean()
    if variant.l1:
        total = total + loss_params["l1_weight"] * z.float().abs().mean()
    return total, recon


def run_config(dataset: str, variant: str, split: str, seed: int, params: dict) -> dict:
    """What determines a run's result: changing any of it restarts training from scratch."""
    keys = ("data", "model", "memory", "loss", "train")
    return {"dataset": dataset, "variant": variant, "split": split, "seed": seed,
            **{k: params[k] for k in keys}}


def _save_atomic(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


@torch.no_grad()
def _val_loss(net, x: torch.Tensor, batch: int, device) -> float:
    net.eval()
    total = 0.0
    for i in range(0, len(x), batch):
        xb = x[i:i + batch].to(device, non_blocking=True)
        with autocast(device):
            x_hat, _, _ = net(xb)
        total += float(((x_hat.float() - xb.float()) ** 2).mean()) * len(xb)
    net.train()
    return total / max(1, len(x))


def train(dataset: str, prepared: Path, variant_name: str, split: str, seed: int, params: dict,
          out: Path, threads: int | None = None) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    device = setup(threads, seed)
    variant = get_variant(variant_name)
    ds = datasets.get(dataset)
    x_train, x_val = ds.train_data(prepared, split, seed, params)
    x_train, x_val = torch.from_numpy(x_train), torch.from_numpy(x_val)
    if device.type == "cuda":
        x_train, x_val = x_train.to(device), x_val.to(device)
    input_shape = list(x_train.shape[1:])
    net = build_model(params["model"], params["memory"], variant, input_shape).to(device)
    tp = params["train"]
    opt = torch.optim.Adam(net.parameters(), lr=tp["lr"], weight_decay=tp["weight_decay"])
    gen = torch.Generator().manual_seed(seed)
    config = run_config(dataset, variant_name, split, seed, params)
    key = digest(config)
    ckpt_path = out / "checkpoint.pt"
    start, history, elapsed = 0, [], 0.0
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=False)
        if ckpt.get("config_digest") == key:
            net.load_state_dict(ckpt["model"])
            opt.load_state_dict(ckpt["optimizer"])
            gen.set_state(ckpt["generator"])
            torch.set_rng_state(ckpt["torch_rng"])
            start, history, elapsed = ckpt["epoch"] + 1, ckpt["history"], ckpt["elapsed_s"]
            print(f"resuming {out} from epoch {start}")
        else:
            print(f"{ckpt_path} belongs to other settings: starting afresh")
    batch, epochs = tp["batch_size"], tp["epochs"]
    n = len(x_train)
    net.train()
    bar = tqdm(range(start, epochs), desc=f"train {dataset}/{variant_name}/{split}/seed{seed}",
               unit="epoch", initial=start, total=epochs)
    for epoch in bar:
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        total, recon_sum = 0.0, 0.0
        for b, i in enumerate(range(0, n, batch)):
            idx = perm[i:i + batch]
            xb = x_train[idx.to(x_train.device)] if device.type == "cuda" else x_train[idx]
            with autocast(device):
                loss, recon = loss_terms(net, xb, variant, params["loss"])
            if not torch.isfinite(loss):
                raise TrainingError(
                    f"loss became {float(loss)} at epoch {epoch + 1}, batch {b + 1} of run {out}; "
                    f"lower train.lr in params/{dataset}.yaml or check the prepared data")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            recon_sum += float(recon.detach()) * len(idx)
        val = _val_loss(net, x_val, batch, device)
        elapsed += time.perf_counter() - t0
        history.append({"epoch": epoch + 1, "loss": total / n, "recon": recon_sum / n, "val_recon": val})
        bar.set_postfix(loss=f"{total / n:.4g}", val=f"{val:.4g}")
        _save_atomic({"config_digest": key, "epoch": epoch, "model": net.state_dict(),
                      "optimizer": opt.state_dict(), "generator": gen.get_state(),
                      "torch_rng": torch.get_rng_state(), "history": history, "elapsed_s": elapsed},
                     ckpt_path)
    _save_atomic({"model": net.state_dict(), "config": config, "config_digest": key,
                  "input_shape": input_shape}, out / "model.pt")
    log = {"config": config, "config_digest": key, "history": history, "train_s": elapsed,
           "device": describe(device), "torch": torch.__version__, "n_train": n,
           "n_val": len(x_val), "epochs": epochs}
    write_json(out / "train_log.json", log)
    return log
