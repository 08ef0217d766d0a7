import io
import os
import tarfile
import zipfile

import pytest

from memae.data.archive import ArchiveError, extract, read_members


def make_tar(path, members):
    """members: (name, bytes) for files, (name, None, linkname, type) for links."""
    with tarfile.open(path, "w:gz") as tf:
        for name, data, *link in members:
            info = tarfile.TarInfo(name)
            if link:
                info.linkname, info.type = link
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return path


def assert_nothing_left(tmp_path, target):
    assert not target.exists()
    assert not target.with_name(target.name + ".tmp").exists()
    assert not (tmp_path / "evil").exists() and not (tmp_path / "evil.txt").exists()


def test_tar_and_zip_extract_with_filter(tmp_path):
    tar = make_tar(tmp_path / "a.tar.gz", [("top/keep/x.txt", b"x"), ("top/skip/y.txt", b"y"),
                                           ("top/keep/link", None, "x.txt", tarfile.SYMTYPE)])
    out = extract(tar, tmp_path / "out", include=lambda n: "/keep/" in n)
    assert (out / "top/keep/x.txt").read_bytes() == b"x"
    assert (out / "top/keep/link").resolve() == (out / "top/keep/x.txt").resolve()
    assert not (out / "top/skip").exists()
    with zipfile.ZipFile(tmp_path / "b.zip", "w") as zf:
        zf.writestr("d/e.txt", b"zipped")
    assert (extract(tmp_path / "b.zip", tmp_path / "z") / "d/e.txt").read_bytes() == b"zipped"
    assert read_members(tar, lambda n: n.endswith("x.txt")) == {"top/keep/x.txt": b"x"}


@pytest.mark.parametrize("members", [
    [("ok.txt", b"1"), ("../evil.txt", b"2")],
    [("ok.txt", b"1"), ("a/../../evil.txt", b"2")],
    [("/tmp/evil.txt", b"2")],
    [("a/link", None, "../../evil", tarfile.SYMTYPE)],
    [("link", None, "/etc/passwd", tarfile.SYMTYPE)],
    [("hard", None, "../evil.txt", tarfile.LNKTYPE)],
], ids=["dotdot", "nested-dotdot", "absolute", "symlink-out", "symlink-absolute", "hardlink-out"])
def test_tar_members_leaving_the_target_are_refused(tmp_path, members):
    tar = make_tar(tmp_path / "bad.tar.gz", members)
    target = tmp_path / "sub" / "out"
    with pytest.raises(ArchiveError) as e:
        extract(tar, target)
    assert "bad.tar.gz" in str(e.value) and "refusing" in str(e.value)
    assert_nothing_left(tmp_path, target)


@pytest.mark.parametrize("name", ["../evil.txt", "/evil.txt", "C:/evil.txt"])
def test_zip_members_leaving_the_target_are_refused_before_any_write(tmp_path, name):
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as zf:
        zf.writestr("first.txt", b"written first?")
        zf.writestr(name, b"2")
    target = tmp_path / "out"
    with pytest.raises(ArchiveError, match="bad.zip.*refusing"):
        extract(tmp_path / "bad.zip", target)
    assert_nothing_left(tmp_path, target)


def test_zip_symlink_out_is_refused(tmp_path):
    info = zipfile.ZipInfo("link")
    info.external_attr = (0o120777 << 16)
    with zipfile.ZipFile(tmp_path / "l.zip", "w") as zf:
        zf.writestr(info, "../../evil")
    with pytest.raises(ArchiveError, match="link"):
        extract(tmp_path / "l.zip", tmp_path / "out")


def test_truncated_tar_gz_is_reported_and_nothing_half_written(tmp_path):
    tar = make_tar(tmp_path / "t.tar.gz", [(f"f{i}.bin", os.urandom(50_000)) for i in range(6)])
    data = tar.read_bytes()
    tar.write_bytes(data[: len(data) // 2])
    target = tmp_path / "out"
    with pytest.raises(ArchiveError, match="t.tar.gz: truncated or corrupt"):
        extract(tar, target)
    assert_nothing_left(tmp_path, target)


def test_corrupt_zip_member_and_truncated_zip_are_reported(tmp_path):
    payload = b"A" * 10_000
    with zipfile.ZipFile(tmp_path / "c.zip", "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.bin", payload)
    data = bytearray((tmp_path / "c.zip").read_bytes())
    i = bytes(data).index(payload)
    data[i + 100] ^= 0xFF                    # flip one byte of the stored member: CRC mismatch
    (tmp_path / "c.zip").write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="c.zip: truncated or corrupt"):
        extract(tmp_path / "c.zip", tmp_path / "out")
    (tmp_path / "t.zip").write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(ArchiveError, match="t.zip: truncated or corrupt"):
        extract(tmp_path / "t.zip", tmp_path / "out")
    assert_nothing_left(tmp_path, tmp_path / "out")


def test_missing_archive_says_to_fetch(tmp_path):
    with pytest.raises(ArchiveError, match="memae fetch"):
        extract(tmp_path / "none.tar.gz", tmp_path / "out")
