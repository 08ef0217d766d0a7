"""The video track: memory on 5D features, clips, the frame protocol, and a small end-to-end run."""
import json

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from memae import datasets
from memae.config import load_params
from memae.evaluate import evaluate
from memae.memory import Memory
from memae.protocols import ScoreTable, video
from memae.train import train


def write_split(folder, videos, labels):
    """A prepared split in the layout of docs/CONTRACTS.md, from a list of (F, H, W) uint8 arrays."""
    folder.mkdir(parents=True)
    frames = np.concatenate(videos)
    frames.tofile(folder / "frames.u8")
    np.save(folder / "offsets.npy", np.concatenate([[0], np.cumsum([len(v) for v in videos])]).astype(np.int64))
    np.save(folder / "labels.npy", np.concatenate(labels).astype(np.uint8))
    (folder / "meta.json").write_text(json.dumps({
        "frames": len(frames), "height": frames.shape[1], "width": frames.shape[2],
        "videos": [f"v{i:02d}" for i in range(len(videos))]}))


class Zero(torch.nn.Module):
    """Reconstructs every clip as zeros: a clip's MSE is then the mean of its squared pixels."""

    def forward(self, x):
        return torch.zeros_like(x), None, None


def test_memory_on_5d_video_features_equals_2d_position_by_position():
    torch.manual_seed(0)
    mem = Memory(num_items=12, dim=6, shrink_thres=0.05)
    z = torch.randn(2, 6, 2, 3, 4)                      # (batch, channels, time, height, width)
    z_hat, w = mem(z)
    assert z_hat.shape == z.shape and w.shape == (2 * 2 * 3 * 4, 12)
    for b in range(2):
        for t in range(2):
            for i in range(3):
                for j in range(4):
                    q = z[b, :, t, i, j][None]          # one query, the 2D (Q, C) computation
                    expected, _ = mem(q)
                    assert torch.allclose(z_hat[b, :, t, i, j], expected[0], atol=1e-6)


def test_clips_never_cross_a_video_boundary_and_short_videos_are_named():
    offsets = np.array([0, 20, 37])
    starts = video.clip_starts(offsets, 16, ["a", "b"], "x")
    assert starts.tolist() == [0, 1, 2, 3, 4, 20, 21]
    with pytest.raises(ValueError, match=r"x: video b has 10 frames, fewer than one clip of 16.*clip_len"):
        video.clip_starts(np.array([0, 20, 30]), 16, ["a", "b"], "x")


def test_training_and_validation_clips_do_not_overlap():
    offsets = np.array([0, 100, 140])
    train = video.clip_starts(offsets, 16, ["a", "b"], "x", part=(0.0, 0.9))
    val = video.clip_starts(offsets, 16, ["a", "b"], "x", part=(0.9, 1.0))
    # video a: training frames 0..89 -> clips start 0..74; val frames 90..99 hold no full clip
    # video b: training frames 100..135 -> starts 100..120; val frames 136..139 none
    assert train.tolist() == list(range(0, 75)) + list(range(100, 121)) and val.size == 0
    val = video.clip_starts(np.array([0, 200]), 16, ["a"], "x", part=(0.9, 1.0))
    assert val.tolist() == [180, 181, 182, 183, 184]


def test_validation_holds_out_at_least_one_clip_per_video_without_overlap():
    # Ped2-like lengths: 5% of 120-180 frames is under one clip; the hold-out grows to 16 frames
    offsets = np.array([0, 120, 300, 330])
    train, val = video.train_val_starts(offsets, 16, ["a", "b", "c"], "x", 0.05)
    # a: frames 0..103 train (starts 0..88), 104..119 held out (start 104)
    # b: 180 frames, 5% = 9 -> 16 held out: train 120..283 (starts 120..268), held out start 284
    # c: 30 frames: 16 held out would leave 14 < 16 for training, so c is not held out
    assert val.tolist() == [104, 284]
    assert train.tolist() == list(range(0, 89)) + list(range(120, 269)) + list(range(300, 315))
    assert not set(range(104, 120)) & {f for s in train for f in range(s, s + 16)}
    assert video.train_val_starts(offsets, 16, ["a", "b", "c"], "x", 0.0)[1].size == 0


