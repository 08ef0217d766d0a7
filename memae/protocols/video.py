"""The video protocol (reference section 4) of Ped2, Avenue and ShanghaiTech: clips, training
sampler, scoring and the frame-level metrics.

- Clips: `clip_len` consecutive frames (16 in the paper), stride 1, never crossing a video
  boundary, cut as views into the prepared uint8 frames (a memmap, or a tensor on the device):
  no file is read per clip.
- Scoring: each test video's frames go to the device once, as uint8; its clips are cut there
  with `unfold` and scored in batches. Score of a clip = its reconstruction MSE (official code).
- Protocol: the score of the clip starting at frame k goes to frame k + clip_len // 2 (the 9th
  frame of a 16-frame clip), so the first clip_len // 2 and the last clip_len - clip_len // 2 - 1
  frames of each video (8 and 7) get none and are left out. Per video, errors are min-max
  normalised into a regularity score s = 1 - (e - min e) / (max e - min e) (regularity_score);
  the anomaly score is 1 - s.
  `auc`: one AUC over all scored frames of all videos pooled; `auc_macro`: the mean of per-video
  AUCs over the videos that have both normal and anomalous scored frames (the others are left
  out and counted in `videos_single_class`).

Prepared layout and reader: docs/CONTRACTS.md, memae.data.frames.open_split.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from tqdm import tqdm

from ..data.frames import open_split
from ..device import autocast
from . import ScoreTable, held_out_count


def to_float(u8: torch.Tensor, scale: str) -> torch.Tensor:
    """uint8 pixels -> float32 in [-1, 1] ("symmetric", the paper's range) or [0, 1] ("unit")."""
    if scale == "symmetric":
        return u8.float().div_(127.5).sub_(1.0)
    if scale == "unit":
        return u8.float().div_(255.0)
    raise ValueError(f"data.scale must be 'symmetric' or 'unit', got {scale!r}")


def centre(clip_len: int) -> int:
    """Offset in its clip of the frame that receives the clip's score: 8 (the 9th frame) for 16."""
    return clip_len // 2


def clip_starts(offsets: np.ndarray, clip_len: int, names: list[str], where: Path | str,
                part: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """Global index of the first frame of every stride-1 clip inside one video.

    part = (lo, hi) keeps the clips lying within that share of each video's frames (training
    and validation parts, see train_data). A video shorter than one clip is an error naming it.
    """
    starts = []
    for i, name in enumerate(names):
        a, b = int(offsets[i]), int(offsets[i + 1])
        if b - a < clip_len:
            raise ValueError(f"{where}: video {name} has {b - a} frames, fewer than one clip of "
                             f"{clip_len}; lower data.clip_len in the params file or leave that "
                             "video out when preparing the data")
        lo, hi = (a + int(round((b - a) * f)) for f in part)
        starts.append(np.arange(lo, max(lo, hi - clip_len + 1), dtype=np.int64))
    return np.concatenate(starts) if starts else np.zeros(0, np.int64)


class ClipSource:
    """Clips of a frame array as float batches (B, 1, T, H, W), indexed by clip number.

    frames: uint8 (F, H, W), a numpy memmap or a torch tensor (e.g. on the GPU); starts: first
    frame of each clip. Behaves like the sample tensors of the other protocols for training:
    len(), .shape, .device, [index tensor or slice] and .to(device).
    """

    def __init__(self, frames, starts: np.ndarray, clip_len: int, scale: str):
        self.frames, self.starts = frames, np.asarray(starts, np.int64)
        self.clip_len, self.scale = clip_len, scale

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), 1, self.clip_len, *self.frames.shape[1:])

    def __getitem__(self, idx) -> torch.Tensor:
        if isinstance(idx, torch.Tensor):
            idx = idx.cpu().numpy()
        s = self.starts[idx]
        if isinstance(self.frames, torch.Tensor):
            view = self.frames.unfold(0, self.clip_len, 1)           # (F-T+1, H, W, T), a view
            clips = view[torch.from_numpy(s).to(self.frames.device)]
        else:
            view = sliding_window_view(self.frames, self.clip_len, axis=0)  # a view of the memmap
            clips = torch.from_numpy(np.ascontiguousarray(view[s]))
        return to_float(clips.movedim(-1, 1), self.scale).unsqueeze(1).contiguous()

    @property
    def device(self) -> torch.device:
        """Where the frames are (an index tensor may be on any device)."""
        return self.frames.device if isinstance(self.frames, torch.Tensor) else torch.device("cpu")

    def to(self, device: torch.device) -> "ClipSource":
        """Move the frames to the device once, as uint8, when they fit in half its free memory."""
        if device.type != "cuda" or isinstance(self.frames, torch.Tensor):
            return self
        if self.frames.nbytes > torch.cuda.mem_get_info(device)[0] // 2:
            return self
        return ClipSource(torch.from_numpy(np.array(self.frames)).to(device), self.starts,
                          self.clip_len, self.scale)


