"""Protocols by role: one interface and one score table for images, records and video; dataset
modules below them keep files, parsers, labels and preparation, and never import upward."""
import ast
from pathlib import Path

import numpy as np
import pytest
import torch

from memae import datasets, protocols
from memae.protocols import ScoreTable, oneclass, records, video

PACKAGE = Path(protocols.__file__).resolve().parent.parent
INTERFACE = ("train_data", "test_data", "score", "metrics")


class Zero(torch.nn.Module):
    """Reconstructs everything as 0: a sample's MSE is the mean of its squared values."""

    def forward(self, x):
        return torch.zeros_like(x), None, None


def _imports(path: Path) -> set[str]:
    """Absolute names of the modules a file imports (relative imports resolved)."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = parts if path.name == "__init__.py" else parts[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            names.add(mod)
            names.update(f"{mod}.{a.name}" for a in node.names)
    return names


def test_every_registered_dataset_has_a_protocol_with_the_whole_interface():
    roles = {spec.protocol for spec in datasets.SPECS.values()}
    assert roles == {"oneclass", "records", "video"}
    for role in roles:
        module = protocols.get(role)
        assert module.__name__ == f"memae.protocols.{role}"
        assert all(callable(getattr(module, f, None)) for f in INTERFACE), role
    with pytest.raises(ValueError, match="oneclass, records, video"):
        protocols.get("tabular")


# What memae.data.* may import from above memae.data: the registry (memae.datasets: each dataset's
# files and checksums, read by fetch, archive, sources and the synthetic mirrors) and the layout
# (memae.layout: where a fetched file's stamp goes). Both are torch-free tables and names that the
# workflow reads at parse time, and neither imports a protocol, a model or the training stack, so
# fetching and preparing data never load them. Anything else above (protocols, train, evaluate,
# config, report, ...) is an upward import.
DATA_MAY_IMPORT_FROM_ABOVE = {"memae.datasets", "memae.layout"}


def _modules_imported(path: Path, text: str | None = None) -> set[str]:
    """The memae modules (or the package itself) a file imports (`text`: as if the file held it):
    `from X import a` is X.a where a is a module of its own, else X."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = parts if path.name == "__init__.py" else parts[:-1]
    mods = set()
    for node in ast.walk(ast.parse(path.read_text() if text is None else text)):
        if isinstance(node, ast.Import):
            mods.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            for a in node.names:
                sub = PACKAGE.parent.joinpath(*f"{mod}.{a.name}".split("."))
                mods.add(f"{mod}.{a.name}" if sub.with_suffix(".py").is_file() or sub.is_dir() else mod)
    return {m for m in mods if m == "memae" or m.startswith("memae.")}


def _above_data(mods: set[str]) -> set[str]:
    return {m for m in mods if m != "memae.data" and not m.startswith("memae.data.")}


def test_dataset_modules_import_only_the_registry_and_the_layout_from_above():
    files = sorted((PACKAGE / "data").glob("*.py"))
    assert len(files) > 10
    for f in files:
        bad = sorted(_above_data(_modules_imported(f)) - DATA_MAY_IMPORT_FROM_ABOVE)
        assert not bad, f"{f.name} imports {bad} (memae.data.* may import only {sorted(DATA_MAY_IMPORT_FROM_ABOVE)})"
        assert "noqa: F401" not in f.read_text(), f.name
    for spec in datasets.SPECS.values():   # files, parsers, labels and prepare(); no protocol function
        module = spec.load()
        assert callable(module.prepare)
        assert not any(hasattr(module, name) for name in INTERFACE), spec.name
    # the two it may import stay torch-free and import no protocol, model or training code
    # (test_registry.py imports them, and the rest of the workflow's modules, with torch absent)
    for mod in DATA_MAY_IMPORT_FROM_ABOVE:
        path = PACKAGE / f"{mod.split('.')[1]}.py"
        assert not [n for n in _imports(path) if n.split(".")[0] == "torch"], mod
        assert not {m for m in _modules_imported(path) if m.startswith(
            ("memae.protocols", "memae.train", "memae.evaluate", "memae.ensemble", "memae.models"))}, mod


def test_the_upward_import_rule_catches_what_it_should():
    where = PACKAGE / "data" / "probe.py"   # read as if it were a module of memae.data
    cases = {"from ..datasets import SPECS\nfrom ..layout import stamp_path\nfrom . import arrays\n": set(),
             "from .. import datasets\nimport memae.data.frames\n": set(),
             "from ..config import load_params\n": {"memae.config"},
             "from .. import report\n": {"memae.report"},
             "from ..protocols import oneclass\n": {"memae.protocols.oneclass"},
             "import memae.train\n": {"memae.train"},
             "def f():\n    from ..evaluate import evaluate\n": {"memae.evaluate"}}
    for text, want in cases.items():
        assert _above_data(_modules_imported(where, text)) - DATA_MAY_IMPORT_FROM_ABOVE == want, text


