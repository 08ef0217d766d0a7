import math

import pytest
import torch

from memae.memory import Memory, entropy, hard_shrink, l1_normalise


def test_hard_shrink_matches_hand_computation():
    w = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    lam = 0.1
    # max(w - lam, 0) * w / (|w - lam| + eps): w where w > lam, 0 elsewhere
    out = hard_shrink(w, lam)
    expected = torch.tensor([[0.5, 0.3, 0.15, 0.0]])
    assert torch.allclose(out, expected, atol=1e-6)
    renorm = l1_normalise(out)
    assert torch.allclose(renorm, torch.tensor([[0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0.0]]), atol=1e-6)


def test_hard_shrink_at_threshold_is_zero_and_eps_prevents_nan():
    w = torch.tensor([[0.1, 0.9]])
    out = hard_shrink(w, 0.1)
    assert out[0, 0] == 0 and not torch.isnan(out).any()
    assert out[0, 1] == pytest.approx(0.9)


def test_entropy_of_known_distributions():
    assert float(entropy(torch.tensor([0.5, 0.5]))) == pytest.approx(math.log(2), abs=1e-6)
    assert float(entropy(torch.tensor([1.0, 0.0, 0.0]))) == pytest.approx(0.0, abs=1e-6)
    assert float(entropy(torch.full((4,), 0.25))) == pytest.approx(math.log(4), abs=1e-6)


def test_addressing_shapes_and_rows_sum_to_one_on_2d_features():
    torch.manual_seed(0)
    mem = Memory(num_items=10, dim=8, shrink_thres=0.05)
    z = torch.randn(3, 8, 4, 5)
    z_hat, w = mem(z)
    assert z_hat.shape == z.shape
    assert w.shape == (3 * 4 * 5, 10)
    assert torch.allclose(w.sum(dim=1), torch.ones(60), atol=1e-5)


def test_memory_on_feature_map_equals_position_by_position():
    torch.manual_seed(1)
    mem = Memory(num_items=6, dim=4, shrink_thres=0.1)
    z = torch.randn(2, 4, 3, 3)
    z_hat, _ = mem(z)
    M = mem.weight.detach()
    for b in range(2):
        for i in range(3):
            for j in range(3):
                q = z[b, :, i, j]
                w = torch.softmax(M @ q, dim=0)
                w = torch.clamp(w - 0.1, min=0) * w / ((w - 0.1).abs() + 1e-12)
                w = w / w.sum().clamp_min(1e-12)
                assert torch.allclose(z_hat[b, :, i, j], w @ M, atol=1e-5)


def test_no_shrinkage_keeps_dense_softmax():
    torch.manual_seed(2)
    mem = Memory(num_items=5, dim=3, shrink_thres=0.0)
    q = torch.randn(4, 3)
    w = mem.address(q)
    assert torch.allclose(w, torch.softmax(q @ mem.weight.detach().T, dim=1), atol=1e-6)
    assert (w > 0).all()


def test_cosine_addressing_is_scale_invariant_and_dot_is_not():
    torch.manual_seed(3)
    cos = Memory(num_items=7, dim=5, addressing="cosine")
    q = torch.randn(2, 5)
    assert torch.allclose(cos.address(q), cos.address(10 * q), atol=1e-6)
    dot = Memory(num_items=7, dim=5, addressing="dot")
    dot.weight.data.copy_(cos.weight.data)
    assert not torch.allclose(dot.address(q), dot.address(10 * q), atol=1e-3)


def test_unknown_addressing_is_refused():
    with pytest.raises(ValueError, match="addressing"):
        Memory(4, 2, addressing="euclid")
