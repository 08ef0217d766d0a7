"""Scoring a trained run on its test set with its dataset's protocol (memae.protocols): one score
table (scores.npz) and the protocol's metrics (metrics.json).

Images and records: one score per sample. Video: one score per scored frame, with its video and
frame index.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from . import datasets, protocols
from .codedigest import safe_digest
from .data.arrays import write_json
from .device import describe, setup
from .finite import require_finite, why_undefined
from .layout import resolve_variant
from .models import MemoryParams, ModelParams, build_model
from .runfile import load_run_file


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


def _check_trained_on(protocol, prepared: Path, run: Path, cfg: dict, params: dict) -> None:
    """Refuse to score a run whose training data these settings would not give, so that no model is
    scored on the records it trained on: where scoring settings decide the training data
    (memae.protocols.train_data_settings: the records protocol's eval.test_fraction), the values the
    run recorded must be today's; a run trained before they were recorded must have the training
    and held-out counts these settings give (protocol.train_sizes; for records without
    train.max_train_samples, equal counts mean the same records: the training parts of different
    fractions are prefixes of one permutation)."""
    now_eval = protocols.train_data_settings(protocol, params)
    log_path = run / "train_log.json"
    if not now_eval or not log_path.exists():
        return
    log = json.loads(log_path.read_text())
    fix = f"Retrain it: snakemake --cores all --forcerun {run / 'model.pt'}"
    then_eval = log.get("train_data_eval")
    if then_eval is not None:
        if then_eval != now_eval:
            raise ValueError(
                f"{run}: the model trained with eval settings {then_eval}, the settings now say {now_eval}: "
                f"they decide which records train, so scoring it would test it on records it trained on. {fix}")
        return
    then = (log.get("n_train"), log.get("n_val"))
    now = protocol.train_sizes(prepared, cfg["split"], cfg["seed"], params)
    if None not in then and tuple(then) != tuple(now):
        raise ValueError(
            f"{run}: the model trained on {then[0]} records ({then[1]} held out), but the settings now give "
            f"{now[0]} ({now[1]}): eval.test_fraction decides which records train, so scoring it would test "
            f"it on records it trained on. {fix}")


def evaluate(dataset: str, prepared: Path, run: Path, params: dict, threads: int | None = None) -> dict:
    run = Path(run)
    t0 = time.perf_counter()
    device = setup(threads)
    net, saved = load_trained(run / "model.pt", device)
    cfg = saved["config"]
    protocol = protocols.get(datasets.spec(dataset).protocol)
    _check_trained_on(protocol, prepared, run, cfg, params)
    test = protocol.test_data(prepared, cfg["split"], cfg["seed"], params)
    variant = resolve_variant(cfg["variant"], cfg)[0]
    table = protocol.score(net, test, params, variant, device)
    m = protocol.metrics(table, params)
    y = table.labels
    require_finite(m, f"{run / 'metrics.json'} (not written)", "metric", hint=why_undefined(y, table.scores))
    table.save(run / "scores.npz")
    result = {"metrics": m, "n_test": int(len(y)), "n_anomalous": int(y.sum()),
              "eval_s": time.perf_counter() - t0, "device": describe(device),
              "variant": cfg["variant"], "split": cfg["split"], "seed": cfg["seed"],
              "code_digest": safe_digest(dataset, "score")}   # the scoring code (memae.codedigest)
    write_json(run / "metrics.json", result)
    return result
