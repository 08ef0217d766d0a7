"""Small synthetic datasets in the real on-disk formats, for the `smoke` profile and the tests.

make_mirror(dataset, folder) runs the dataset's generator (memae.datasets: its spec's `synthetic`,
a function here) and writes the dataset's raw files into folder/<dataset>/ exactly as the
publisher ships them (gzip'd IDX for MNIST, gzip'd CSV for KDDCUP99, CIFAR-10 binary records in a
tar.gz, the CIFAR-10 JPEG folder tree, and the video archives: Ped2 .tif frames with .bmp masks and
UCSDped2.m, Avenue .avi videos with volLabel .mat files, ShanghaiTech .avi training videos with .jpg
test frames and .npy labels) and returns a table of RemoteFile entries with their checksums, so
`fetch` verifies them like real downloads.

Synthetic videos show a textured static background and a small bright square walking slowly
(normal); during anomalous frames a larger square crosses the scene fast, and its pixels are the
frame's anomaly mask.
"""
from __future__ import annotations

import gzip
import io
import struct
import tarfile
import tempfile
import zipfile
from pathlib import Path

import av
import numpy as np
import scipy.io
from PIL import Image

from .cifar10 import BATCHES, CLASSES, FOLDER
from .fetch import file_sha256
from .kddcup99 import COLUMNS, SYMBOLIC
from .. import datasets
from ..datasets import RemoteFile


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as a gzip-compressed IDX file."""
    a = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        f.write(header + a.tobytes())


def digit_like(labels: np.ndarray, rng: np.random.Generator, size: int = 28) -> np.ndarray:
    """One stroke per image whose angle depends on the class, with jitter and noise."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) - (size - 1) / 2
    out = np.empty((len(labels), size, size), np.uint8)
    for i, c in enumerate(labels):
        angle = np.pi * c / 10 + rng.normal(0, 0.05)
        dx, dy = rng.normal(0, 1.0, 2)
        dist = np.abs((xx - dx) * np.sin(angle) - (yy - dy) * np.cos(angle))
        along = np.abs((xx - dx) * np.cos(angle) + (yy - dy) * np.sin(angle))
        img = np.clip(2.0 - dist, 0, 1) * (along < 9)
        img = img * 230 + rng.uniform(0, 25, img.shape)
        out[i] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def mnist_files(folder: Path, rng: np.random.Generator, size: dict) -> None:
    for prefix, n in (("train", size["train_per_class"]), ("t10k", size["test_per_class"])):
        labels = np.repeat(np.arange(10, dtype=np.uint8), n)
        labels = labels[rng.permutation(len(labels))]
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", digit_like(labels, rng))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)


def kddcup99_files(folder: Path, rng: np.random.Generator, size: dict) -> None:
    """Attack records (the model's normal data) lie on a smooth curve: every field, numeric and
    symbolic, is a function of one hidden value t per record. The "normal." records (~20%, the
    anomalies here) draw each field's hidden value independently, so every field has the same
    distribution in both groups and only the joint structure tells them apart: an untrained network
    does not separate them, one trained on the attack records does."""
    n = size["records"]
    is_anom = rng.random(n) < 0.2
    protocols = np.array(["tcp", "udp", "icmp"])
    services = np.array(["http", "smtp", "ecr_i", "private", "ftp_data", "other"])
    flags = np.array(["SF", "S0", "REJ", "RSTO"])
    k = len(COLUMNS) - 1 - len(SYMBOLIC)
    freq, phase = rng.uniform(0.2, 0.6, k + 3), rng.uniform(0, 2 * np.pi, k + 3)
    hidden = np.where(is_anom[:, None], rng.random((n, k + 3)), rng.random((n, 1)))
    curve = 0.5 + 0.5 * np.sin(2 * np.pi * (freq * hidden + phase))          # in [0, 1]
    num = (curve[:, :k] + rng.normal(0, 0.01, (n, k))).clip(0, 1)
    num[:, :3] = np.round(num[:, :3] * 1000)   # duration, byte counts: integers
    sym = [names[np.minimum((curve[:, k + j] * len(names)).astype(int), len(names) - 1)]
           for j, names in enumerate((protocols, services, flags))]
    attacks = rng.choice(["smurf.", "neptune.", "back."], n)
    rows = []
    for i in range(n):
        vals = [f"{v:g}" for v in num[i]]
        rows.append(",".join([vals[0], sym[0][i], sym[1][i], sym[2][i], *vals[1:],
                              "normal." if is_anom[i] else attacks[i]]))
    with gzip.GzipFile(folder / "kddcup.data_10_percent.gz", "wb", mtime=0) as f:
        f.write(("\n".join(rows) + "\n").encode())


def _add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    tf.addfile(info, io.BytesIO(data))


def _image_bytes(array: np.ndarray, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt, **kw)
    return buf.getvalue()


