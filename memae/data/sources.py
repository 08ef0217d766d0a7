"""The one table of remote files: names, mirrors in the order tried, and checksums.

`sha256` is the hash of the file as stored. `content_sha256` is the hash of the decompressed
content of a .gz file: used where recompressed copies are common (MNIST), so any faithful copy is
accepted. Values are from shared/memae-reference.md section 5, except cifar10_jpeg (see there).
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
    "cifar10": (
        RemoteFile("cifar-10-binary.tar.gz", ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",),
                   sha256="c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"),
    ),
    # Not published anywhere: the sha256 of the copy in shared/datasets/cifar10_jpeg (computed there,
    # 19,642,720 bytes). CIFAR-10 re-encoded as JPEG (quality 75) by a third party; results on it are
    # an approximation of CIFAR-10 and labelled "CIFAR-10, JPEG copy".
    "cifar10_jpeg": (
        RemoteFile("cifar10-jpeg.tar.gz", (),
                   sha256="8a63a01a3b4f1d66eac4f29e923633cfca53174576a9321cefdff1e5e28358c8",
                   manual="cifar10-jpeg.tar.gz has no public URL: it is the JPEG copy of CIFAR-10 kept in "
                          "shared/datasets/cifar10_jpeg beside the project; set MEMAE_MIRROR to that "
                          "datasets folder (it holds cifar10_jpeg/cifar10-jpeg.tar.gz)"),
    ),
    "ped2": (
        RemoteFile("UCSD_Anomaly_Dataset.tar.gz",
                   ("http://www.svcl.ucsd.edu/projects/anomaly/UCSD_Anomaly_Dataset.tar.gz",),
                   sha256="2329af326951f5097fdd114c50e853957d3e569493a49d22fc082a9fd791915b"),
    ),
    "avenue": (
        RemoteFile("Avenue_Dataset.zip",
                   ("http://www.cse.cuhk.edu.hk/leojia/projects/detectabnormal/Avenue_Dataset.zip",),
                   sha256="fc9cb8432a11ca79c18aa180c72524011411b69d3b0ff27c8816e41c0de61531"),
        RemoteFile("ground_truth_demo.zip",
                   ("http://www.cse.cuhk.edu.hk/leojia/projects/detectabnormal/ground_truth_demo.zip",),
                   sha256="60fec1728ec8f73a58aad3aeb5729d70a805a47e0b8eb4bf91ab67ef06386d77"),
    ),
    # The direct mirror (101.32.75.151:8181/dataset/shanghaitech.tar.gz) is dead: no URL is tried.
    "shanghaitech": (
        RemoteFile("shanghaitech.tar.gz", (),
                   sha256="c13a827043b259ccf8493c9d9130486872992153a9d714fe229e523cd4c94116",
                   manual="ShanghaiTech Campus has no working direct download. Open "
                          "https://svip-lab.github.io/dataset/campus_dataset.html, download "
                          "shanghaitech.tar.gz by hand (OneDrive or BaiduYun link there), and put it in the "
                          "folder given to `memae fetch --dest` (data/raw/shanghaitech/) or in "
                          "$MEMAE_MIRROR/shanghaitech/, then run `memae fetch shanghaitech` again: it checks "
                          "the sha256 before use"),
    ),
}
