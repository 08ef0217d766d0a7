import tarfile

import numpy as np
import pytest
from PIL import Image

from memae.data import imagefolder
from memae.protocols import oneclass


def tree(root, spec, shape=(4, 6), mode="L"):
    """spec: split -> class -> list of pixel values; one flat PNG per value."""
    for split, classes in spec.items():
        for c, values in classes.items():
            (root / split / c).mkdir(parents=True)
            for i, v in enumerate(values):
                img = np.full(shape if mode == "L" else (*shape, 3), v, np.uint8)
                Image.fromarray(img).save(root / split / c / f"{i:03d}.png")
    return root


SPEC = {"train": {"zebra": [1, 2], "ant": [3, 4, 5]}, "test": {"zebra": [6], "ant": [7, 8]}}


@pytest.mark.parametrize("workers", [1, 2])
def test_folder_tree_to_one_class_layout_with_classes_sorted(tmp_path, workers):
    root = tree(tmp_path / "imgs", SPEC)
    s = imagefolder.prepare(root, tmp_path / "prep", workers=workers)
    assert s["classes"] == ["ant", "zebra"] and (s["train"], s["test"]) == (5, 3)
    images = np.load(tmp_path / "prep" / "train_images.npy")
    assert images.shape == (5, 4, 6) and images[:, 0, 0].tolist() == [3, 4, 5, 1, 2]
    assert np.load(tmp_path / "prep" / "train_labels.npy").tolist() == [0, 0, 0, 1, 1]
    params = {"eval": {"anomaly_fraction": None}, "data": {"scale": "unit"}}
    test = oneclass.test_data(tmp_path / "prep", "class1", 0, params)   # zebra normal
    x, y = test.x, test.labels
    assert y.tolist() == [0, 1, 1] and x.shape == (3, 1, 4, 6)


def test_colour_images_from_a_tar_gz(tmp_path):
    src = tree(tmp_path / "src", SPEC, mode="RGB")
    raw = tmp_path / "raw"
    raw.mkdir()
    with tarfile.open(raw / "mine.tar.gz", "w:gz") as tf:
        tf.add(src / "train", "train")
        tf.add(src / "test", "test")
    s = imagefolder.prepare(raw, tmp_path / "prep")
    assert s["image_shape"] == [4, 6, 3]
    assert np.load(tmp_path / "prep" / "test_images.npy")[:, 2, 3].tolist() == [[7] * 3, [8] * 3, [6] * 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prep", "raw", "src"]   # scratch removed


def test_bad_trees_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="train/<class>"):
        imagefolder.prepare(tmp_path, tmp_path / "p")
    root = tree(tmp_path / "a", {"train": {"x": [1], "y": [2]}, "test": {"x": [3]}})
    with pytest.raises(ValueError, match=r"test/ classes \['x'\] differ"):
        imagefolder.prepare(root, tmp_path / "p")
    root = tree(tmp_path / "b", {"train": {"x": [1]}, "test": {"x": [2]}})
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(root / "train" / "x" / "999.png")
    with pytest.raises(ValueError, match="999.png: shape"):
        imagefolder.prepare(root, tmp_path / "p")
    (root / "train" / "x" / "999.png").write_bytes(b"broken")
    with pytest.raises(ValueError, match="999.png: corrupt"):
        imagefolder.prepare(root, tmp_path / "p")
    assert not (tmp_path / "p").exists()
