"""The prepared layout of a one-class image set (MNIST, CIFAR-10, image folders).

train_images.npy / test_images.npy (uint8, N x H x W or N x H x W x C), train_labels.npy /
test_labels.npy (int64 class index), summary.json with the class names. The one-class protocol
that reads it: memae.protocols.oneclass.
"""
from __future__ import annotations

from . import arrays


def write_prepared(out, parts: dict, dataset: str, label: str, classes: list[str]) -> dict:
    """Write a prepared one-class image set (train/test images and labels) with its summary."""
    summary = {"dataset": dataset, "label": label, "classes": classes,
               "train": len(parts["train_labels"]), "test": len(parts["test_labels"]),
               "image_shape": list(parts["train_images"].shape[1:])}
    return arrays.write_prepared(out, summary, **parts)
