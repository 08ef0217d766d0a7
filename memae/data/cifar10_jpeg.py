"""CIFAR-10, JPEG copy: cifar10-jpeg.tar.gz ({train,test}/<class>/NNNN.jpg, re-encoded at JPEG
quality 75 by a third party) through the image folder dataset. Pixels differ slightly from the
canonical archive, so everything prepared from it is labelled "CIFAR-10, JPEG copy"."""
from __future__ import annotations

from pathlib import Path

from .imagefolder import prepare_tree
from .sources import SOURCES

FILES = SOURCES["cifar10_jpeg"]
LABEL = "CIFAR-10, JPEG copy"


def prepare(raw: Path, out: Path, params: dict | None = None, workers: int = 1) -> dict:
    return prepare_tree(raw, out, "cifar10_jpeg", LABEL, workers)
