"""The model variants compared in the paper. Names are used everywhere (params, paths, report).

Each variant differs from MemAE only in the switches listed here; the strengths (lambda, entropy
weight, l1 weight) come from params/<dataset>.yaml.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    name: str
    label: str          # how the paper names it
    memory: bool        # memory module between encoder and decoder
    shrink: bool        # hard shrinkage of the addressing weights
    entropy: bool       # entropy loss on the addressing weights
    l1: bool = False    # l1 sparsity on the latent code (ablation AE-l1)


VARIANTS = {
    v.name: v
    for v in (
        Variant("ae", "AE", memory=False, shrink=False, entropy=False),
        Variant("memae_nonspar", "MemAE-nonSpar", memory=True, shrink=False, entropy=False),
        Variant("memae", "MemAE", memory=True, shrink=True, entropy=True),
        Variant("ae_l1", "AE-l1", memory=False, shrink=False, entropy=False, l1=True),
        Variant("memae_noshrink", "MemAE w/o shrinkage", memory=True, shrink=False, entropy=True),
        Variant("memae_noentropy", "MemAE w/o entropy loss", memory=True, shrink=True, entropy=False),
    )
}


def get_variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}") from None
