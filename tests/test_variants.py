import torch

from memae.models import build_model
from memae.train import loss_terms
from memae.variants import VARIANTS

MODEL = dict(kind="conv", channels=[4, 8], kernels=[3, 3], strides=[2, 2], activation="relu",
             output_activation="sigmoid", init="official")
MEMORY = dict(num_items=10, shrink_thres=0.1, addressing="dot", granularity="position")
LOSS = dict(entropy_weight=0.5, l1_weight=0.5)


def build(name):
    torch.manual_seed(0)
    return build_model(MODEL, MEMORY, VARIANTS[name], [1, 12, 12])


def test_only_memory_variants_have_a_memory_and_only_memae_shrinks():
    assert build("ae").memory is None and build("ae_l1").memory is None
    assert build("memae_nonspar").memory.shrink_thres == 0.0
    assert build("memae").memory.shrink_thres == 0.1
    assert build("memae_noshrink").memory.shrink_thres == 0.0
    assert build("memae_noentropy").memory.shrink_thres == 0.1


def test_parameters_differ_only_by_the_memory():
    ae, mem = build("ae"), build("memae")
    names_ae = {n for n, _ in ae.named_parameters()}
    names_mem = {n for n, _ in mem.named_parameters()}
    assert names_mem - names_ae == {"memory.weight"}
    assert names_ae <= names_mem
    # same seed, same init order: encoder and decoder start identical
    for n, p in ae.named_parameters():
        assert torch.equal(p, dict(mem.named_parameters())[n])


def test_loss_terms_switch_with_the_variant():
    x = torch.rand(2, 1, 12, 12)
    for name, extra in [("ae", False), ("memae_nonspar", False), ("memae", True),
                        ("memae_noentropy", False), ("memae_noshrink", True), ("ae_l1", True)]:
        net = build(name)
        total, recon = loss_terms(net, x, VARIANTS[name], LOSS)
        assert (float(total.detach()) > float(recon.detach())) == extra, name


def test_conv_shapes_mirror_for_odd_sizes():
    torch.manual_seed(0)
    net = build_model({**MODEL, "channels": [16, 32, 64], "kernels": [3, 3, 3], "strides": [2, 2, 2]},
                      MEMORY, VARIANTS["memae"], [1, 28, 28])
    x_hat, z, w = net(torch.rand(3, 1, 28, 28))
    assert x_hat.shape == (3, 1, 28, 28) and z.shape == (3, 64, 4, 4) and w.shape == (48, 10)


def test_image_granularity_makes_one_query_per_sample():
    torch.manual_seed(0)
    net = build_model(MODEL, {**MEMORY, "granularity": "image"}, VARIANTS["memae"], [1, 12, 12])
    x_hat, z, w = net(torch.rand(5, 1, 12, 12))
    assert w.shape == (5, 10) and net.memory.dim == 8 * 3 * 3