def colour_patterns(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """32x32 RGB images: stripes whose direction depends on the class, with noise. The colour is
    drawn per image from one palette shared by all classes (the same three channel values in turn),
    so every class has the same brightness and colours: only the structure, which a network learns
    in training, tells the classes apart, not how much an untrained network's output misses."""
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float32)
    out = np.empty((len(labels), 32, 32, 3), np.uint8)
    palette = [np.roll(np.array([200, 130, 60], np.float32), k) for k in range(3)]
    for i, c in enumerate(labels):
        c = int(c)
        angle = np.pi * c / 10
        stripes = 0.5 + 0.5 * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) / 2.0 + rng.uniform(0, 6.3))
        colour = palette[rng.integers(len(palette))]
        img = stripes[..., None] * colour + rng.normal(0, 12, (32, 32, 3))
        out[i] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def _labels(n_per_class: int, rng: np.random.Generator) -> np.ndarray:
    labels = np.repeat(np.arange(10, dtype=np.uint8), n_per_class)
    return labels[rng.permutation(len(labels))]


def cifar10_files(folder: Path, rng: np.random.Generator, size: dict) -> None:
    """cifar-10-binary.tar.gz: records of 1 label byte + R, G, B planes, in 5 training batches + 1 test."""
    with tarfile.open(folder / "cifar-10-binary.tar.gz", "w:gz") as tf:
        _add(tf, f"{FOLDER}/batches.meta.txt", ("\n".join(CLASSES) + "\n").encode())
        for split, names in BATCHES.items():
            labels = _labels(size[f"{split}_per_class"], rng)
            images = colour_patterns(labels, rng)
            for part, name in zip(np.array_split(np.arange(len(labels)), len(names)), names):
                planes = images[part].transpose(0, 3, 1, 2).reshape(len(part), -1)
                _add(tf, f"{FOLDER}/{name}", np.hstack([labels[part, None], planes]).tobytes())


def cifar10_jpeg_files(folder: Path, rng: np.random.Generator, size: dict) -> None:
    """cifar10-jpeg.tar.gz: {train,test}/<class>/NNNN.jpg at JPEG quality 75, like the shared copy."""
    with tarfile.open(folder / "cifar10-jpeg.tar.gz", "w:gz") as tf:
        for split in ("train", "test"):
            labels = np.sort(_labels(size[f"{split}_per_class"], rng))
            for i, (c, img) in enumerate(zip(labels, colour_patterns(labels, rng))):
                _add(tf, f"{split}/{CLASSES[c]}/{i:04d}.jpg", _image_bytes(img, "JPEG", quality=75))


