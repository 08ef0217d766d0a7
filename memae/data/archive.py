"""Safe extraction of the raw archives (tar, tar.gz, zip).

Every member is checked before it is written: an absolute path, a `..` component, a link whose
target lies outside the target folder, or a device file makes the whole archive refused, with the
archive and the member named. A truncated or corrupt archive is reported as such. Extraction goes
to `<target>.tmp`, renamed to `<target>` only when complete; on any error the temporary folder is
removed, so nothing half-written stays behind.
"""
from __future__ import annotations

import gzip
import shutil
import stat
import subprocess
import tarfile
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

from tqdm import tqdm


class ArchiveError(ValueError):
    pass


_CORRUPT = (tarfile.ReadError, zipfile.BadZipFile, gzip.BadGzipFile, EOFError, zlib.error)


def _safe_parts(archive: Path, name: str) -> tuple[str, ...]:
    """The member's path components, refusing anything that could leave the target folder."""
    norm = name.replace("\\", "/")
    p = PurePosixPath(norm)
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":") or ".." in p.parts:
        raise ArchiveError(f"{archive}: member {name!r} has an absolute path or '..' and would be written "
                           "outside the target folder; refusing to extract this archive. Get a clean copy.")
    return tuple(part for part in p.parts if part != ".")


def _check_link(archive: Path, name: str, link: str, hard: bool) -> None:
    """A link must resolve inside the target: relative to the member's folder (symlink) or the root (hard)."""
    parts = [] if hard else list(_safe_parts(archive, name)[:-1])
    for part in PurePosixPath(link.replace("\\", "/")).parts:
        if part == "/" or (part == ".." and not parts):
            raise ArchiveError(f"{archive}: member {name!r} is a link to {link!r}, outside the target folder; "
                               "refusing to extract this archive. Get a clean copy.")
        if part == "..":
            parts.pop()
        elif part != ".":
            parts.append(part)


@contextmanager
def _reporting(archive: Path) -> Iterator[None]:
    try:
        yield
    except ArchiveError:
        raise
    except tarfile.FilterError as e:
        raise ArchiveError(f"{archive}: unsafe member refused ({e}); get a clean copy") from None
    except _CORRUPT as e:
        raise ArchiveError(f"{archive}: truncated or corrupt archive ({type(e).__name__}: {e}). "
                           "Delete it and fetch it again.") from None


@contextmanager
def _tar_stream(archive: Path) -> Iterator[tarfile.TarFile]:
    """The archive as a tar stream: one pass, in order. A .gz is decompressed by the gzip program
    in a separate process where there is one (in parallel with unpacking), else by Python."""
    with open(archive, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    gunzip = shutil.which("gzip") if gz else None
    if not gunzip:
        with tarfile.open(archive, "r|*") as tf:
            yield tf
        return
    proc = subprocess.Popen([gunzip, "-dc", str(archive)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tf:
            yield tf
            for _ in tf:   # drain, so that gzip checks the whole file
                pass
        proc.stdout.close()
        err = proc.stderr.read().decode(errors="replace").strip()
        if proc.wait():
            raise EOFError(f"gzip: {err}")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stderr.close()


def _extract_tar(archive: Path, tmp: Path, include: Callable[[str], bool], bar: tqdm) -> int:
    n = 0
    with _tar_stream(archive) as tf:
        for m in tf:
            _safe_parts(archive, m.name)
            if m.issym() or m.islnk():
                _check_link(archive, m.name, m.linkname, hard=m.islnk())
            elif not (m.isfile() or m.isdir()):
                raise ArchiveError(f"{archive}: member {m.name!r} is a device or fifo; refusing to extract")
            if include(m.name):
                tf.extract(m, tmp, filter="data")
                n += 1
                bar.update()
    return n


def _extract_zip(archive: Path, tmp: Path, include: Callable[[str], bool], bar: tqdm) -> int:
    n = 0
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        for info in infos:   # check everything before writing anything
            _safe_parts(archive, info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                _check_link(archive, info.filename, zf.read(info).decode(errors="replace"), hard=False)
        for info in infos:
            if include(info.filename):
                zf.extract(info, tmp)   # a link inside the target is written as a small plain file
                n += 1
                bar.update()
    return n


def extract(archive: Path, target: Path, include: Callable[[str], bool] | None = None) -> Path:
    """Extract the members of archive whose name passes include (all by default) into target.

    target is replaced as a whole; it appears only once extraction is complete.
    """
    archive, target = Path(archive), Path(target)
    if not archive.is_file():
        raise ArchiveError(f"{archive} is missing: run `memae fetch` for this dataset first")
    include = include or (lambda name: True)
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        with _reporting(archive), tqdm(desc=f"extract {archive.name}", unit="member", leave=False) as bar:
            if archive.suffix == ".zip" or zipfile.is_zipfile(archive):
                n = _extract_zip(archive, tmp, include, bar)
            else:
                n = _extract_tar(archive, tmp, include, bar)
        if n == 0:
            raise ArchiveError(f"{archive}: none of its members is what this dataset needs; is it the right file?")
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def read_members(archive: Path, wanted: Callable[[str], bool]) -> dict[str, bytes]:
    """The bytes of the regular-file members (tar or zip) whose name passes wanted, keyed by name,
    read without extracting anything; member names are checked as for extraction."""
    archive = Path(archive)
    if not archive.is_file():
        raise ArchiveError(f"{archive} is missing: run `memae fetch` for this dataset first")
    out = {}
    with _reporting(archive):
        if archive.suffix == ".zip" or zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    _safe_parts(archive, info.filename)
                    if not info.is_dir() and wanted(info.filename):
                        out[info.filename] = zf.read(info)
            return out
        with _tar_stream(archive) as tf:
            for m in tf:
                _safe_parts(archive, m.name)
                if m.isfile() and wanted(m.name):
                    out[m.name] = tf.extractfile(m).read()
    return out
