"""A one-class image folder: `<root>/{train,test}/<class>/*.png|jpg`, for users' own images.

Classes are the folder names under train/, sorted; test/ must hold the same classes. Images are
decoded once into the layout of memae/data/imageset.py (train_images / test_images uint8,
N x H x W x 3 for colour or N x H x W for grayscale, and int64 labels = class index), so the
one-class protocol of MNIST and CIFAR-10 applies unchanged: split "classK" makes class K normal.
`raw` is either that folder or a folder holding one archive of it (.tar.gz, .tgz, .tar, .zip),
read member by member without extracting it (names checked as for extraction; the decoded arrays
have to fit in memory either way).
"""
from __future__ import annotations

import io
import multiprocessing
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image
from tqdm import tqdm

from . import archive, imageset

FILES = ()   # the user's own folder: nothing to fetch
SUFFIXES = {".png", ".jpg", ".jpeg"}
ARCHIVES = (".tar.gz", ".tgz", ".tar", ".zip")
LAYOUT = "train/<class>/*.png|jpg and test/<class>/*.png|jpg"


def _decode(item: tuple[str, bytes | None]) -> np.ndarray:
    where, data = item
    try:
        with Image.open(io.BytesIO(data) if data is not None else where) as im:
            return np.asarray(im.convert("L" if im.mode in ("L", "1", "I", "I;16") else "RGB"))
    except OSError as e:
        raise ValueError(f"{where}: corrupt or unreadable image ({e}); replace or remove it") from None


def _images(raw: Path) -> tuple[dict[PurePosixPath, tuple[str, bytes | None]], str]:
    """Image files keyed by path under the tree's root -> (name for messages, bytes or None to read)."""
    raw = Path(raw)
    if (raw / "train").is_dir():
        return {PurePosixPath(*p.relative_to(raw).parts): (str(p), None)
                for p in raw.glob("*/*/*") if p.suffix.lower() in SUFFIXES}, str(raw)
    packed = sorted(p for p in raw.iterdir() if p.name.endswith(ARCHIVES)) if raw.is_dir() else []
    if len(packed) != 1:
        raise FileNotFoundError(f"{raw}: expected {LAYOUT}, or one archive of them ({', '.join(ARCHIVES)}); "
                                f"found {len(packed)} archives")
    members = archive.read_members(packed[0], lambda n: PurePosixPath(n).suffix.lower() in SUFFIXES)
    out = {}
    for name, data in members.items():
        parts = PurePosixPath(name).parts
        if len(parts) >= 3 and parts[-3] in ("train", "test"):   # drop any folder above train/ and test/
            out[PurePosixPath(*parts[-3:])] = (f"{packed[0]}:{name}", data)
    return out, str(packed[0])


def list_split(images: dict, split: str, where: str, classes: list[str] | None = None):
    """(items, labels, classes) of one split, classes sorted by name and files by name."""
    keys = sorted(k for k in images if k.parts[0] == split and not k.name.startswith("."))
    if not keys:
        raise FileNotFoundError(f"{where}: no {split}/ images; an image folder dataset needs {LAYOUT}")
    found = sorted({k.parts[1] for k in keys})
    if classes is not None and found != classes:
        raise ValueError(f"{where}: {split}/ classes {found} differ from those of train/: {classes}")
    index = {c: i for i, c in enumerate(found)}
    keys.sort(key=lambda k: (index[k.parts[1]], k.name))
    return [images[k] for k in keys], [index[k.parts[1]] for k in keys], found


def decode_all(items: list, workers: int = 1, desc: str = "") -> np.ndarray:
    """Decode images into one uint8 array; every image must have the first one's shape."""
    first = _decode(items[0])
    out = np.empty((len(items), *first.shape), np.uint8)
    pool = multiprocessing.get_context("fork").Pool(workers) if workers > 1 else None
    try:
        results = pool.imap(_decode, items, chunksize=256) if pool else map(_decode, items)
        for i, img in enumerate(tqdm(results, total=len(items), desc=f"decode {desc}", unit="image")):
            if img.shape != first.shape:
                raise ValueError(f"{items[i][0]}: shape {img.shape} differs from {items[0][0]}'s "
                                 f"{first.shape}; resize the images to one size first")
            out[i] = img
    finally:
        if pool:
            pool.terminate()
    return out


def prepare_tree(raw: Path, out: Path, dataset: str, label: str, workers: int = 1) -> dict:
    images, where = _images(raw)
    train, train_labels, classes = list_split(images, "train", where)
    test, test_labels, _ = list_split(images, "test", where, classes)
    parts = {"train_images": decode_all(train, workers, f"{dataset} train"),
             "train_labels": np.array(train_labels, np.int64),
             "test_images": decode_all(test, workers, f"{dataset} test"),
             "test_labels": np.array(test_labels, np.int64)}
    if parts["train_images"].shape[1:] != parts["test_images"].shape[1:]:
        raise ValueError(f"{where}: train images are {parts['train_images'].shape[1:]}, "
                         f"test images {parts['test_images'].shape[1:]}")
    return imageset.write_prepared(out, parts, dataset, label, classes)


def prepare(raw: Path, out: Path, params: dict | None = None, workers: int = 1) -> dict:
    return prepare_tree(raw, out, "imagefolder", f"image folder {Path(raw).name}", workers)