def _images(tmp_path):
    """A prepared one-class set: 4 test images per class 0..2, image i of the test set filled with i."""
    y = np.repeat(np.arange(3), 4)
    np.save(tmp_path / "test_labels.npy", y)
    np.save(tmp_path / "test_images.npy", np.arange(12, dtype=np.uint8)[:, None, None] * np.ones((1, 2, 2), np.uint8))
    return {"eval": {"anomaly_fraction": None, "batch_size": 5}, "data": {"scale": "unit"}}


def test_oneclass_scores_are_each_images_mse_in_a_score_table(tmp_path):
    params = _images(tmp_path)
    test = oneclass.test_data(tmp_path, "class1", 0, params)
    table = oneclass.score(Zero(), test, params, None, torch.device("cpu"))
    # class 1 (images 4..7) normal first, then the anomalies 0..3 and 8..11; the zero net's MSE
    # of an image filled with v/255 is (v/255)^2
    order = [4, 5, 6, 7, 0, 1, 2, 3, 8, 9, 10, 11]
    assert np.allclose(table.scores, [(v / 255) ** 2 for v in order], rtol=1e-6)
    assert table.labels.tolist() == [0] * 4 + [1] * 8
    assert table.scores.dtype == np.float32 and table.labels.dtype == np.int8
    assert list(table.columns()) == ["scores", "labels"]
    # anomalies score on both sides of the normal class: AUC = P(anomaly > normal) = 4 / 8
    assert oneclass.metrics(table, params) == {"auc": pytest.approx(0.5)}


def test_gcn_minmax_uses_the_normal_classs_training_bounds_computed_by_hand(tmp_path):
    # Two training images of class 1 (1x2x2) and one of class 0; pixels/255 as below.
    # Image a = [0, 51, 102, 153]/255 = [0, .2, .4, .6]: mean .3, centred [-.3, -.1, .1, .3],
    #   mean |.| .2, so GCN(a) = [-1.5, -.5, .5, 1.5].
    # Image b = [0, 0, 51, 51]/255 = [0, 0, .2, .2]: mean .1, centred [-.1, -.1, .1, .1],
    #   mean |.| .1, so GCN(b) = [-1, -1, 1, 1].
    # Class 1's bounds over both: lo = -1.5, hi = 1.5, so (z + 1.5) / 3:
    #   a -> [0, 1/3, 2/3, 1], b -> [1/6, 1/6, 5/6, 5/6].
    # Image c = [255, 0, 0, 0]/255, of class 0: GCN(c) = [2, -2/3, -2/3, -2/3]. It is in the
    # training set but not of the normal class, and in the test set; bounds taken over all training
    # images (hi 2) or over the test set (a and c: hi 2) would both differ from class 1's.
    imgs = np.array([[[0, 51], [102, 153]], [[0, 0], [51, 51]], [[255, 0], [0, 0]]], np.uint8)
    np.save(tmp_path / "train_images.npy", imgs)
    np.save(tmp_path / "train_labels.npy", np.array([1, 1, 0]))
    np.save(tmp_path / "test_images.npy", imgs[[2, 0]])
    np.save(tmp_path / "test_labels.npy", np.array([0, 1]))
    params = {"train": {"val_fraction": 0.0, "max_train_samples": None},
              "eval": {"anomaly_fraction": None, "batch_size": 5},
              "data": {"scale": "unit", "normalize": "gcn_l1_minmax"}}
    x, val = oneclass.train_data(tmp_path, "class1", 0, params)
    assert val.shape[0] == 0 and x.dtype == torch.float32
    assert np.allclose(x.numpy().reshape(2, 4), [[0, 1 / 3, 2 / 3, 1], [1 / 6, 1 / 6, 5 / 6, 5 / 6]], atol=1e-6)
    # the test set: class 1's image a (normal) first, then class 0's image c with class 1's bounds,
    # (GCN(c) + 1.5) / 3 = [7/6, 5/18, 5/18, 5/18]: outside [0, 1], as a test image may be
    test = oneclass.test_data(tmp_path, "class1", 0, params)
    assert test.x.dtype == np.float32
    assert np.allclose(test.x.reshape(2, 4), [[0, 1 / 3, 2 / 3, 1], [7 / 6, 5 / 18, 5 / 18, 5 / 18]], atol=1e-6)
    # a held-out image is scaled by the same bounds (they come from all of the class's training
    # images, the hold-out included): with half held out, the two images are as above
    params["train"]["val_fraction"] = 0.5
    x_, val_ = oneclass.train_data(tmp_path, "class1", 0, params)
    assert np.allclose(sorted(np.concatenate([x_.numpy().ravel(), val_.numpy().ravel()])),
                       sorted(x.numpy().ravel()), atol=1e-6)
    params["train"]["val_fraction"] = 0.0
    # the scale does not move it (GCN removes any affine change of the pixels)
    params["data"]["scale"] = "symmetric"
    assert np.allclose(oneclass.train_data(tmp_path, "class1", 0, params)[0], x, atol=1e-6)
    # left out or "none": the plain scaled pixels
    for how in (None, "none"):
        params["data"] = {"scale": "unit", **({"normalize": how} if how else {})}
        assert np.allclose(oneclass.train_data(tmp_path, "class1", 0, params)[0].numpy().reshape(2, 4),
                           imgs[:2].reshape(2, 4) / 255.0)
    params["data"]["normalize"] = "zca"
    with pytest.raises(ValueError, match="data.normalize must be one of none, gcn_l1_minmax"):
        oneclass.train_data(tmp_path, "class1", 0, params)