def anomaly_spans(n_videos: int, n_frames: int) -> list[tuple[int, int]]:
    """The anomalous frames [start, end) of each synthetic test video: a middle third, or the
    first half (an anomaly from the first frame, as in several real test videos)."""
    return [(n_frames // 3, 2 * n_frames // 3) if j % 2 == 0 else (0, n_frames // 2) for j in range(n_videos)]


def moving_object_video(n: int, h: int, w: int, rng: np.random.Generator,
                        span: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, np.ndarray]:
    """(frames uint8 n x h x w, anomaly masks bool n x h x w) of one synthetic video."""
    yy, xx = np.mgrid[0:h, 0:w]
    background = 60 + 40 * np.sin(xx / 7.0) * np.cos(yy / 11.0) + rng.uniform(0, 20)
    frames = np.empty((n, h, w), np.uint8)
    masks = np.zeros((n, h, w), bool)
    s, big = max(2, h // 12), max(4, h // 5)
    x0, y0 = rng.uniform(0, w - s), rng.uniform(s, h - 2 * s)
    for t in range(n):
        img = background + rng.normal(0, 3, (h, w))
        x = int(x0 + 0.5 * t) % (w - s)
        img[int(y0):int(y0) + s, x:x + s] = 200
        if span[0] <= t < span[1]:
            bx = int(4 * (t - span[0])) % (w - big)
            by = h // 2 - big // 2
            img[by:by + big, bx:bx + big] = 250
            masks[t, by:by + big, bx:bx + big] = True
        frames[t] = np.clip(img, 0, 255).astype(np.uint8)
    return frames, masks


def write_avi(path: Path, frames: np.ndarray, fps: int = 25) -> None:
    """MPEG-4 part 2 in AVI (the codec family of the real Avenue and ShanghaiTech videos)."""
    with av.open(str(path), "w", format="avi") as c:
        s = c.add_stream("mpeg4", rate=fps)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        s.bit_rate = 200 * frames.shape[1] * frames.shape[2]   # high quality: a few artefacts only
        for f in frames:
            for pkt in s.encode(av.VideoFrame.from_ndarray(np.repeat(f[..., None], 3, axis=2), format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)


def _videos(size: dict, rng: np.random.Generator):
    """Yield (split, index, frames, masks) for the synthetic train and test videos of size.
    size["distinct_videos"] (benchmarks only) repeats that many videos per split to build big sets fast."""
    n, h, w = size["frames"], size["height"], size["width"]
    distinct = size.get("distinct_videos")
    made = {}
    for split, count in (("train", size["train_videos"]), ("test", size["test_videos"])):
        spans = anomaly_spans(count, n) if split == "test" else [(0, 0)] * count
        for i, span in enumerate(spans):
            if not distinct:
                yield (split, i, *moving_object_video(n, h, w, rng, span))
                continue
            key = (split, i % distinct, span)
            if key not in made:
                made[key] = moving_object_video(n, h, w, rng, span)
            yield (split, i, *made[key])


def ped2_files(folder: Path, rng: np.random.Generator, size: dict) -> None:
    """UCSD_Anomaly_Dataset.tar.gz: Ped2 .tif frames, TestNNN_gt/*.bmp masks, Test/UCSDped2.m
    (and a stray Ped1 frame and macOS junk files, which preparation must ignore)."""
    top = "UCSD_Anomaly_Dataset.v1p2"
    root = f"{top}/UCSDped2"
    ranges = []
    with tarfile.open(folder / "UCSD_Anomaly_Dataset.tar.gz", "w:gz", compresslevel=1) as tf:
        _add(tf, f"{top}/UCSDped1/Train/Train001/001.tif", _image_bytes(np.zeros((8, 8), np.uint8), "TIFF"))
        for split, i, frames, masks in _videos(size, rng):
            name = f"{split.title()}{i + 1:03d}"
            for t, f in enumerate(frames):
                _add(tf, f"{root}/{split.title()}/{name}/{t + 1:03d}.tif", _image_bytes(f, "TIFF"))
            if split == "test":
                _add(tf, f"{root}/Test/{name}_gt/.DS_Store", b"\0" * 64)
                for t, m in enumerate(masks):
                    _add(tf, f"{root}/Test/{name}_gt/{t + 1:03d}.bmp", _image_bytes(m.astype(np.uint8) * 255, "BMP"))
                hit = np.flatnonzero(masks.any(axis=(1, 2))) + 1
                ranges.append(f"[{hit[0]}:{hit[-1]}]" if hit.size else "[]")
        m_file = "TestVideoFile = {};\n" + "".join(f"TestVideoFile{{end+1}}.gt_frame = {r};\n" for r in ranges)
        _add(tf, f"{root}/Test/UCSDped2.m", m_file.encode())


def avenue_files(folder: Path, rng: np.random.Generator, size: dict) -> None:
    """Avenue_Dataset.zip (training_videos/NN.avi, testing_videos/NN.avi) and ground_truth_demo.zip
    (testing_label_mask/N_label.mat with a 1 x N cell volLabel of masks)."""
    with tempfile.TemporaryDirectory() as tmp, \
            zipfile.ZipFile(folder / "Avenue_Dataset.zip", "w") as videos, \
            zipfile.ZipFile(folder / "ground_truth_demo.zip", "w", zipfile.ZIP_DEFLATED) as gt:
        for split, i, frames, masks in _videos(size, rng):
            avi = Path(tmp) / f"{i + 1:02d}.avi"
            write_avi(avi, frames)
            videos.write(avi, f"Avenue Dataset/{split}ing_videos/{avi.name}")
            if split == "test":
                cell = np.empty((1, len(masks)), dtype=object)
                for t, m in enumerate(masks):
                    cell[0, t] = m.astype(np.uint8)
                mat = Path(tmp) / f"{i + 1}_label.mat"
                scipy.io.savemat(mat, {"volLabel": cell})
                gt.write(mat, f"ground_truth_demo/testing_label_mask/{mat.name}")


def shanghaitech_files(folder: Path, rng: np.random.Generator, size: dict) -> None:
    """shanghaitech.tar.gz: training/videos/SS_VVV.avi, testing/frames/SS_VVVV/NNN.jpg and
    testing/test_frame_mask/SS_VVVV.npy."""
    with tempfile.TemporaryDirectory() as tmp, \
            tarfile.open(folder / "shanghaitech.tar.gz", "w:gz", compresslevel=1) as tf:
        for split, i, frames, masks in _videos(size, rng):
            scene = i % 2 + 1
            if split == "train":
                avi = Path(tmp) / f"{scene:02d}_{i + 1:03d}.avi"
                write_avi(avi, frames)
                tf.add(avi, f"shanghaitech/training/videos/{avi.name}")
                continue
            name = f"{scene:02d}_{i + 1:04d}"
            for t, f in enumerate(frames):
                _add(tf, f"shanghaitech/testing/frames/{name}/{t:03d}.jpg", _image_bytes(f, "JPEG", quality=90))
            buf = io.BytesIO()
            np.save(buf, masks.any(axis=(1, 2)).astype(np.int64))
            _add(tf, f"shanghaitech/testing/test_frame_mask/{name}.npy", buf.getvalue())


def make_mirror(dataset: str, root: Path, size: dict, seed: int = 0) -> tuple[RemoteFile, ...]:
    """Write synthetic raw files under root/<dataset>/ and return their checksum table."""
    spec = datasets.spec(dataset)
    make, content_hash = spec.generator(), spec.content_hash
    folder = Path(root) / dataset
    folder.mkdir(parents=True, exist_ok=True)
    make(folder, np.random.default_rng(seed), size)
    table = []
    for path in sorted(folder.iterdir()):
        h = file_sha256(path, decompress=content_hash)
        table.append(RemoteFile(path.name, (), **({"content_sha256": h} if content_hash else {"sha256": h}),
                                manual="synthetic data: rerun `memae fetch --synthetic`"))
    return tuple(table)
