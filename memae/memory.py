"""The memory module of MemAE (paper section 3.3; reference section 2).

A query z (C dims) addresses N memory items m_i:
    w_i     = softmax_i(d(z, m_i))                       d: dot product or cosine similarity
    w_hat_i = max(w_i - lam, 0) * w_i / (|w_i - lam| + eps)   hard shrinkage, eps = 1e-12
    w_hat   = w_hat / ||w_hat||_1
    z_hat   = w_hat M
For a conv feature map (B, C, *spatial) the memory is applied at every position.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-12


def hard_shrink(w: torch.Tensor, lam: float, eps: float = EPS) -> torch.Tensor:
    """Hard shrinkage in the paper's continuous ReLU form (eq. 7)."""
    shifted = w - lam
    return F.relu(shifted) * w / (shifted.abs() + eps)


def l1_normalise(w: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    return w / w.sum(dim=-1, keepdim=True).clamp_min(eps)


def entropy(w: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Entropy of each addressing vector (last dim): sum_i -w_i log(w_i + eps)."""
    return (-w * torch.log(w + eps)).sum(dim=-1)


class Memory(nn.Module):
    """N x C memory addressed by attention.

    addressing: "dot" (official code, F.linear) or "cosine" (the paper's text).
    shrink_thres: lambda of the hard shrinkage; 0 disables it (MemAE-nonSpar).
    """

    def __init__(self, num_items: int, dim: int, shrink_thres: float = 0.0, addressing: str = "dot"):
        super().__init__()
        if addressing not in ("dot", "cosine"):
            raise ValueError(f"memory addressing must be 'dot' or 'cosine', got {addressing!r}")
        self.num_items, self.dim = num_items, dim
        self.shrink_thres = float(shrink_thres)
        self.addressing = addressing
        self.weight = nn.Parameter(torch.empty(num_items, dim))
        bound = 1.0 / math.sqrt(dim)
        nn.init.uniform_(self.weight, -bound, bound)

    def address(self, queries: torch.Tensor) -> torch.Tensor:
        """Addressing weights for queries of shape (Q, C): returns (Q, N), rows sum to 1."""
        mem = self.weight.to(queries.dtype)
        if self.addressing == "dot":
            logits = F.linear(queries, mem)
        else:
            logits = F.linear(F.normalize(queries, dim=1), F.normalize(mem, dim=1))
        w = torch.softmax(logits.float(), dim=1)
        if self.shrink_thres > 0:
            w = l1_normalise(hard_shrink(w, self.shrink_thres))
        return w

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z: (B, C) or (B, C, *spatial). Returns z_hat (same shape) and weights (B*positions, N)."""
        if z.dim() == 2:
            queries = z
        else:  # channels last, one query per position
            queries = z.movedim(1, -1).reshape(-1, z.shape[1])
        w = self.address(queries)
        z_hat = w.to(self.weight.dtype) @ self.weight
        if z.dim() > 2:
            spatial = z.shape[2:]
            z_hat = z_hat.reshape(z.shape[0], *spatial, z.shape[1]).movedim(-1, 1)
        return z_hat.to(z.dtype), w