def test_gcn_minmax_refuses_a_class_whose_images_are_all_alike(tmp_path):
    np.save(tmp_path / "train_images.npy", np.full((2, 2, 2), 7, np.uint8))
    np.save(tmp_path / "train_labels.npy", np.array([1, 1]))
    params = {"train": {"val_fraction": 0.0, "max_train_samples": None},
              "data": {"scale": "unit", "normalize": "gcn_l1_minmax"}}
    with pytest.raises(ValueError, match="class 1's training images are all alike"):
        oneclass.train_data(tmp_path, "class1", 0, params)


def test_records_score_table_carries_the_training_scores_only_when_the_threshold_needs_them(tmp_path):
    n = 20
    np.save(tmp_path / "labels.npy", (np.arange(n) % 4 == 0).astype(np.uint8))
    np.save(tmp_path / "features.npy", np.arange(n, dtype=np.float32)[:, None])
    params = {"eval": {"test_fraction": 0.5, "batch_size": 3, "threshold_top_fraction": 0.2},
              "train": {"val_fraction": 0.1, "max_train_samples": None}}
    test = records.test_data(tmp_path, "all", 0, params)
    table = records.score(Zero(), test, params, None, torch.device("cpu"))
    assert np.allclose(table.scores, test.x[:, 0] ** 2) and table.reference_scores is None
    assert list(table.columns()) == ["scores", "labels"]
    params["eval"]["threshold_population"] = "train_test"
    table = records.score(Zero(), records.test_data(tmp_path, "all", 0, params), params, None, torch.device("cpu"))
    train = records.train_data(tmp_path, "all", 0, params)[0]
    assert np.allclose(table.reference_scores, train[:, 0].numpy() ** 2)
    assert list(table.columns()) == ["scores", "labels"]   # reference scores are not saved


def test_score_table_rows_must_agree_and_save_in_one_order(tmp_path):
    with pytest.raises(ValueError, match="labels has 2 rows, scores 3"):
        ScoreTable(np.zeros(3, np.float32), np.zeros(2, np.int8))
    t = ScoreTable(np.zeros(2, np.float32), np.zeros(2, np.int8), errors=np.ones(2, np.float32),
                   video=np.zeros(2, np.int32), frame=np.array([8, 9], np.int32), names=np.array(["v"]))
    t.save(tmp_path / "scores.npz")
    with np.load(tmp_path / "scores.npz") as f:
        assert f.files == ["scores", "errors", "labels", "video", "frame", "names"]
        assert f["frame"].tolist() == [8, 9] and f["names"].tolist() == ["v"]
    assert [p.name for p in tmp_path.iterdir()] == ["scores.npz"]


def test_training_samples_of_every_role_index_alike(tmp_path):
    """train.py indexes x[idx.to(x.device)] and slices x[a:b] without asking what x is."""
    frames = np.arange(40, dtype=np.uint8).reshape(40, 1, 1)
    clips = video.ClipSource(frames, np.arange(5), 16, "unit")
    rows = torch.arange(10, dtype=torch.float32)[:, None]
    for x in (clips, rows):
        idx = torch.tensor([3, 1])
        batch = x[idx.to(x.device)]
        assert batch.shape[0] == 2 and x[0:2].shape[0] == 2 and x.device.type == "cpu"
    assert float(clips[torch.tensor([3])][0, 0, 0]) == pytest.approx(3 / 255)
