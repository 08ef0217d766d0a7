"""Training one run: one dataset x variant x split x seed. Seeded, checkpointed each epoch,
resumable, deterministic on CPU, bf16 autocast on CUDA."""
from __future__ import annotations

import os
import time
from pathlib import Path

import torch
from .progress import tqdm   # one line per epoch in log files

from . import datasets, protocols
from .codedigest import safe_digest
from .config import digest
from .data.arrays import write_json
from .device import autocast, describe, set_memory_format, setup
from .layout import resolve_variant, run_config
from .memory import entropy
from .models import MemoryParams, ModelParams, build_model
from .runfile import load_run_file
from .variants import Variant


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


def _code_state() -> dict:
    """The commit of the code that trained a run (and whether the tree had local changes)."""
    from .provenance import git_state  # provenance imports this module's importers: import late
    return git_state()


def _save_atomic(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


@torch.no_grad()
def _val_loss(net, x, batch: int, device) -> float | None:
    """The mean reconstruction MSE of the held-out samples; None when none is held out
    (train.val_fraction 0, or videos too short to hold a clip out)."""
    if len(x) == 0:
        return None
    net.eval()
    total = 0.0
    for i in range(0, len(x), batch):
        xb = x[i:i + batch].to(device, non_blocking=True)
        with autocast(device):
            x_hat, _, _ = net(xb)
        total += float(((x_hat.float() - xb.float()) ** 2).mean()) * len(xb)
    net.train()
    return total / len(x)


def train(dataset: str, prepared: Path, variant_name: str, split: str, seed: int, params: dict,
          out: Path, threads: int | None = None) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    device = setup(threads, seed, params["train"].get("precision"))
    variant, params = resolve_variant(variant_name, params)
    protocol = protocols.get(datasets.spec(dataset).protocol)
    # tensors (images, records) or clip sources (video: read from a memmap); both index alike
    x_train, x_val = protocol.train_data(prepared, split, seed, params)
    if device.type == "cuda":
        x_train, x_val = x_train.to(device), x_val.to(device)
    input_shape = list(x_train.shape[1:])
    net = set_memory_format(build_model(ModelParams.parse(params["model"], "model."), MemoryParams.parse(
        params["memory"], "memory."), variant, input_shape).to(device), device)
    tp = params["train"]
    opt = torch.optim.Adam(net.parameters(), lr=tp["lr"], weight_decay=tp["weight_decay"])
    gen = torch.Generator().manual_seed(seed)
    config = run_config(dataset, variant_name, split, seed, params)
    key = digest(config)
    data_eval = protocols.train_data_settings(protocol, params)
    ckpt_key = checkpoint_key(key, data_eval)
    ckpt_path = out / "checkpoint.pt"
    start, history, elapsed = 0, [], 0.0
    if ckpt_path.exists():
        ckpt = load_run_file(ckpt_path, device)   # tensors and plain values only: never runs code
        if ckpt.get("config_digest") == ckpt_key:
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
    if n == 0:
        raise TrainingError(f"{prepared}: no training samples for split {split}")
    per_epoch = min(n, tp.get("clips_per_epoch") or n)  # video: a random subset of clips per epoch
    net.train()
    bar = tqdm(range(start, epochs), desc=f"train {dataset}/{variant_name}/{split}/seed{seed}",
               unit="epoch", initial=start, total=epochs)
    for epoch in bar:
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)[:per_epoch]
        total, recon_sum = 0.0, 0.0
        for b, i in enumerate(range(0, per_epoch, batch)):
            idx = perm[i:i + batch]
            xb = x_train[idx.to(x_train.device)]
            xb = xb.to(device, non_blocking=True)
            with autocast(device):
                loss, recon = loss_terms(net, xb, variant, params["loss"])
            if not torch.isfinite(loss):
                raise TrainingError(
                    f"loss became {float(loss.detach())} at epoch {epoch + 1}, batch {b + 1} of run {out}; "
                    f"lower train.lr in params/{dataset}.yaml or check the prepared data")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            recon_sum += float(recon.detach()) * len(idx)
        val = _val_loss(net, x_val, batch, device)
        elapsed += time.perf_counter() - t0
        history.append({"epoch": epoch + 1, "loss": total / per_epoch, "recon": recon_sum / per_epoch,
                        "val_recon": val})
        bar.set_postfix(loss=f"{total / per_epoch:.4g}", val="none held out" if val is None else f"{val:.4g}")
        _save_atomic({"config_digest": ckpt_key, "epoch": epoch, "model": net.state_dict(),
                      "optimizer": opt.state_dict(), "generator": gen.get_state(),
                      "torch_rng": torch.get_rng_state(), "history": history, "elapsed_s": elapsed},
                     ckpt_path)
    return finish_run(out, net, config, key, input_shape, history, elapsed, device, n, per_epoch,
                      len(x_val), epochs, train_data_eval=data_eval)


def checkpoint_key(key: str, data_eval: dict) -> str:
    """What a checkpoint must match to be resumed: the run's settings digest and, where scoring
    settings decide the training data (memae.protocols.train_data_settings), their values too."""
    return digest({"config_digest": key, "train_data_eval": data_eval}) if data_eval else key


def finish_run(out: Path, net, config: dict, key: str, input_shape: list[int], history: list,
               elapsed: float, device, n: int, per_epoch: int, n_val: int, epochs: int,
               remove_checkpoint: bool = True, train_data_eval: dict | None = None) -> dict:
    """Write a finished run's model.pt and train_log.json and remove its checkpoint (shared by
    train and memae.ensemble.train_group, so both write the same files)."""
    _save_atomic({"model": net.state_dict(), "config": config, "config_digest": key,
                  "input_shape": input_shape}, out / "model.pt")
    # The run is complete: its checkpoint must not stand in for a later run on other data (a
    # group removes its runs' checkpoints once every run of the group is written).
    if remove_checkpoint:
        (out / "checkpoint.pt").unlink(missing_ok=True)
    log = {"config": config, "config_digest": key, "history": history, "train_s": elapsed,
           "device": describe(device), "torch": torch.__version__, "n_train": n,
           "n_per_epoch": per_epoch, "n_val": n_val, "epochs": epochs,
           "code": _code_state(),
           # the digest of the code this run depends on: a checkout whose code differs flags the
           # run as stale (memae.codedigest: flagged, not retrained)
           "code_digest": safe_digest(config["dataset"], "train")}
    if train_data_eval:   # the scoring settings that decided the training data (records: test_fraction)
        log["train_data_eval"] = train_data_eval
    write_json(out / "train_log.json", log)
    return log
