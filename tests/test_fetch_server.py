"""fetch + prepare of real-format archives served over HTTP by a local server on 127.0.0.1."""
import hashlib
import io
import tarfile

import pytest

from memae.data import avenue, ped2, synthetic
from memae.data.archive import ArchiveError
from memae.data.fetch import ChecksumError, fetch
from memae.data.sources import RemoteFile
from memae.data.frames import open_split

from .httpserver import FileServer

SIZE = {"train_videos": 1, "test_videos": 2, "frames": 18, "height": 48, "width": 64}
PARAMS = {"data": {"frame_size": [16, 16]}}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def served(tmp_path, dataset):
    """Synthetic raw files of dataset in a folder the server serves; returns their bytes by name."""
    www = tmp_path / "www"
    synthetic.make_mirror(dataset, www, SIZE)
    return {p.name: p.read_bytes() for p in (www / dataset).iterdir()}


def test_download_resumes_after_a_cut_falls_back_after_404_and_prepares(tmp_path):
    data = served(tmp_path, "ped2")["UCSD_Anomaly_Dataset.tar.gz"]
    raw = tmp_path / "data" / "raw" / "ped2"
    with FileServer(tmp_path / "www") as srv:
        srv.cut_after["ped2/UCSD_Anomaly_Dataset.tar.gz"] = len(data) // 3
        rf = RemoteFile("UCSD_Anomaly_Dataset.tar.gz", (f"{srv.url}/gone/UCSD_Anomaly_Dataset.tar.gz",
                                                        f"{srv.url}/ped2/UCSD_Anomaly_Dataset.tar.gz"),
                        sha256=sha(data))
        fetch("ped2", raw, files=(rf,))
    assert (raw / rf.name).read_bytes() == data
    got = [(name.split("/")[0], r) for name, r in srv.requests]
    assert got == [("gone", None), ("ped2", None), ("ped2", f"bytes={len(data) // 3}-")]
    ped2.prepare(raw, tmp_path / "data" / "prepared" / "ped2", PARAMS)
    assert open_split(tmp_path / "data" / "prepared" / "ped2" / "test").frames.shape == (36, 16, 16)


def test_wrong_checksum_is_an_error_naming_both_hashes_and_the_good_copy_is_kept(tmp_path):
    files = served(tmp_path, "avenue")
    good = files["ground_truth_demo.zip"]
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF
    (tmp_path / "www" / "bad").mkdir()
    (tmp_path / "www" / "bad" / "ground_truth_demo.zip").write_bytes(bytes(bad))
    raw = tmp_path / "data" / "raw" / "avenue"
    with FileServer(tmp_path / "www") as srv:
        only_bad = RemoteFile("ground_truth_demo.zip", (f"{srv.url}/bad/ground_truth_demo.zip",), sha256=sha(good))
        with pytest.raises(ChecksumError) as e:
            fetch("avenue", raw, files=(only_bad,))
        assert "ground_truth_demo.zip" in str(e.value) and sha(good) in str(e.value) and sha(bytes(bad)) in str(e.value)
        assert not (raw / "ground_truth_demo.zip").exists()
        # the bad mirror first, then a good one: the good copy is kept, the bad one set aside
        table = [RemoteFile(n, (f"{srv.url}/bad/{n}", f"{srv.url}/avenue/{n}"), sha256=sha(b)) for n, b in files.items()]
        fetch("avenue", raw, files=tuple(table))
        assert (raw / "ground_truth_demo.zip").read_bytes() == good
        assert (raw / "ground_truth_demo.zip.rejected").read_bytes() == bytes(bad)
        # fetching again with only the bad mirror leaves the verified good copy alone
        fetch("avenue", raw, files=(only_bad,))
    assert (raw / "ground_truth_demo.zip").read_bytes() == good
    assert avenue.prepare(raw, tmp_path / "data" / "prepared" / "avenue", PARAMS)["test"]["videos"] == 2


def test_path_traversal_archive_is_fetched_but_refused_by_prepare(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, payload in [("UCSD_Anomaly_Dataset.v1p2/UCSDped2/Train/Train001/001.tif", b"x"),
                              ("UCSD_Anomaly_Dataset.v1p2/UCSDped2/../../../../evil.txt", b"pwned")]:
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tf.addfile(info, io.BytesIO(payload))
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "UCSD_Anomaly_Dataset.tar.gz").write_bytes(buf.getvalue())
    raw = tmp_path / "data" / "raw" / "ped2"
    with FileServer(tmp_path / "www") as srv:
        rf = RemoteFile("UCSD_Anomaly_Dataset.tar.gz", (f"{srv.url}/UCSD_Anomaly_Dataset.tar.gz",),
                        sha256=sha(buf.getvalue()))
        fetch("ped2", raw, files=(rf,))      # the checksum matches: safety is extraction's job
    with pytest.raises(ArchiveError, match=r"UCSD_Anomaly_Dataset.tar.gz: member .*evil.txt.* refusing"):
        ped2.prepare(raw, tmp_path / "data" / "prepared" / "ped2", PARAMS)
    assert not list(tmp_path.rglob("evil.txt"))
    assert not (tmp_path / "data" / "prepared").exists() or not list((tmp_path / "data" / "prepared").iterdir())
