"""Frame preparation for the video datasets: decode every video once into the prepared frame
layout, and read it back (the video protocol's clips and scoring: memae.protocols.video).

Layout (docs/CONTRACTS.md), per split: `frames.u8` (uint8, total_frames x H x W, grayscale,
resized to `data.frame_size`), `offsets.npy` (int64, n_videos + 1), `labels.npy` (uint8 per frame),
`meta.json`; and `summary.json` for the dataset.

A video is a folder of image frames (sorted by name) or a video file decoded with PyAV. Frames are
counted first (files in a folder; demuxed packets of a video file, without decoding), so each
video's place in `frames.u8` is known before decoding. Worker processes then decode one video each
and write its frames at that place with positioned writes: no process ever holds more than a few
frames, so peak RAM does not grow with the dataset. A video whose decoded frame count differs from
its count is an error naming both counts.

A second `extract_and_decode` with unchanged inputs (raw file names, sizes, mtimes) and frame size
does nothing.
"""
from __future__ import annotations

import json
import multiprocessing
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import av
import numpy as np
from PIL import Image
from tqdm import tqdm

from . import archive, arrays

IMAGE_SUFFIXES = {".tif", ".tiff", ".jpg", ".jpeg", ".png", ".bmp"}
DEFAULT_FRAME_SIZE = (256, 256)
LAYOUT_VERSION = 1
_BATCH = 32   # frames per write


class VideoError(ValueError):
    pass


@dataclass(frozen=True)
class Video:
    """One video to prepare: a folder of frames or a video file, and its per-frame labels."""
    name: str
    path: Path
    labels: np.ndarray | None = field(default=None, compare=False)   # None: all normal
    label_source: str = ""                                           # where labels came from, for errors


@dataclass
class VideoSplit:
    frames: np.memmap      # (total_frames, H, W) uint8, read-only
    offsets: np.ndarray    # int64 (n_videos + 1)
    labels: np.ndarray     # uint8 (total_frames)
    names: list[str]

    def __len__(self) -> int:
        return len(self.names)

    def video(self, i: int) -> np.ndarray:
        return self.frames[self.offsets[i]:self.offsets[i + 1]]


def open_split(path: Path) -> VideoSplit:
    """Open a prepared split folder (e.g. data/prepared/ped2/test) without loading its frames."""
    path = Path(path)
    try:
        meta = json.loads((path / "meta.json").read_text())
        offsets = np.load(path / "offsets.npy")
        labels = np.load(path / "labels.npy")
    except FileNotFoundError as e:
        raise FileNotFoundError(f"{e.filename} is missing: run `memae prepare` for this dataset first") from None
    shape = (meta["frames"], meta["height"], meta["width"])
    frames = np.memmap(path / "frames.u8", np.uint8, "r", shape=shape)
    if offsets[-1] != shape[0] or len(labels) != shape[0] or len(offsets) != len(meta["videos"]) + 1:
        raise VideoError(f"{path}: frames, offsets and labels disagree; run `memae prepare` again")
    return VideoSplit(frames, offsets, labels, list(meta["videos"]))


