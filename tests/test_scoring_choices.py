"""The two clip errors of the official test script, and the two readings of DAGMM's threshold,
checked on made-up cases whose answers are computed by hand."""
import numpy as np
import pytest
import torch

from memae.protocols import ScoreTable, records
from memae.protocols.video import clip_error, clip_error_kind


def _clip(residual: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_hat, x) of one clip (1, C, T, H, W) whose residual x_hat - x is `residual`."""
    x = torch.zeros((1, *residual.shape))
    return x + torch.from_numpy(residual).float(), x


def test_mse_and_l2_rank_two_clips_in_opposite_orders():
    # Clip A: residual 0.1 on every pixel. MSE = 0.01, mean |r| = 0.1.
    a = np.full((1, 4, 10, 10), 0.1)
    # Clip B: residual 1.0 on 2% of the pixels (8 of 400), 0 elsewhere. MSE = 0.02, mean |r| = 0.02.
    b = np.zeros((1, 4, 10, 10))
    b.reshape(-1)[:8] = 1.0
    mse = [float(clip_error(*_clip(r), "mse")) for r in (a, b)]
    l2 = [float(clip_error(*_clip(r), "l2")) for r in (a, b)]
    assert mse == pytest.approx([0.01, 0.02])
    assert l2 == pytest.approx([0.1, 0.02])
    assert mse[1] > mse[0] and l2[0] > l2[1]   # the two errors disagree on which clip is worse


def test_l2_is_the_channel_norm_averaged_over_pixels():
    # Two channels, residual (3, 4) at every pixel of the first frame and (0, 0) on the second:
    # sqrt(3^2 + 4^2) = 5 on half the pixels -> mean 2.5; the MSE is (9 + 16) / 2 / 2 = 6.25.
    r = np.zeros((2, 2, 3, 3))
    r[0, 0], r[1, 0] = 3.0, 4.0
    assert float(clip_error(*_clip(r), "l2")) == pytest.approx(2.5)
    assert float(clip_error(*_clip(r), "mse")) == pytest.approx(6.25)


def test_official_setting_scores_memory_variants_by_l2_and_the_ae_by_mse():
    assert clip_error_kind("official", has_memory=True) == "l2"
    assert clip_error_kind("official", has_memory=False) == "mse"
    assert clip_error_kind("mse", has_memory=True) == "mse"
    assert clip_error_kind("l2", has_memory=False) == "l2"
    with pytest.raises(ValueError, match="clip_error"):
        clip_error(*_clip(np.zeros((1, 1, 2, 2))), "official")


def _params(population):
    return {"eval": {"threshold_top_fraction": 0.2, "threshold_population": population}}


def test_threshold_over_test_scores_flags_the_top_fifth_of_the_test_set():
    scores = np.arange(10, dtype=float)            # 0..9: the two highest (8, 9) are flagged
    labels = np.array([0] * 7 + [1] * 3)           # 7, 8, 9 are anomalies
    m = records.metrics(ScoreTable(scores, labels), _params("test"))
    assert m["precision"] == pytest.approx(1.0)
    assert m["recall"] == pytest.approx(2 / 3)


def test_threshold_over_train_and_test_scores_uses_the_pooled_80th_percentile():
    scores = np.arange(10, dtype=float)
    labels = np.array([0] * 7 + [1] * 3)
    # Ten low training scores pull the pooled 80th percentile down: pooled = 10 zeros + 0..9,
    # numpy's linear 80th percentile of those 20 values is 5.2, so 6, 7, 8, 9 are flagged.
    train = np.zeros(10)
    m = records.metrics(ScoreTable(scores, labels, reference_scores=train), _params("train_test"))
    assert m["precision"] == pytest.approx(3 / 4)
    assert m["recall"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="training records"):
        records.metrics(ScoreTable(scores, labels), _params("train_test"))
