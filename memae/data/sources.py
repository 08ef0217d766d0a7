"""The remote files of every dataset, by dataset: a view of the registry (memae.datasets), where
each dataset's files, mirrors and checksums are written beside its spec."""
from __future__ import annotations

from ..datasets import SPECS, RemoteFile

__all__ = ["RemoteFile", "SOURCES"]

SOURCES: dict[str, tuple[RemoteFile, ...]] = {name: s.files for name, s in SPECS.items() if s.files}
