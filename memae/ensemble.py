"""Training the runs of one dataset x variant in one process (`memae train-group`).

Snakemake runs one `memae train-group` job per dataset x variant for datasets with
`train.group_seeds: true` (KDDCUP99: 20 seeds) instead of one `memae train` job per run. Each run
keeps its own data split, permutation generator, initial weights (drawn after
torch.manual_seed(seed), as memae.train does), Adam state and results folder with the same files
(model.pt, train_log.json, and checkpoint.pt after every epoch, in the same format, so `memae
train` can resume a grouped run and `memae train-group` a single one).

Two modes, both bit-identical to training each run alone on CPU (tests/test_ensemble.py):
- "sequential" (default): the runs one after another with memae.train.train; saves a process start
  (Python, torch and data imports: seconds per job) per run.
- "batched": the runs as one batched ensemble, for MLP networks: every parameter stacked along a
  leading run dimension, pointwise operations, softmax and the backward pass over all runs at once,
  one Adam update (written out as torch.optim.Adam's single-tensor code computes it, with one step
  count per run). Matrix products and full reductions stay one aten call per run on operands of
  the same shape, strides and alignment as a single run's: torch.bmm, and oneDNN/MKL on
  misaligned slices, round some small shapes differently (a 10 -> 3 layer, a short last batch).
  Runs whose epoch has fewer batches, or a shorter last batch, step in a smaller group for those.
  On this project's 2-core CPU it is not faster than one run at a time (KDDCUP99's steps are ~75%
  arithmetic, and the ensemble's activations leave the caches one run fits in:
  benchmarks/bench_group.py), hence not the default.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from .progress import tqdm   # one line per epoch in log files

from . import datasets, protocols
from . import train as train_mod
from .config import digest
from .device import precision, setup
from .layout import resolve_variant, run_config
from .memory import entropy, hard_shrink, l1_normalise
from .models import MemoryParams, ModelParams, build_model
from .runfile import load_run_file

POINTWISE = (nn.Tanh, nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Identity)


def batchable(net: nn.Module) -> bool:
    """True for an MLP autoencoder (Linear layers and pointwise activations, any memory on its
    vector code): the networks this module trains as one batched ensemble."""
    for part in (net.encoder, net.decoder):
        if not isinstance(part, nn.Sequential):
            return False
        if not all(isinstance(m, (nn.Linear, *POINTWISE)) for m in part):
            return False
    return True


def _a(t: torch.Tensor) -> torch.Tensor:
    """t, or a copy of it at a fresh allocation (64-byte aligned) when t is a view that starts
    elsewhere: for small shapes, oneDNN/MKL round a product differently depending on the operands'
    alignment, and memae.train's operands are always fresh allocations."""
    return t if t.data_ptr() % 64 == 0 else t.clone()


class _Linear(torch.autograd.Function):
    """x (R, B, K) @ w (R, N, K)^T [+ b (R, N)]: F.linear of each run, with the backward autograd
    gives F.linear (aten addmm / mm, mm_mat1_backward and mm_mat2_backward for a transposed
    weight). Every product is the torch.addmm / torch.mm of one run, on operands of the same shape,
    strides and alignment as in memae.train: batched matmuls (torch.bmm) round differently for some
    shapes (a 10 -> 3 layer, a short last batch), so they are not used."""

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        ctx.has_bias = b is not None
        runs = range(x.shape[0])
        if b is None:
            return torch.stack([torch.mm(_a(x[r]), _a(w[r]).t()) for r in runs])
        return torch.stack([torch.addmm(_a(b[r]), _a(x[r]), _a(w[r]).t()) for r in runs])

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        runs = range(x.shape[0])
        g = [_a(grad[r].contiguous()) for r in runs]
        gx = torch.stack([g[r].mm(_a(w[r])) for r in runs]) if ctx.needs_input_grad[0] else None
        gw = torch.stack([g[r].t().mm(_a(x[r])) for r in runs]) if ctx.needs_input_grad[1] else None
        gb = torch.stack([g[r].sum(0) for r in runs]) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return gx, gw, gb


