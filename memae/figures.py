"""The report's figures, drawn with matplotlib (Agg) from the per-run files and embedded as base64
PNG, so the report stays one self-contained file. Each function returns a Figure: an image, or the
reason there is none (a placeholder in the report)."""
from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator, NullLocator  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from . import datasets  # noqa: E402
from . import results as results_file  # noqa: E402
from .layout import run_dir  # noqa: E402
from .roc import FPR_GRID, load_scores, runs_tpr  # noqa: E402,F401 (load_scores: the report's and tests' reader)
from .variants import VARIANTS  # noqa: E402

TITLES = {"roc": "ROC curves", "loss": "Training curves", "regularity": "Regularity over time",
          "prototypes": "Memory items decoded"}


@dataclass
class Figure:
    title: str
    caption: str = ""
    uri: str | None = None        # data:image/png;base64,...
    missing: str | None = None    # why there is no image


def _embed(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _runs(results: Path, metrics: dict, variant: str):
    for split in metrics["splits"]:
        for seed in metrics["seeds"]:
            yield split, seed, run_dir(results, metrics["dataset"], variant, split, seed)


def _label(variant: str) -> str:
    return VARIANTS[variant].label if variant in VARIANTS else variant


def roc_points(score_files: list[Path]) -> tuple[list[np.ndarray], list[float]]:
    """Each run's TPR at the FPRs of FPR_GRID (memae.roc, the curve the ROC points file of a
    dataset's variant averages) and its AUC, for the scores.npz files given that exist and hold
    both classes."""
    runs = runs_tpr(score_files)
    return [t for t, _ in runs], [roc_auc_score(s["labels"], s["scores"]) for _, s in runs]


def _tracked_roc(results: Path, dataset: str, variant: str) -> list[dict]:
    path = results_file.roc_path(results, dataset, variant)
    if not path.exists():
        return []
    rows = json.loads(path.read_text())
    return rows if isinstance(rows, list) and rows and all({"fpr", "tpr"} <= set(r) for r in rows) else []


def roc_curves(results: Path, metrics: dict) -> Figure:
    """One curve per variant: TPR averaged over the dataset's runs (classes and seeds) at fixed FPRs."""
    ds = metrics["dataset"]
    fig = Figure(f"{TITLES['roc']}, {ds}", "True-positive rate averaged over runs (every class and seed) "
                 "at each false-positive rate; the legend gives the mean AUC of those runs.")
    ax, tracked = None, []
    for variant in metrics["variants"]:
        tprs, aucs = roc_points([d / "scores.npz" for _, _, d in _runs(results, metrics, variant)])
        if tprs:
            xs, ys, label = FPR_GRID, np.mean(tprs, axis=0), f"AUC {np.mean(aucs):.3f} ({len(tprs)} runs)"
        else:   # no run's scores here (a fresh clone): the tracked ROC points of the same runs
            rows = _tracked_roc(results, ds, variant)
            if not rows:
                continue
            auc = metrics["variants"][variant].get("auc", {}).get("mean")
            xs, ys = [r["fpr"] for r in rows], [r["tpr"] for r in rows]
            label = (f"AUC {auc:.3f}, " if auc is not None else "") + "tracked ROC points"
            tracked.append(variant)
        if ax is None:
            f, ax = plt.subplots(figsize=(4.6, 4.2))
            ax.plot([0, 1], [0, 1], color="0.75", lw=0.8, ls=":")
        ax.plot(xs, ys, label=f"{_label(variant)}: {label}")
    if ax is None:
        fig.missing = (f"no scores.npz with both classes under {results}/{ds}, and no ROC points in "
                       f"{results_file.roc_path(results, ds, '<variant>')}")
        return fig
    if tracked:
        fig.caption += (f" Drawn from {results_file.roc_path(results, ds, '<variant>')} (the same average, "
                        f"tracked in git) for {', '.join(_label(v) for v in tracked)}: their runs' scores are "
                        "not in this checkout; the legend's AUC is the mean in the dataset's metrics.json.")
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate", xlim=(0, 1), ylim=(0, 1.01), title=ds)
    ax.legend(loc="lower right", fontsize=8)
    fig.uri = _embed(f)
    return fig


def loss_curves(results: Path, metrics: dict) -> Figure:
    """Training loss and validation reconstruction error per epoch, mean over each variant's runs."""
    ds = metrics["dataset"]
    fig = Figure(f"{TITLES['loss']}, {ds}", "Mean over each variant's runs (classes and seeds): training "
                 "loss (reconstruction plus the variant's regulariser) and the reconstruction error "
                 "on held-out normal training data.")
    f, (a1, a2) = plt.subplots(1, 2, figsize=(8.4, 3.2))
    drawn = False
    for variant in metrics["variants"]:
        hist = []
        for _, _, d in _runs(results, metrics, variant):
            try:
                hist.append(json.loads((d / "train_log.json").read_text())["history"])
            except (OSError, ValueError, KeyError):
                continue
        hist = [h for h in hist if h]
        if not hist:
            continue
        n = min(len(h) for h in hist)
        epochs = np.arange(1, n + 1)
        for ax, key in ((a1, "loss"), (a2, "val_recon")):
            # val_recon is None in a run that held nothing out (train.val_fraction 0): no curve
            rows = [[e[key] for e in h[:n]] for h in hist if all(e[key] is not None for e in h[:n])]
            if rows:
                ax.plot(epochs, np.mean(rows, axis=0), marker=".", label=f"{_label(variant)} ({len(rows)} runs)")
        drawn = True
    if not drawn:
        plt.close(f)
        fig.missing = f"no train_log.json under {results}/{ds}"
        return fig
    for ax, what in ((a1, "training loss"), (a2, "validation MSE")):
        if not ax.get_lines():
            ax.set(xlabel="epoch", title=f"{ds}: no {what} (nothing held out)")
            continue
        ys = np.concatenate([line.get_ydata() for line in ax.get_lines()])
        ax.set(xlabel="epoch", ylabel=what, title=f"{ds}: {what}",
               yscale="log" if (ys > 0).all() else "linear")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    a1.legend(fontsize=8)
    fig.uri = _embed(f)
    return fig


def _spans(mask: np.ndarray):
    """(start, stop) index pairs of the runs of True in mask."""
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1))


