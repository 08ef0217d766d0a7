import gzip
import hashlib
import os
import time

import pytest

from memae.data import fetch
from memae.data.fetch import ChecksumError, FetchError, fetch_file
from memae.data.sources import SOURCES, RemoteFile

from .httpserver import FileServer


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def payload():
    return os.urandom(300_000)


def test_mirror_copy_is_verified_and_atomic(tmp_path, payload):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "a.bin").write_bytes(payload)
    rf = RemoteFile("a.bin", (), sha256=sha(payload))
    out = fetch_file(rf, tmp_path / "raw", mirror)
    assert out.read_bytes() == payload
    assert not list((tmp_path / "raw").glob("*.part"))


def test_recompressed_gzip_is_accepted_on_content_hash(tmp_path):
    content = b"idx content" * 1000
    mirror = tmp_path / "m"
    mirror.mkdir()
    with gzip.GzipFile(mirror / "x.gz", "wb", mtime=12345, compresslevel=1) as f:
        f.write(content)
    rf = RemoteFile("x.gz", (), content_sha256=sha(content))
    assert fetch_file(rf, tmp_path / "raw", mirror).exists()


def test_wrong_checksum_names_file_and_hashes_and_keeps_good_copy(tmp_path, payload):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "a.bin").write_bytes(payload + b"x")
    rf = RemoteFile("a.bin", (), sha256=sha(payload))
    with pytest.raises(ChecksumError) as e:
        fetch_file(rf, tmp_path / "raw", mirror)
    msg = str(e.value)
    assert "a.bin" in msg and sha(payload) in msg and sha(payload + b"x") in msg
    assert (tmp_path / "raw" / "a.bin.rejected").exists()
    assert not (tmp_path / "raw" / "a.bin").exists()
    # a good file already in place is never touched by a later bad source
    (tmp_path / "raw" / "a.bin").write_bytes(payload)
    assert fetch_file(rf, tmp_path / "raw", mirror).read_bytes() == payload


def test_corrupt_file_in_place_is_an_error_and_is_left_alone(tmp_path, payload):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.bin").write_bytes(b"garbage")
    with pytest.raises(ChecksumError, match="left in place"):
        fetch_file(RemoteFile("a.bin", (), sha256=sha(payload)), raw)
    assert (raw / "a.bin").read_bytes() == b"garbage"


def test_no_network_fails_at_once_naming_url_and_manual_step(tmp_path):
    rf = RemoteFile("f.gz", ("http://127.0.0.1:9/f.gz",), sha256="0" * 64)
    t0 = time.monotonic()
    with pytest.raises(FetchError) as e:
        fetch_file(rf, tmp_path)
    assert time.monotonic() - t0 < 10
    assert "http://127.0.0.1:9/f.gz" in str(e.value) and "MEMAE_MIRROR" in str(e.value)


def test_download_mirror_fallback_after_404_and_resume_after_cut(tmp_path, payload):
    served = tmp_path / "www"
    served.mkdir()
    (served / "b.bin").write_bytes(payload)
    with FileServer(served) as srv:
        srv.cut_after["b.bin"] = 100_000
        rf = RemoteFile("b.bin", (f"{srv.url}/missing/b.bin", f"{srv.url}/b.bin"), sha256=sha(payload))
        out = fetch_file(rf, tmp_path / "raw")
    assert out.read_bytes() == payload
    ranges = [r for name, r in srv.requests if name == "b.bin"]
    assert ranges[0] is None and ranges[1] == "bytes=100000-"


def test_memae_mirror_env_layout(tmp_path, monkeypatch, payload):
    (tmp_path / "m" / "toy").mkdir(parents=True)
    (tmp_path / "m" / "toy" / "t.bin").write_bytes(payload)
    monkeypatch.setenv("MEMAE_MIRROR", str(tmp_path / "m"))
    paths = fetch.fetch("toy", tmp_path / "raw", files=(RemoteFile("t.bin", (), sha256=sha(payload)),))
    assert paths[0].read_bytes() == payload


@pytest.mark.realdata
@pytest.mark.parametrize("dataset", ["mnist", "kddcup99"])
def test_shared_copies_verify_through_memae_mirror(dataset, shared_datasets, tmp_path, monkeypatch):
    monkeypatch.setenv("MEMAE_MIRROR", str(shared_datasets))
    paths = fetch.fetch(dataset, tmp_path / dataset)
    assert [p.name for p in paths] == [rf.name for rf in SOURCES[dataset]]


def test_corrupt_gzip_is_a_checksum_error_naming_the_file_and_the_next_source_is_tried(tmp_path):
    content = b"idx content" * 1000
    good = gzip.compress(content)
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF           # corrupt deflate data: zlib.error, not OSError
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "x.gz").write_bytes(bytes(bad))
    rf = RemoteFile("x.gz", (), content_sha256=sha(content))
    with pytest.raises(ChecksumError, match=r"x\.gz.*unreadable"):
        fetch_file(rf, tmp_path / "raw", tmp_path / "m")
    assert (tmp_path / "raw" / "x.gz.rejected").exists()