def test_clip_source_batches_are_the_frames_in_order_for_memmap_and_tensor(tmp_path):
    frames = (np.arange(30)[:, None, None] * np.ones((1, 2, 3))).astype(np.uint8)
    frames.tofile(tmp_path / "f.u8")
    mm = np.memmap(tmp_path / "f.u8", np.uint8, "r", shape=frames.shape)
    for src in (mm, torch.from_numpy(frames)):
        clips = video.ClipSource(src, np.array([0, 5, 14]), 16, "unit")
        assert clips.shape == (3, 1, 16, 2, 3)
        x = clips[torch.tensor([2, 0])]
        assert x.shape == (2, 1, 16, 2, 3)
        assert torch.allclose(x[0, 0, :, 1, 2], torch.arange(14, 30).float() / 255)
        assert torch.allclose(x[1, 0, :, 0, 0], torch.arange(0, 16).float() / 255)
    sym = video.ClipSource(mm, np.array([0]), 16, "symmetric")[0:1]
    assert float(sym.min()) == -1.0 and float(sym[0, 0, 15, 0, 0]) == pytest.approx(15 / 127.5 - 1)


def test_a_20_frame_video_yields_5_scores_on_frames_8_to_12():
    # frame f has every pixel = f; the zero net makes clip k's error the mean over f in k..k+15
    # of (f / 255)^2, so the errors and their order are known by hand.
    frames = np.repeat(np.arange(20, dtype=np.uint8), 4).reshape(20, 2, 2)
    labels = np.zeros(20, np.uint8)
    labels[10] = 1
    test = video.TestVideos(frames, np.array([0, 20]), labels, ["v"], 16, "unit", "t")
    out = video.score_videos(Zero(), test, batch=3, device=torch.device("cpu"))
    assert out.frame.tolist() == [8, 9, 10, 11, 12] and out.video.tolist() == [0] * 5
    assert out.labels.tolist() == [0, 0, 1, 0, 0]
    expected = [np.mean((np.arange(k, k + 16) / 255.0) ** 2) for k in range(5)]
    assert np.allclose(out.errors, expected, rtol=1e-5)
    # errors rise with k: the anomaly score (1 - regularity score) goes from 0 to 1
    e = np.array(expected)
    assert np.allclose(out.scores, (e - e[0]) / (e[-1] - e[0]), atol=1e-6)


def test_regularity_score_is_per_video_min_max():
    assert video.regularity_score(np.array([1.0, 3.0, 2.0])).tolist() == [1.0, 0.0, 0.5]
    assert video.regularity_score(np.array([4.0, 4.0])).tolist() == [1.0, 1.0]
    # two videos at different error levels: each is normalised on its own
    frames = np.concatenate([np.full((17, 1, 1), 10, np.uint8), np.full((18, 1, 1), 200, np.uint8)])
    frames[16] = 20    # video 0: clip 1 (frames 1..16) has the larger error
    frames[17] = 250   # video 1: clip 0 (frames 17..32) has the larger error
    test = video.TestVideos(frames, np.array([0, 17, 35]), np.zeros(35, np.uint8), ["a", "b"], 16, "unit", "t")
    out = video.score_videos(Zero(), test, batch=8, device=torch.device("cpu"))
    assert out.video.tolist() == [0, 0, 1, 1, 1] and out.frame.tolist() == [8, 9, 8, 9, 10]
    assert np.allclose(out.scores, [0.0, 1.0, 1.0, 0.0, 0.0])


