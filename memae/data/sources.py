"""The one table of remote files: names, mirrors in the order tried, and checksums.

`sha256` is the hash of the file as stored. `content_sha256` is the hash of the decompressed
content of a .gz file: used where recompressed copies are common (MNIST), so any faithful copy is
accepted. Values are from shared/memae-reference.md section 5.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RemoteFile:
    name: str
    urls: tuple[str, ...]
    sha256: str | None = None
    content_sha256: str | None = None
    manual: str | None = None   # instructions when no URL can serve the file

    @property
    def expected(self) -> str:
        return self.content_sha256 or self.sha256 or ""


def _mnist(name: str, content_sha256: str) -> RemoteFile:
    return RemoteFile(name, (f"http://yann.lecun.com/exdb/mnist/{name}",
                             f"https://ossci-datasets.s3.amazonaws.com/mnist/{name}"),
                      content_sha256=content_sha256)


SOURCES: dict[str, tuple[RemoteFile, ...]] = {
    "mnist": (
        _mnist("train-images-idx3-ubyte.gz", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        _mnist("train-labels-idx1-ubyte.gz", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        _mnist("t10k-images-idx3-ubyte.gz", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        _mnist("t10k-labels-idx1-ubyte.gz", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    ),
    "kddcup99": (
        RemoteFile("kddcup.data_10_percent.gz",
                   ("http://kdd.ics.uci.edu/databases/kddcup99/kddcup.data_10_percent.gz",
                    "https://ndownloader.figshare.com/files/5976042"),
                   sha256="8045aca0d84e70e622d1148d7df782496f6333bf6eb979a1b0837c42a9fd9561"),
    ),
}
