"""Precision settings (memae/device.py): detection of native bf16, what each setting resolves to,
and that float32 stays the plain path."""
import pytest
import torch

from memae import device as dev
from memae.layout import run_config
from memae.models import build_model
from memae.variants import get_variant

AVX2 = "processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2 fma\n"
AMX = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512bw amx_tile amx_bf16 amx_int8\n"
AVX512BF16 = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n"


def test_native_bf16_is_read_from_cpu_flags():
    assert not dev.cpu_has_native_bf16(AVX2)
    assert dev.cpu_has_native_bf16(AMX)
    assert dev.cpu_has_native_bf16(AVX512BF16)
    # avx512bw alone emulates bf16: not native
    assert not dev.cpu_has_native_bf16("flags\t: avx512f avx512bw\n")


@pytest.mark.parametrize("setting,native,want", [
    (None, True, "fp32"),       # not set: a CPU stays in float32, as every run so far
    ("fp32", True, "fp32"),
    ("bf16", False, "bf16"),
    ("auto", True, "bf16"),
    ("auto", False, "fp32"),
])
def test_cpu_precision(setting, native, want):
    assert dev.resolve_precision(setting, torch.device("cpu"), native_bf16=native) == want


@pytest.mark.parametrize("setting,want", [(None, "bf16"), ("auto", "bf16"), ("bf16", "bf16"), ("fp32", "fp32")])
def test_cuda_precision(setting, want):
    assert dev.resolve_precision(setting, torch.device("cuda"), native_bf16=False) == want


def test_unknown_precision_is_an_error():
    with pytest.raises(ValueError, match="train.precision must be one of auto, fp32, bf16"):
        dev.resolve_precision("fp16", torch.device("cpu"))


def test_autocast_follows_the_setting_on_cpu():
    a, b = torch.randn(4, 8), torch.randn(8, 3)
    device = dev.setup(None, 0, None)
    with dev.autocast(device):
        assert (a @ b).dtype == torch.float32
    assert dev.describe(device).endswith("threads)")
    device = dev.setup(None, 0, "bf16")
    with dev.autocast(device):
        assert (a @ b).dtype == torch.bfloat16
    assert "bf16 autocast" in dev.describe(device)
    dev.setup(None, 0, None)


def test_channels_last_only_for_bf16_conv3d():
    params = {"kind": "conv", "channels": [4, 8], "kernels": [3, 3], "strides": [[1, 2, 2], [2, 2, 2]],
              "activation": "leaky_relu", "output_activation": "none"}
    memory = {"num_items": 5, "shrink_thres": 0.0, "addressing": "dot", "granularity": "position"}
    net = build_model(params, memory, get_variant("memae"), [1, 4, 16, 16])
    conv = net.encoder[3]    # 4 -> 8 channels (with one input channel both layouts coincide)
    device = dev.setup(None, 0, "fp32")
    assert dev.set_memory_format(net, device) is net and conv.weight.is_contiguous()
    device = dev.setup(None, 0, "bf16")
    dev.set_memory_format(net, device)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last_3d)
    assert not conv.weight.is_contiguous()
    dev.setup(None, 0, None)


def test_precision_is_part_of_a_runs_settings(params_dir):
    from memae.config import load_params
    p = load_params("kddcup99", "smoke", params_dir)
    before = run_config("kddcup99", "ae", "all", 0, p)
    p["train"]["precision"] = "bf16"
    assert run_config("kddcup99", "ae", "all", 0, p) != before
    p["train"]["group_seeds"] = True   # how runs are executed is not
    p2 = dict(p, train={k: v for k, v in p["train"].items() if k != "group_seeds"})
    assert run_config("kddcup99", "ae", "all", 0, p) == run_config("kddcup99", "ae", "all", 0, p2)


def test_cpu_setup_is_deterministic_without_loading_the_compiler():
    """setup() on a CPU turns on PyTorch's deterministic algorithms for eager code, as
    torch.use_deterministic_algorithms(True) does, without that function's import of
    torch._inductor.config (about 1.5 s of every scoring job; no run compiles)."""
    import subprocess
    import sys
    code = ("import sys, torch\n"
            "from memae import device\n"
            "assert not torch.are_deterministic_algorithms_enabled()\n"
            "device.setup(1, 0)\n"
            "assert torch.are_deterministic_algorithms_enabled()\n"
            "assert not torch.is_deterministic_algorithms_warn_only_enabled()\n"
            "print('torch._inductor.config' in sys.modules)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**__import__("os").environ, "CUDA_VISIBLE_DEVICES": ""})
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "False"
