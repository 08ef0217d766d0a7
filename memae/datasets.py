"""The dataset registry: one DatasetSpec per dataset, the one table of datasets (torch-free: the
workflow reads it at parse time).

A spec names:
- the module that holds the dataset's parsers, labels and prepare(raw, out, params, workers);
- the protocol by role (memae.protocols.<role>): "oneclass" (one class normal, images),
  "records" (tabular records, a top-fraction threshold), "video" (frame-level scores of clips);
- its kind ("image", "video", "records"): the figures it gets and what a cluster job asks for;
- its files: names, mirrors in the order tried, and checksums (`sha256` of the file as stored;
  `content_sha256` of the decompressed content of a .gz file, used where recompressed copies are
  common, so any faithful copy is accepted). Values are from shared/memae-reference.md section 5,
  except cifar10_jpeg (see there);
- its synthetic generator (a function of memae.data.synthetic, for the smoke profile);
- its primary metric, its paper tables, whether the paper shows its memory-size sweep, and the
  dataset whose results may stand in for it (labelled as an approximation).

Everything else that lists datasets derives from SPECS: the CLI's choices, fetch, the synthetic
mirrors, the workflow's dataset list, the report and the figures. Adding a dataset: README.md,
"Adding a dataset".
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType

PROTOCOLS = ("oneclass", "records", "video")
# The keys of a dataset's `data` and `eval` settings that its protocol reads (memae.protocols.<role>
# and the preparation of its data), besides those every dataset reads (ALL_READ). A params file may
# not give another of these sections' keys a value (null is allowed): memae.config refuses it, as it
# would read as a setting that ran (data.clip_len on MNIST, eval.clip_error on KDDCUP99).
PROTOCOL_READS = {
    "oneclass": {"data": ("scale", "normalize"), "eval": ("anomaly_fraction",)},
    "records": {"data": (), "eval": ("threshold_top_fraction", "threshold_population", "test_fraction")},
    "video": {"data": ("scale", "frame_size", "clip_len"), "eval": ("clip_error",)},
}
ALL_READ = {"data": ("synthetic_size",), "eval": ("batch_size",)}
KINDS = ("image", "video", "records")
# The report's figures of a dataset of each kind (memae.figures.MAKERS draws them).
FIGURES = {"image": ("roc", "loss", "prototypes"), "video": ("roc", "loss", "regularity"),
           "records": ("roc", "loss")}


@dataclass(frozen=True)
class RemoteFile:
    name: str
    urls: tuple[str, ...]
    sha256: str | None = None
    content_sha256: str | None = None
    manual: str | None = None   # instructions when no URL can serve the file
    # An archive's cap on what it unpacks to (memae.data.archive; about 3-10x the real archive's
    # size, so a faithful copy always passes and a bomb is stopped long before it fills a disk)
    max_unpacked_gib: float | None = None

    @property
    def expected(self) -> str:
        return self.content_sha256 or self.sha256 or ""


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    module: str                          # parsers, labels, prepare()
    protocol: str                        # one of PROTOCOLS
    kind: str                            # one of KINDS
    files: tuple[RemoteFile, ...] = ()   # what `memae fetch` downloads and verifies
    synthetic: str | None = None         # generator in memae.data.synthetic (smoke profile)
    metric: str = "auc"                  # the primary metric (claims, studies, per-class table)
    tables: tuple[str, ...] = ()         # the paper's tables it appears in (params/reported.yaml ids)
    paper_sweep: bool = False            # the paper shows its memory-size figure
    stand_in: str | None = None          # a dataset whose results may stand in, labelled
    workflow: bool = True                # run by the workflow (has params/<name>.yaml)
    figures: tuple[str, ...] = field(default=())   # default: FIGURES[kind]

    def __post_init__(self):
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"dataset {self.name}: protocol {self.protocol!r} is not one of {PROTOCOLS}")
        if self.kind not in KINDS:
            raise ValueError(f"dataset {self.name}: kind {self.kind!r} is not one of {KINDS}")
        if not self.figures:
            object.__setattr__(self, "figures", FIGURES[self.kind])

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)

    @property
    def content_hash(self) -> bool:
        """Files are verified on their decompressed content (so are its synthetic copies)."""
        return any(f.content_sha256 for f in self.files)

    def generator(self):
        """The function that writes synthetic raw files of this dataset (folder, rng, size)."""
        if not self.synthetic:
            raise ValueError(f"no synthetic generator for {self.name!r}; have {', '.join(synthetic_names())}")
        from .data import synthetic
        return getattr(synthetic, self.synthetic)


# --- files of each dataset ------------------------------------------------------------------------

def _mnist(name: str, content_sha256: str) -> RemoteFile:
    return RemoteFile(name, (f"http://yann.lecun.com/exdb/mnist/{name}",
                             f"https://ossci-datasets.s3.amazonaws.com/mnist/{name}"),
                      content_sha256=content_sha256)


MNIST_FILES = (
    _mnist("train-images-idx3-ubyte.gz", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    _mnist("train-labels-idx1-ubyte.gz", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    _mnist("t10k-images-idx3-ubyte.gz", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    _mnist("t10k-labels-idx1-ubyte.gz", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
)
KDDCUP99_FILES = (
    RemoteFile("kddcup.data_10_percent.gz",
               ("http://kdd.ics.uci.edu/databases/kddcup99/kddcup.data_10_percent.gz",
                "https://ndownloader.figshare.com/files/5976042"),
               sha256="8045aca0d84e70e622d1148d7df782496f6333bf6eb979a1b0837c42a9fd9561"),
)
CIFAR10_FILES = (
    RemoteFile("cifar-10-binary.tar.gz", ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",),
               sha256="c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
               max_unpacked_gib=1),   # unpacks to 178 MB
)
# Not published anywhere: the sha256 of the copy in shared/datasets/cifar10_jpeg (computed there,
# 19,642,720 bytes). CIFAR-10 re-encoded as JPEG (quality 75) by a third party; results on it are
# an approximation of CIFAR-10 and labelled "CIFAR-10, JPEG copy".
CIFAR10_JPEG_FILES = (
    RemoteFile("cifar10-jpeg.tar.gz", (),
               sha256="8a63a01a3b4f1d66eac4f29e923633cfca53174576a9321cefdff1e5e28358c8", max_unpacked_gib=1,
               manual="cifar10-jpeg.tar.gz has no public URL: it is the JPEG copy of CIFAR-10 kept in "
                      "shared/datasets/cifar10_jpeg beside the project; set MEMAE_MIRROR to that "
                      "datasets folder (it holds cifar10_jpeg/cifar10-jpeg.tar.gz)"),
)
PED2_FILES = (
    RemoteFile("UCSD_Anomaly_Dataset.tar.gz",
               ("http://www.svcl.ucsd.edu/projects/anomaly/UCSD_Anomaly_Dataset.tar.gz",),
               sha256="2329af326951f5097fdd114c50e853957d3e569493a49d22fc082a9fd791915b",
               max_unpacked_gib=8),   # Ped1 and Ped2 TIFF frames: 0.7 GB, under 2 GB unpacked
)
AVENUE_FILES = (
    RemoteFile("Avenue_Dataset.zip",
               ("http://www.cse.cuhk.edu.hk/leojia/projects/detectabnormal/Avenue_Dataset.zip",),
               sha256="fc9cb8432a11ca79c18aa180c72524011411b69d3b0ff27c8816e41c0de61531",
               max_unpacked_gib=16),   # AVIs, about 2 GB
    RemoteFile("ground_truth_demo.zip",
               ("http://www.cse.cuhk.edu.hk/leojia/projects/detectabnormal/ground_truth_demo.zip",),
               sha256="60fec1728ec8f73a58aad3aeb5729d70a805a47e0b8eb4bf91ab67ef06386d77",
               max_unpacked_gib=4),
)
# The direct mirror (101.32.75.151:8181/dataset/shanghaitech.tar.gz) is dead: no URL is tried.
SHANGHAITECH_FILES = (
    RemoteFile("shanghaitech.tar.gz", (),
               sha256="c13a827043b259ccf8493c9d9130486872992153a9d714fe229e523cd4c94116",
               max_unpacked_gib=100,   # training AVIs and test JPEG frames: tens of GB
               manual="ShanghaiTech Campus has no working direct download. Open "
                      "https://svip-lab.github.io/dataset/campus_dataset.html, download "
                      "shanghaitech.tar.gz by hand (OneDrive or BaiduYun link there), and put it in the "
                      "folder given to `memae fetch --dest` (data/raw/shanghaitech/) or in "
                      "$MEMAE_MIRROR/shanghaitech/, then run `memae fetch shanghaitech` again: it checks "
                      "the sha256 before use"),
)

# --- the registry: one line per dataset -----------------------------------------------------------

SPECS: dict[str, DatasetSpec] = {s.name: s for s in (
    DatasetSpec("mnist", "memae.data.mnist", "oneclass", "image", MNIST_FILES, "mnist_files",
                tables=("table1",)),
    DatasetSpec("cifar10", "memae.data.cifar10", "oneclass", "image", CIFAR10_FILES, "cifar10_files",
                tables=("table1",), stand_in="cifar10_jpeg"),
    DatasetSpec("cifar10_jpeg", "memae.data.cifar10_jpeg", "oneclass", "image", CIFAR10_JPEG_FILES,
                "cifar10_jpeg_files"),
    DatasetSpec("imagefolder", "memae.data.imagefolder", "oneclass", "image", workflow=False),
    DatasetSpec("ped2", "memae.data.ped2", "video", "video", PED2_FILES, "ped2_files",
                tables=("table2", "ablation"), paper_sweep=True),
    DatasetSpec("avenue", "memae.data.avenue", "video", "video", AVENUE_FILES, "avenue_files",
                tables=("table2",)),
    DatasetSpec("shanghaitech", "memae.data.shanghaitech", "video", "video", SHANGHAITECH_FILES,
                "shanghaitech_files", tables=("table2",)),
    DatasetSpec("kddcup99", "memae.data.kddcup99", "records", "records", KDDCUP99_FILES, "kddcup99_files",
                metric="f1", tables=("table3",)),
)}
# dataset -> module path (kept for callers that only need the module)
MODULES = {name: s.module for name, s in SPECS.items()}
# The datasets the workflow runs (each has params/<name>.yaml), in registry order.
WORKFLOW_DATASETS = tuple(name for name, s in SPECS.items() if s.workflow)


def spec(name: str) -> DatasetSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise ValueError(f"dataset {name!r} is not implemented yet; available: {', '.join(SPECS)}") from None


def get(name: str) -> ModuleType:
    return spec(name).load()


def files(name: str) -> tuple[RemoteFile, ...]:
    """The remote files of a dataset (none for a dataset the user brings, e.g. imagefolder)."""
    return spec(name).files


def synthetic_names() -> list[str]:
    return [name for name, s in SPECS.items() if s.synthetic]


def primary_metric(name: str) -> str:
    """The dataset's primary metric; auc for a name the registry does not hold."""
    return SPECS[name].metric if name in SPECS else "auc"


def stand_in(name: str) -> str | None:
    return SPECS[name].stand_in if name in SPECS else None


def figure_kinds(name: str) -> tuple[str, ...]:
    return SPECS[name].figures if name in SPECS else FIGURES["records"]


def of_kind(kind: str) -> tuple[str, ...]:
    return tuple(name for name, s in SPECS.items() if s.kind == kind)