def _open(prepared: Path, part: str):
    return open_split(Path(prepared) / part)


def train_val_starts(offsets: np.ndarray, clip_len: int, names: list[str], where: Path | str,
                     val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Clip starts for training and validation. The last `val_fraction` of each video's frames is
    held out, but never fewer than one clip's worth (5% of a Ped2 video is under 16 frames), and
    only where at least one clip is left for training; held-out clips never overlap training ones.
    A fraction of 0 holds nothing out."""
    train, held = [], []
    for i, name in enumerate(names):
        a, b = int(offsets[i]), int(offsets[i + 1])
        n_val = held_out_count(b - a, val_fraction, clip_len)
        cut = b - n_val if b - n_val - a >= clip_len else b
        sub = np.array([0, cut - a, b - a])
        train.append(a + clip_starts(sub[:2], clip_len, [name], where))
        if cut < b:
            held.append(cut + clip_starts(sub[1:] - sub[1], clip_len, [name], where))
    empty = np.zeros(0, np.int64)
    return (np.concatenate(train) if train else empty), (np.concatenate(held) if held else empty)


def _check_size(split, params: dict, path: Path) -> None:
    want = params["data"].get("frame_size")
    if want and list(split.frames.shape[1:]) != list(want):
        raise ValueError(f"{path}: frames were prepared at {list(split.frames.shape[1:])}, but "
                         f"data.frame_size is {list(want)}; run `memae prepare` again for this profile")


def train_data(prepared, split: str, seed: int, params: dict) -> tuple[ClipSource, ClipSource]:
    """All stride-1 clips of the training videos. Validation: the last `train.val_fraction` of
    each video's frames, at least one clip long (its clips do not overlap the training clips);
    only its loss is logged."""
    path = Path(prepared) / "train"
    s = _open(prepared, "train")
    _check_size(s, params, path)
    T, scale, val = params["data"]["clip_len"], params["data"]["scale"], params["train"]["val_fraction"]
    train, held_out = train_val_starts(s.offsets, T, s.names, path, val)
    return ClipSource(s.frames, train, T, scale), ClipSource(s.frames, held_out, T, scale)


@dataclass
class TestVideos:
    """A prepared test split: frames (F, H, W) uint8, offsets (n_videos + 1), labels per frame."""
    frames: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    names: list[str]
    clip_len: int
    scale: str
    path: Path


def test_data(prepared, split: str, seed: int, params: dict) -> TestVideos:
    s = _open(prepared, "test")
    path = Path(prepared) / "test"
    _check_size(s, params, path)
    T = params["data"]["clip_len"]
    clip_starts(s.offsets, T, s.names, path)  # fails early, naming a video shorter than a clip
    return TestVideos(s.frames, np.asarray(s.offsets), np.asarray(s.labels), list(s.names), T,
                      params["data"]["scale"], path)


def clip_error(x_hat: torch.Tensor, x: torch.Tensor, kind: str) -> torch.Tensor:
    """One error per clip of a batch (B, C, T, H, W), in float32.

    "mse": mean over every value of the squared residual (the official test script's AE score).
    "l2":  the channel-wise L2 norm of the residual, sqrt(sum_c r^2), averaged over all pixels of
           the clip (the official test script's score for the memory variants; for one grayscale
           channel it is the mean |r|).
    """
    r = x_hat.float() - x.float()
    if kind == "mse":
        return (r ** 2).flatten(1).mean(dim=1)
    if kind == "l2":
        return torch.sqrt((r ** 2).sum(dim=1)).flatten(1).mean(dim=1)
    raise ValueError(f"eval.clip_error must resolve to 'mse' or 'l2', got {kind!r}")


def clip_error_kind(setting: str, has_memory: bool) -> str:
    """eval.clip_error -> the error used for one variant: "official" follows the official test
    script (l2 for the memory variants, mse for the AE); "mse" and "l2" apply to every variant."""
    if setting == "official":
        return "l2" if has_memory else "mse"
    return setting


@torch.no_grad()
def clip_errors(net, video_u8: torch.Tensor, clip_len: int, scale: str, batch: int,
                device: torch.device, kind: str = "mse") -> np.ndarray:
    """Reconstruction error (see clip_error) of every stride-1 clip of one video (F, H, W) uint8,
    already on device."""
    clips = video_u8.unfold(0, clip_len, 1)                           # (F-T+1, H, W, T), a view
    out = []
    for i in range(0, len(clips), batch):
        x = to_float(clips[i:i + batch].movedim(-1, 1), scale).unsqueeze(1).contiguous()
        with autocast(device):
            x_hat, _, _ = net(x)
        out.append(clip_error(x_hat, x, kind))
    return torch.cat(out).cpu().numpy()


def regularity_score(errors: np.ndarray) -> np.ndarray:
    """s = 1 - (e - min e) / (max e - min e); all 1 when every error is the same."""
    e = np.asarray(errors, np.float64)
    span = e.max() - e.min()
    return 1.0 - (e - e.min()) / span if span > 0 else np.ones_like(e)


def score_videos(net, test: TestVideos, batch: int, device: torch.device,
                 kind: str = "mse") -> ScoreTable:
    """Per scored frame: scores (1 - regularity score), errors (the clip error `kind`), labels,
    video, frame; and the videos' names."""
    net.eval()
    T, c = test.clip_len, centre(test.clip_len)
    cols = {k: [] for k in ("scores", "errors", "labels", "video", "frame")}
    for i, name in enumerate(tqdm(test.names, desc=f"score {test.path}", unit="video")):
        a, b = int(test.offsets[i]), int(test.offsets[i + 1])
        video = torch.from_numpy(np.array(test.frames[a:b])).to(device)  # once per video, a copy
        err = clip_errors(net, video, T, test.scale, batch, device, kind)
        frame = np.arange(len(err)) + c
        cols["errors"].append(err)
        cols["scores"].append(1.0 - regularity_score(err))
        cols["labels"].append(np.asarray(test.labels[a:b])[frame])
        cols["video"].append(np.full(len(err), i))
        cols["frame"].append(frame)
    out = {k: np.concatenate(v) for k, v in cols.items()}
    return ScoreTable(scores=out["scores"].astype(np.float32), labels=out["labels"].astype(np.int8),
                      errors=out["errors"].astype(np.float32), video=out["video"].astype(np.int32),
                      frame=out["frame"].astype(np.int32), names=np.array(test.names))


def score(net, test: TestVideos, params: dict, variant, device: torch.device) -> ScoreTable:
    """Frame scores with the clip error eval.clip_error resolves to for this variant."""
    kind = clip_error_kind(params["eval"].get("clip_error", "mse"), variant.memory)
    return score_videos(net, test, params["eval"]["batch_size"], device, kind)


def metrics(table: ScoreTable, params: dict) -> dict:
    """Pooled frame AUC and the per-video mean (videos with a single class left out, counted)."""
    from sklearn.metrics import roc_auc_score   # here, not at the top: a training job never loads sklearn
    scores, labels, video = table.scores, np.asarray(table.labels), np.asarray(table.video)
    per_video = []
    single = 0
    for v in np.unique(video):
        m = video == v
        if labels[m].min() == labels[m].max():
            single += 1
        else:
            per_video.append(roc_auc_score(labels[m], scores[m]))
    return {"auc": float(roc_auc_score(labels, scores)),
            "auc_macro": float(np.mean(per_video)) if per_video else float("nan"),
            "videos_macro": len(per_video), "videos_single_class": single}
