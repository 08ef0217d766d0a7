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


def test_dataset_modules_import_nothing_above_them_and_re_export_nothing():
    upward = ("memae.protocols", "memae.video", "memae.train", "memae.evaluate", "memae.ensemble")
    files = sorted((PACKAGE / "data").glob("*.py"))
    assert len(files) > 10
    for f in files:
        bad = sorted(n for n in _imports(f) if n.startswith(upward))
        assert not bad, f"{f.name} imports {bad}"
        assert "noqa: F401" not in f.read_text(), f.name
    for spec in datasets.SPECS.values():
        module = spec.load()
        assert callable(module.prepare)
        assert not any(hasattr(module, name) for name in INTERFACE), spec.name


def test_train_and_evaluate_do_not_branch_on_the_kind_of_data():
    for name in ("train.py", "evaluate.py"):
        tree = ast.parse((PACKAGE / name).read_text())
        calls = [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
        assert "isinstance" not in calls, name


def test_no_two_modules_share_a_name():
    names = [p.name for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


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