def regularity(results: Path, metrics: dict, max_videos: int = 3) -> Figure:
    """Regularity score over time for a few test videos of one run, anomalous frames shaded."""
    ds = metrics["dataset"]
    variant = "memae" if "memae" in metrics["variants"] else next(iter(metrics["variants"]))
    split, seed = metrics["splits"][0], metrics["seeds"][0]
    path = run_dir(results, ds, variant, split, seed) / "scores.npz"
    fig = Figure(f"{TITLES['regularity']}, {ds}",
                 f"{_label(variant)}, seed {seed}: regularity s = 1 - (e - min e) / (max e - min e) "
                 "per video; shaded: frames labelled anomalous.")
    if not path.exists():
        fig.missing = f"{path} not found"
        return fig
    s = load_scores(path)
    if "video" not in s:
        fig.missing = f"{path} has no per-frame video index ('video'): not a video run"
        return fig
    videos = [v for v in np.unique(s["video"]) if s["labels"][s["video"] == v].any()] or list(np.unique(s["video"]))
    videos = videos[:max_videos]
    f, axes = plt.subplots(len(videos), 1, figsize=(8.4, 1.9 * len(videos)), squeeze=False)
    for ax, v in zip(axes[:, 0], videos):
        m = s["video"] == v
        frames = s["frame"][m] if "frame" in s else np.arange(m.sum())
        for a, b in _spans(s["labels"][m] == 1):
            ax.axvspan(frames[a], frames[b - 1], color="tab:red", alpha=0.2, lw=0)
        ax.plot(frames, 1.0 - s["scores"][m], color="tab:blue", lw=1)
        name = s["names"][v] if "names" in s and v < len(s["names"]) else int(v)
        ax.set(ylim=(-0.02, 1.02), ylabel="regularity", title=f"test video {name}")
    axes[-1, 0].set_xlabel("frame")
    f.tight_layout()
    fig.uri = _embed(f)
    return fig