def test_pooled_auc_differs_from_the_per_video_mean_and_single_class_videos_are_counted():
    # video 0: scores [0, 1], labels [0, 1]          -> AUC 1
    # video 1: scores [0, 1, .5], labels [0, 0, 1]   -> AUC 0.5
    # video 2: scores [0, 1], labels [0, 0]           -> no AUC: left out, counted
    scores = np.array([0, 1, 0, 1, .5, 0, 1])
    labels = np.array([0, 1, 0, 0, 1, 0, 0])
    vid = np.array([0, 0, 1, 1, 1, 2, 2])
    m = video.metrics(ScoreTable(scores, labels, video=vid), {})
    # pooled, by hand: positives {1, .5} against negatives {0, 0, 1, 0, 1}:
    # 1 beats three and ties two (4); .5 beats three (3): 7 of 10 pairs
    assert m["auc"] == pytest.approx(0.7) == pytest.approx(roc_auc_score(labels, scores))
    assert m["auc_macro"] == pytest.approx(0.75)
    assert m["videos_macro"] == 2 and m["videos_single_class"] == 1


def moving_squares(rng, n_frames, size, anomalous_at=None, kind="object"):
    """Normal: one bright square drifting 1 px per frame, bouncing off the borders, on noise.
    From anomalous_at on for 15 frames: a second square appears ("object") or the square moves
    6 px per frame ("fast"). Returns frames and per-frame labels."""
    frames = rng.integers(0, 30, (n_frames, size, size)).astype(np.uint8)
    labels = np.zeros(n_frames, np.uint8)
    pos, vel = rng.uniform(2, size - 8, 2), rng.choice([-1.0, 1.0], 2)
    for f in range(n_frames):
        odd = anomalous_at is not None and anomalous_at <= f < anomalous_at + 15
        labels[f] = odd
        step = 6.0 if odd and kind == "fast" else 1.0
        pos = pos + vel * step
        for d in range(2):
            if not 0 <= pos[d] <= size - 6:
                vel[d] = -vel[d]
                pos[d] = np.clip(pos[d], 0, size - 6)
        y, x = pos.astype(int)
        frames[f, y:y + 6, x:x + 6] = 220
        if odd and kind == "object":
            frames[f, size - 10:size - 2, 2:10] = 180
    return frames, labels


@pytest.fixture(scope="module")
def synthetic_prepared(tmp_path_factory):
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("video") / "prepared"
    train = [moving_squares(rng, 80, 32) for _ in range(4)]
    write_split(root / "train", [f for f, _ in train], [l for _, l in train])
    test = [moving_squares(rng, 70, 32, anomalous_at=30, kind=k) for k in ("object", "fast", "object", "fast")]
    write_split(root / "test", [f for f, _ in test], [l for _, l in test])
    return root


def test_smoke_memae_detects_new_objects_and_fast_motion(synthetic_prepared, params_dir, tmp_path, monkeypatch):
    ped2 = datasets.spec("ped2")
    monkeypatch.setattr(datasets, "spec", lambda name: ped2)   # the video protocol on these arrays
    params = load_params("ped2", "smoke", params_dir)
    assert params["eval"]["clip_error"] == "official"      # memae scored by the mean |residual|
    run = tmp_path / "run"
    log = train("synthetic_video", synthetic_prepared, "memae", "all", 0, params, run, threads=1)
    assert log["history"][-1]["recon"] < log["history"][0]["recon"]
    # The official L2 error (mean |r| for grayscale) weighs the small bright anomalies of these
    # videos less than the MSE does (measured: AUC 0.74 against 0.97), but still far above an
    # untrained net (about 0.12) and chance.
    official = evaluate("synthetic_video", synthetic_prepared, run, params, threads=1)
    assert official["metrics"]["auc"] > 0.65, official["metrics"]
    params["eval"]["clip_error"] = "mse"
    r = evaluate("synthetic_video", synthetic_prepared, run, params, threads=1)
    s = np.load(run / "scores.npz")
    assert len(s["frame"]) == 4 * (70 - 15) and s["frame"].min() == 8 and s["frame"].max() == 70 - 8
    assert r["metrics"]["auc"] > 0.8, r["metrics"]   # an untrained net scores about 0.12 here
    fast = np.isin(s["video"], [1, 3])                 # fast motion adds no bright pixels
    assert roc_auc_score(s["labels"][fast], s["scores"][fast]) > 0.8