def frame_files(folder: Path) -> list[Path]:
    """Image frames of a folder, sorted by name; hidden files (.DS_Store, ._*) are skipped."""
    return sorted(p for p in Path(folder).iterdir()
                  if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


def _frame_bytes(gray: Image.Image, size: tuple[int, int]) -> bytes:
    """A grayscale frame resized (bilinear) to size = (H, W), as H*W bytes."""
    h, w = size
    return (gray if gray.size == (w, h) else gray.resize((w, h), Image.BILINEAR)).tobytes()


def _open_video(path: Path):
    try:
        c = av.open(str(path))
        return c, c.streams.video[0]
    except (av.FFmpegError, IndexError) as e:
        raise VideoError(f"{path}: cannot open as a video ({e}); the file may be damaged, fetch it again") from None


def count_frames(path: Path) -> int:
    """Frames of a video: files in a frame folder; demuxed packets of a video file (no decoding)."""
    path = Path(path)
    if path.is_dir():
        return len(frame_files(path))
    c, s = _open_video(path)
    with c:
        try:
            return sum(1 for pkt in c.demux(s) if pkt.size)
        except av.FFmpegError as e:
            raise VideoError(f"{path}: cannot read ({e}); the file may be damaged, fetch it again") from None


def _gray_frames(path: Path):
    """Grayscale (mode L) frames of a frame folder or a video file, one at a time."""
    if path.is_dir():
        for f in frame_files(path):
            try:
                im = Image.open(f)
                im.load()
            except OSError as e:
                raise VideoError(f"{f}: corrupt or unreadable frame ({e}); fetch the dataset again") from None
            yield im if im.mode == "L" else im.convert("L")   # load() has read the file and closed it
        return
    c, s = _open_video(path)
    with c:
        try:
            for frame in c.decode(s):
                yield Image.fromarray(frame.to_ndarray(format="gray"))
        except av.FFmpegError as e:
            raise VideoError(f"{path}: corrupt video data ({e}); fetch the dataset again") from None


def _decode_into(job: tuple) -> tuple[int, int]:
    """Worker: decode one video, write its frames at its offset in frames_file. -> (index, frames)."""
    i, path, frames_file, start, count, size = job
    frame_bytes = size[0] * size[1]
    n, batch = 0, []
    with open(frames_file, "r+b") as f:
        f.seek(start * frame_bytes)
        for gray in _gray_frames(Path(path)):
            n += 1
            if n > count:
                break
            batch.append(_frame_bytes(gray, size))
            if len(batch) == _BATCH:
                f.write(b"".join(batch))
                batch = []
        f.write(b"".join(batch))
    if n != count:
        raise VideoError(f"{path}: decoded {n}{'+' if n > count else ''} frames but counted {count}; "
                         "the file may be damaged, fetch the dataset again")
    return i, n


def write_split(videos: list[Video], out: Path, size: tuple[int, int], workers: int = 1,
                desc: str = "") -> dict:
    """Decode videos into out/ (frames.u8, offsets.npy, labels.npy, meta.json); returns the split summary."""
    out.mkdir(parents=True, exist_ok=True)
    if not videos:
        raise VideoError(f"{desc}: no videos found; is the archive complete?")
    counts = [count_frames(v.path) for v in tqdm(videos, desc=f"count {desc}", unit="video", leave=False)]
    labels = []
    for v, n in zip(videos, counts):
        if n == 0:
            raise VideoError(f"{desc} video {v.name} ({v.path}) has no frames")
        if v.labels is None:
            labels.append(np.zeros(n, np.uint8))
        elif len(v.labels) != n:
            where = f" in {v.label_source}" if v.label_source else ""
            raise VideoError(f"{desc} video {v.name}: {len(v.labels)} frame labels{where} but {n} frames in {v.path}")
        else:
            labels.append(np.asarray(v.labels, np.uint8))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    frames_file = out / "frames.u8"
    with open(frames_file, "wb") as f:
        f.truncate(int(offsets[-1]) * size[0] * size[1])
    jobs = [(i, str(v.path), str(frames_file), int(offsets[i]), counts[i], tuple(size))
            for i, v in enumerate(videos)]
    with tqdm(total=int(offsets[-1]), desc=f"decode {desc}", unit="frame") as bar:
        if workers <= 1:
            for job in jobs:
                bar.update(_decode_into(job)[1])
        else:
            with multiprocessing.get_context("fork").Pool(min(workers, len(jobs))) as pool:
                for _, n in pool.imap_unordered(_decode_into, jobs):
                    bar.update(n)
    all_labels = np.concatenate(labels)
    np.save(out / "offsets.npy", offsets)
    np.save(out / "labels.npy", all_labels)
    arrays.write_json(out / "meta.json", {"frames": int(offsets[-1]), "height": size[0], "width": size[1],
                                          "videos": [v.name for v in videos]})
    return {"videos": len(videos), "frames": int(offsets[-1]),
            "anomalous_share": float(all_labels.mean()) if len(all_labels) else 0.0}


def frame_size(params: dict | None) -> tuple[int, int]:
    h, w = ((params or {}).get("data") or {}).get("frame_size", DEFAULT_FRAME_SIZE)
    return int(h), int(w)


def _stamp(raw_files: list[Path], size: tuple[int, int]) -> dict:
    files = []
    for p in raw_files:
        if not p.is_file():
            raise FileNotFoundError(f"{p} is missing: run `memae fetch` for this dataset first")
        st = p.stat()
        files.append([p.name, st.st_size, st.st_mtime_ns])
    return {"files": files, "frame_size": list(size), "layout": LAYOUT_VERSION}


def _current(out: Path, stamp: dict) -> dict | None:
    try:
        summary = json.loads((out / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    complete = all((out / s / name).exists() for s in ("train", "test")
                   for name in ("frames.u8", "offsets.npy", "labels.npy", "meta.json"))
    return summary if complete and summary.get("inputs") == stamp else None


def extract_and_decode(dataset: str, raw_files: list[Path], out: Path, params: dict | None, workers: int,
                       find_videos: Callable[[Path], dict[str, list[Video]]],
                       include: Callable[[str], bool] | None = None) -> dict:
    """Extract raw_files (members passing include) into a scratch folder, find the train/test
    videos there with find_videos(scratch), and decode them into out/. Skipped when out/ is current."""
    out = Path(out)
    size = frame_size(params)
    stamp = _stamp([Path(p) for p in raw_files], size)
    if (summary := _current(out, stamp)) is not None:
        print(f"{out} is up to date with its inputs; nothing to do")
        return summary
    scratch = out.with_name(out.name + ".extract")
    tmp = arrays.atomic_dir(out)
    try:
        for p in raw_files:
            archive.extract(p, scratch / Path(p).name, include)
        splits = find_videos(scratch)
        summary = {"dataset": dataset, "frame_size": list(size), "inputs": stamp}
        for split in ("train", "test"):
            summary[split] = write_split(splits[split], tmp / split, size, workers, f"{dataset} {split}")
        arrays.write_json(tmp / "summary.json", summary)
        arrays.commit_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return summary


def find_dir(root: Path, relative: str, what: str) -> Path:
    """The one folder under root whose path ends with relative (archives differ in their top folder)."""
    hits = sorted(p for p in Path(root).rglob(Path(relative).name) if p.is_dir() and p.as_posix().endswith(relative))
    if not hits:
        raise VideoError(f"{what}: no folder '{relative}' in the extracted archive; is it the right file?")
    return hits[0]