def memory_sweep(path: Path, dataset: str = "ped2") -> Figure:
    """AUC against memory size N, from results/<dataset>/sweep/metrics.json:
    {"points": [{"num_items": N, "auc": x, "auc_macro": y}, ...]} (memae.aggregate.aggregate_sweep)."""
    fig = Figure(f"Memory size, {dataset}", "Frame-level AUC (micro: all test frames pooled; macro: "
                 "mean over test videos) of MemAE for several memory sizes N.")
    try:
        points = sorted(json.loads(Path(path).read_text())["points"], key=lambda p: p["num_items"])
    except FileNotFoundError:
        fig.missing = f"{path} not found: the memory-size sweep was not run"
        return fig
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: expected {{\"points\": [{{\"num_items\": N, \"auc\": x}}, ...]}} ({e})") from None
    f, ax = plt.subplots(figsize=(4.6, 3.2))
    n = [p["num_items"] for p in points]
    for key, name in (("auc", "AUC (micro)"), ("auc_macro", "AUC (macro)")):
        if all(key in p for p in points):
            ax.plot(n, [p[key] for p in points], marker="o", label=name)
    ax.set(xscale="log", xlabel="memory size N", ylabel="AUC", title=f"{dataset}: memory size")
    ax.set_xticks(n, [str(x) for x in n])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.legend(fontsize=8)
    fig.uri = _embed(f)
    return fig


def decode_memory(model_path: Path, items: int):
    """Decoder output for the first `items` memory items of a saved MemAE run, as images in [0, 1]
    (n, H, W, C), plus the number of items in the memory. Image-granularity memory: an item is a
    whole code; position granularity: the item is tiled over every position of the code."""
    import torch

    from .evaluate import load_trained
    net, saved = load_trained(model_path)
    cfg = saved["config"]
    if net.memory is None:
        raise ValueError(f"{model_path}: variant {cfg['variant']} has no memory to decode")
    with torch.no_grad():
        code = net.encoder(torch.zeros(1, *saved["input_shape"])).shape[1:]
        mem = net.memory.weight[:items]
        if cfg["memory"]["granularity"] == "image":
            z = mem.view(len(mem), *code)
        else:
            z = mem.view(len(mem), code[0], *[1] * (len(code) - 1)).expand(len(mem), *code)
        x = net.decoder(z).float().numpy()
    if cfg["data"].get("scale") == "symmetric":
        x = (x + 1.0) / 2.0
    return np.clip(x, 0.0, 1.0).transpose(0, 2, 3, 1), net.memory.num_items


def memory_prototypes(results: Path, metrics: dict, items: int = 16) -> Figure:
    """What the decoder makes of memory items: one row per class, from the MemAE run of each class."""
    ds = metrics["dataset"]
    fig = Figure(f"{TITLES['prototypes']}, {ds}")
    if "memae" not in metrics["variants"]:
        fig.missing = f"no memae runs for {ds}"
        return fig
    seed = metrics["seeds"][0]
    rows, total = [], None
    for split in metrics["splits"]:
        path = run_dir(results, ds, "memae", split, seed) / "model.pt"
        if path.exists():
            images, total = decode_memory(path, items)
            rows.append((split, images))
    if not rows:
        fig.missing = f"no memae model.pt under {results}/{ds}"
        return fig
    cols = len(rows[0][1])
    f, axes = plt.subplots(len(rows), cols, figsize=(0.6 * cols, 0.66 * len(rows)), squeeze=False)
    for r, (split, images) in enumerate(rows):
        for c in range(cols):
            ax = axes[r, c]
            ax.set_axis_off()
            if c < len(images):
                img = images[c]
                ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
        axes[r, 0].text(-0.15, 0.5, split, transform=axes[r, 0].transAxes, ha="right", va="center", fontsize=8)
    f.subplots_adjust(wspace=0.05, hspace=0.05, left=0.08)
    fig.caption = (f"Each row: the MemAE model trained on one class (seed {seed}); the decoder's output "
                   f"for the first {cols} of its {total} memory items (the paper's picture of "
                   "memorised prototypes).")
    fig.uri = _embed(f)
    return fig


MAKERS = {"roc": roc_curves, "loss": loss_curves, "regularity": regularity,
          "prototypes": memory_prototypes}


def figure_kinds(dataset: str) -> list[str]:
    """The figures of a dataset: its spec's (memae.datasets, by kind)."""
    return list(datasets.figure_kinds(dataset))


def dataset_figures(results: Path, metrics: dict) -> list[Figure]:
    return [MAKERS[k](results, metrics) for k in figure_kinds(metrics["dataset"])]