class _Read(torch.autograd.Function):
    """w (R, B, N) @ mem (R, N, C): the memory read of each run (aten mm) with mm's backward,
    one torch.mm per run as in _Linear."""

    @staticmethod
    def forward(ctx, w, mem):
        ctx.save_for_backward(w, mem)
        return torch.stack([torch.mm(_a(w[r]), _a(mem[r])) for r in range(w.shape[0])])

    @staticmethod
    def backward(ctx, grad):
        w, mem = ctx.saved_tensors
        runs = range(w.shape[0])
        g = [_a(grad[r].contiguous()) for r in runs]
        gw = torch.stack([g[r].mm(_a(mem[r]).t()) for r in runs]) if ctx.needs_input_grad[0] else None
        gm = torch.stack([_a(w[r]).t().mm(g[r]) for r in runs]) if ctx.needs_input_grad[1] else None
        return gw, gm


def _per_run_mean(t: torch.Tensor) -> torch.Tensor:
    """The mean of each run's slice (a full reduction, as memae.train takes it for one run)."""
    return torch.stack([_a(t[r]).mean() for r in range(t.shape[0])])


class Stacked:
    """The parameters of R networks of one architecture, stacked: leaves[j] has shape (R, *p.shape)
    for the j-th parameter of net.parameters()."""

    def __init__(self, nets: list[nn.Module]):
        self.template = nets[0]
        self.names = [n for n, _ in nets[0].named_parameters()]
        self.index = {id(p): j for j, p in enumerate(nets[0].parameters())}
        with torch.no_grad():
            self.leaves = [torch.stack([dict(net.named_parameters())[n] for net in nets]).requires_grad_()
                           for n in self.names]

    def params(self, sel: torch.Tensor | None) -> list[torch.Tensor]:
        """The stacked parameters of all runs (sel None) or of the runs in `sel`, for autograd."""
        return self.leaves if sel is None else [l.index_select(0, sel) for l in self.leaves]

    def _p(self, P, param):
        return P[self.index[id(param)]]

    def _sequential(self, P, seq: nn.Sequential, h: torch.Tensor) -> torch.Tensor:
        for m in seq:
            if isinstance(m, nn.Linear):
                h = _Linear.apply(h, self._p(P, m.weight),
                                  None if m.bias is None else self._p(P, m.bias))
            else:
                h = m(h)   # pointwise: the same on (R, B, C) as on (B, C)
        return h

    def _memory(self, P, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """memae.memory.Memory.forward for vector codes, run by run: z (R, B, C)."""
        mem_mod = self.template.memory
        mem = self._p(P, mem_mod.weight).to(z.dtype)                      # (R, N, C)
        if mem_mod.addressing == "dot":          # F.linear(queries, mem)
            logits = _Linear.apply(z, mem, None)
        else:
            logits = _Linear.apply(F.normalize(z, dim=-1), F.normalize(mem, dim=-1), None)
        w = torch.softmax(logits.float(), dim=-1)
        if mem_mod.shrink_thres > 0:
            w = l1_normalise(hard_shrink(w, mem_mod.shrink_thres))
        z_hat = _Read.apply(w.to(mem.dtype), mem)
        return z_hat.to(z.dtype), w

    def forward(self, P, x: torch.Tensor):
        """memae.models.AutoEncoder.forward, run by run: x (R, B, D)."""
        z = self._sequential(P, self.template.encoder, x)
        if self.template.memory is None:
            return self._sequential(P, self.template.decoder, z), z, None
        z_hat, w = self._memory(P, z)
        return self._sequential(P, self.template.decoder, z_hat), z, w

    def copy_to(self, nets: list[nn.Module], runs) -> None:
        with torch.no_grad():
            for r in runs:
                named = dict(nets[r].named_parameters())
                for n, leaf in zip(self.names, self.leaves):
                    named[n].copy_(leaf[r])


def loss_terms(stacked: Stacked, P, x: torch.Tensor, variant, loss_params: dict):
    """memae.train.loss_terms for each run: (total loss (R,), reconstruction loss (R,))."""
    x_hat, z, w = stacked.forward(P, x)
    recon = _per_run_mean((x_hat.float() - x.float()) ** 2)
    total = recon
    if variant.entropy and w is not None:
        total = total + loss_params["entropy_weight"] * _per_run_mean(entropy(w))
    if variant.l1:
        total = total + loss_params["l1_weight"] * _per_run_mean(z.float().abs())
    return total, recon


class StackedAdam:
    """torch.optim.Adam (single-tensor path, amsgrad and maximize off) on stacked parameters,
    with one step count per run. The update of run r is computed with the same operations as
    torch.optim.Adam computes it for that run alone; when the updated runs are at different step
    counts, `param.addcdiv_(m, d, value=-s)` (self + (s * m) / d in float32) is written out as those
    three operations with a per-run s."""

    def __init__(self, leaves: list[torch.Tensor], lr: float, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        self.leaves, self.lr, self.betas, self.eps, self.wd = leaves, lr, betas, eps, weight_decay
        self.exp_avg = [torch.zeros_like(l) for l in leaves]
        self.exp_avg_sq = [torch.zeros_like(l) for l in leaves]
        self.steps = [0.0] * leaves[0].shape[0]

    def zero_grad(self) -> None:
        for l in self.leaves:
            l.grad = None

    @torch.no_grad()
    def step(self, sel: torch.Tensor | None) -> None:
        beta1, beta2 = self.betas
        runs = range(len(self.steps)) if sel is None else sel.tolist()
        for r in runs:
            self.steps[r] += 1.0
        steps = [self.steps[r] for r in runs]
        same = all(s == steps[0] for s in steps)
        shape = lambda t: (-1,) + (1,) * (t.dim() - 1)
        for j, leaf in enumerate(self.leaves):
            if sel is None:
                param, grad, m, v = leaf, leaf.grad, self.exp_avg[j], self.exp_avg_sq[j]
            else:
                param, grad = leaf.index_select(0, sel), leaf.grad.index_select(0, sel)
                m, v = self.exp_avg[j].index_select(0, sel), self.exp_avg_sq[j].index_select(0, sel)
            if self.wd != 0:
                grad = grad.add(param, alpha=self.wd)
            m.lerp_(grad, 1 - beta1)
            v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            if same:
                step = steps[0]
                step_size = self.lr / (1 - beta1 ** step)
                denom = (v.sqrt() / (1 - beta2 ** step) ** 0.5).add_(self.eps)
                param.addcdiv_(m, denom, value=-step_size)
            else:
                neg_step = torch.tensor([-(self.lr / (1 - beta1 ** s)) for s in steps], dtype=param.dtype)
                bc2_sqrt = torch.tensor([(1 - beta2 ** s) ** 0.5 for s in steps], dtype=param.dtype)
                denom = (v.sqrt() / bc2_sqrt.view(shape(v))).add_(self.eps)
                upd = neg_step.view(shape(m)) * m
                upd.div_(denom)
                param.add_(upd)
            if sel is not None:
                leaf.index_copy_(0, sel, param)
                self.exp_avg[j].index_copy_(0, sel, m)
                self.exp_avg_sq[j].index_copy_(0, sel, v)

    def run_state(self, r: int, opt: torch.optim.Adam, net: nn.Module, names: list[str]) -> dict:
        """Run r's optimizer state as torch.optim.Adam's state_dict over net.parameters()."""
        named = dict(net.named_parameters())
        opt.state.clear()
        if self.steps[r] > 0:
            for j, n in enumerate(names):
                opt.state[named[n]] = {"step": torch.tensor(self.steps[r]),
                                       "exp_avg": self.exp_avg[j][r].clone(),
                                       "exp_avg_sq": self.exp_avg_sq[j][r].clone()}
        return opt.state_dict()

    def load_run_state(self, r: int, opt: torch.optim.Adam, net: nn.Module, names: list[str],
                       state: dict) -> None:
        opt.load_state_dict(state)
        named = dict(net.named_parameters())
        with torch.no_grad():
            for j, n in enumerate(names):
                s = opt.state.get(named[n])
                if not s:
                    continue
                self.exp_avg[j][r].copy_(s["exp_avg"])
                self.exp_avg_sq[j][r].copy_(s["exp_avg_sq"])
                self.steps[r] = float(s["step"])
        opt.state.clear()


class _Run:
    """One run of the group: its data, generator, network (for saving and validation) and state."""

    def __init__(self, dataset, prepared, variant_name, split, seed, params, out, threads):
        self.split, self.seed, self.out = split, seed, Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.device = setup(threads, seed, params["train"].get("precision"))   # seeds as memae.train
        self.variant, self.params = resolve_variant(variant_name, params)
        protocol = protocols.get(datasets.spec(dataset).protocol)
        self.x_train, self.x_val = protocol.train_data(prepared, split, seed, self.params)
        self.input_shape = list(self.x_train.shape[1:])
        self.net = build_model(ModelParams.parse(self.params["model"], "model."),
                               MemoryParams.parse(self.params["memory"], "memory."), self.variant, self.input_shape)
        self.torch_rng = torch.get_rng_state()
        tp = self.params["train"]
        self.opt = torch.optim.Adam(self.net.parameters(), lr=tp["lr"], weight_decay=tp["weight_decay"])
        self.gen = torch.Generator().manual_seed(seed)
        self.config = run_config(dataset, variant_name, split, seed, self.params)
        self.key = digest(self.config)
        self.data_eval = protocols.train_data_settings(protocol, self.params)
        self.ckpt_key = train_mod.checkpoint_key(self.key, self.data_eval)
        self.ckpt_path = self.out / "checkpoint.pt"
        self.start, self.history, self.elapsed = 0, [], 0.0
        self.n = len(self.x_train)
        if self.n == 0:
            raise train_mod.TrainingError(f"{prepared}: no training samples for split {split}")
        self.per_epoch = min(self.n, tp.get("clips_per_epoch") or self.n)


MODES = ("sequential", "batched")


def train_group(dataset: str, prepared: Path, variant_name: str, runs: list[tuple[str, int, Path]],
                params: dict, threads: int | None = None, mode: str = "sequential") -> list[dict]:
    """Train the runs (split, seed, out folder) of one dataset x variant in this process. Returns
    each run's training log, as memae.train.train would.

    mode "sequential": one run after another with memae.train.train (what `memae train` does,
    without a process start per run). "batched": the runs as one batched ensemble, bit-identical
    on CPU, for MLP networks (others fall back to sequential). On a 2-core CPU the batched form was
    measured slower per run-step than one run at a time (benchmarks/bench_group.py: the ensemble's
    activations leave the caches a single run fits in), so sequential is the default."""
    if mode not in MODES:
        raise ValueError(f"train-group mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not runs:
        return []
    if mode == "sequential":
        return [train_mod.train(dataset, prepared, variant_name, s, k, params, o, threads)
                for s, k, o in runs]
    first = _Run(dataset, prepared, variant_name, runs[0][0], runs[0][1], params, runs[0][2], threads)
    if first.device.type != "cpu" or precision(first.device) != "fp32" or not batchable(first.net):
        # Conv networks, a GPU or bf16 (where the exactness above is not established): one by one.
        return [train_mod.train(dataset, prepared, variant_name, s, k, params, o, threads)
                for s, k, o in runs]
    group = [first] + [_Run(dataset, prepared, variant_name, s, k, params, o, threads) for s, k, o in runs[1:]]
    device = first.device
    tp = first.params["train"]
    batch, epochs = tp["batch_size"], tp["epochs"]
    if any(g.params["train"] != tp for g in group):
        raise ValueError("train-group: the runs of a group must share their training settings")
    stacked = Stacked([g.net for g in group])
    adam = StackedAdam(stacked.leaves, lr=tp["lr"], weight_decay=tp["weight_decay"])
    for r, g in enumerate(group):
        if not g.ckpt_path.exists():
            continue
        ckpt = load_run_file(g.ckpt_path, device)   # tensors and plain values only
        if ckpt.get("config_digest") != g.ckpt_key:
            print(f"{g.ckpt_path} belongs to other settings: starting afresh")
            continue
        g.net.load_state_dict(ckpt["model"])
        adam.load_run_state(r, g.opt, g.net, stacked.names, ckpt["optimizer"])
        g.gen.set_state(ckpt["generator"])
        g.torch_rng = ckpt["torch_rng"]
        g.start, g.history, g.elapsed = ckpt["epoch"] + 1, ckpt["history"], ckpt["elapsed_s"]
        with torch.no_grad():
            for j, n in enumerate(stacked.names):
                stacked.leaves[j][r].copy_(dict(g.net.named_parameters())[n])
        print(f"resuming {g.out} from epoch {g.start}")
    variant, loss_params = first.variant, first.params["loss"]
    first_epoch = min(g.start for g in group)
    bar = tqdm(range(first_epoch, epochs), desc=f"train-group {dataset}/{variant_name} x{len(group)}",
               unit="epoch", initial=first_epoch, total=epochs)
    for epoch in bar:
        t0 = time.perf_counter()
        active = [r for r, g in enumerate(group) if g.start <= epoch]
        perms = {r: torch.randperm(group[r].n, generator=group[r].gen)[:group[r].per_epoch] for r in active}
        sums = {r: [0.0, 0.0] for r in active}
        steps = max(math.ceil(group[r].per_epoch / batch) for r in active)
        for b in range(steps):
            # runs with a batch at this step, grouped by its length (the last batch may be shorter)
            by_len: dict[int, list[int]] = {}
            for r in active:
                i = b * batch
                if i < group[r].per_epoch:
                    by_len.setdefault(min(batch, group[r].per_epoch - i), []).append(r)
            for length, members in by_len.items():
                sel = None if len(members) == len(group) else torch.tensor(members)
                i = b * batch
                xb = torch.stack([group[r].x_train[perms[r][i:i + batch]] for r in members])
                P = stacked.params(sel)
                loss, recon = loss_terms(stacked, P, xb, variant, loss_params)
                values = torch.stack([loss.detach(), recon.detach()]).tolist()
                for k, r in enumerate(members):
                    if not math.isfinite(values[0][k]):
                        raise train_mod.TrainingError(
                            f"loss became {values[0][k]} at epoch {epoch + 1}, batch {b + 1} of run "
                            f"{group[r].out}; lower train.lr in params/{dataset}.yaml or check the "
                            "prepared data")
                adam.zero_grad()
                loss.sum().backward()
                adam.step(sel)
                for k, r in enumerate(members):
                    sums[r][0] += values[0][k] * length
                    sums[r][1] += values[1][k] * length
        stacked.copy_to([g.net for g in group], active)
        share = (time.perf_counter() - t0) / len(active)   # the epoch's time, shared between its runs
        for r in active:
            g = group[r]
            t1 = time.perf_counter()
            val = train_mod._val_loss(g.net, g.x_val, batch, device)
            g.elapsed += share + time.perf_counter() - t1
            g.history.append({"epoch": epoch + 1, "loss": sums[r][0] / g.per_epoch,
                              "recon": sums[r][1] / g.per_epoch, "val_recon": val})
            train_mod._save_atomic({"config_digest": g.ckpt_key, "epoch": epoch, "model": g.net.state_dict(),
                                    "optimizer": adam.run_state(r, g.opt, g.net, stacked.names),
                                    "generator": g.gen.get_state(), "torch_rng": g.torch_rng,
                                    "history": g.history, "elapsed_s": g.elapsed}, g.ckpt_path)
        vals = [group[r].history[-1]["val_recon"] for r in active]
        vals = [v for v in vals if v is not None]   # None: nothing held out
        bar.set_postfix(val=f"{np.mean(vals):.4g}" if vals else "none held out")
    logs = [train_mod.finish_run(g.out, g.net, g.config, g.key, g.input_shape, g.history, g.elapsed,
                                 device, g.n, g.per_epoch, len(g.x_val), epochs, remove_checkpoint=False,
                                 train_data_eval=g.data_eval)
            for g in group]
    # Only now that every run is written: an interruption before this point resumes every run.
    for g in group:
        g.ckpt_path.unlink(missing_ok=True)
    return logs
