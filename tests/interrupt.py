"""Simulated interruption of training, for the resume tests."""
from contextlib import contextmanager

import pytest

from memae import train as train_mod


@contextmanager
def interrupted_after_checkpoint(epoch: int):
    """Training inside the block stops (KeyboardInterrupt, expected by the block) right after it
    writes the checkpoint of 0-based `epoch`, as a killed job would leave it; memae.train and
    memae.ensemble both write checkpoints through memae.train._save_atomic."""
    real_save = train_mod._save_atomic

    def save_then_stop(obj, path):
        real_save(obj, path)
        if path.name == "checkpoint.pt" and obj["epoch"] == epoch:
            raise KeyboardInterrupt("simulated interruption")

    train_mod._save_atomic = save_then_stop
    try:
        with pytest.raises(KeyboardInterrupt, match="simulated interruption"):
            yield
    finally:
        train_mod._save_atomic = real_save
