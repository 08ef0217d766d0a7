"""What the one-class and records protocols share: a test set of samples in memory, scored by
each sample's reconstruction MSE."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..device import autocast
from . import ScoreTable


@dataclass
class ArrayTest:
    """A test set of samples: x float32 (N, ...), labels (N,) with 1 = anomalous; reference: other
    samples (the run's training samples) whose scores a threshold needs, or None."""
    x: np.ndarray
    labels: np.ndarray
    reference: np.ndarray | None = None


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


def score_samples(net, test: ArrayTest, params: dict, device) -> ScoreTable:
    """One row per test sample: its reconstruction MSE and label (and the reference samples' MSE)."""
    batch = params["eval"]["batch_size"]
    table = ScoreTable(reconstruction_errors(net, test.x, batch, device).astype(np.float32),
                       test.labels.astype(np.int8))
    if test.reference is not None:
        table.reference_scores = reconstruction_errors(net, test.reference, batch, device)
    return table
