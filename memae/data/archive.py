"""Safe extraction of the raw archives (tar, tar.gz, zip).

Every member is checked before it is written: an absolute path, a `..` component, a link whose
target lies outside the target folder, or a device file makes the whole archive refused, with the
archive and the member named. A truncated or corrupt archive is reported as such. Extraction goes
to `<target>.tmp`, renamed to `<target>` only when complete; on any error the temporary folder is
removed, so nothing half-written stays behind.

Archive bombs: the uncompressed size of the members (as their headers declare it: tar and zip read
no more than that) is added up as the archive is read, and the archive is refused, naming the
member that crosses the line, when the total exceeds the cap of that archive (LIMITS) or, past
RATIO_FLOOR bytes, when it exceeds max_ratio times the archive's size (for zip also per member).
MEMAE_ARCHIVE_MAX_GIB and MEMAE_ARCHIVE_MAX_RATIO override the caps for every archive.
"""
from __future__ import annotations

import gzip
import os
import shutil
import stat
import subprocess
import tarfile
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

from tqdm import tqdm

from ..datasets import SPECS


class ArchiveError(ValueError):
    pass


_CORRUPT = (tarfile.ReadError, zipfile.BadZipFile, gzip.BadGzipFile, EOFError, zlib.error)

GIB = 1 << 30


@dataclass(frozen=True)
class Limits:
    max_total: int            # bytes, all members of the archive together, uncompressed
    max_ratio: float = 100.0  # uncompressed / compressed, checked once RATIO_FLOOR is passed


# Caps per archive: each dataset's files in the registry (memae.datasets, RemoteFile.max_unpacked_gib)
# give theirs, about 3-10x what the real archive unpacks to. The real archives are made of media that
# hardly compress (AVI, JPEG, TIFF frames, CIFAR-10 bytes): their ratio is 1-3, a bomb's is 1000+.
# Any other archive (an image folder, a ground-truth archive) gets DEFAULT.
LIMITS = {rf.name: Limits(int(rf.max_unpacked_gib * GIB))
          for spec in SPECS.values() for rf in spec.files if rf.max_unpacked_gib}
DEFAULT_LIMITS = Limits(32 * GIB)
RATIO_FLOOR = 256 << 20   # below 256 MB unpacked no ratio is held against an archive (small masks)


def limits_for(archive: Path) -> Limits:
    """The caps of one archive: LIMITS by file name, then the environment's overrides."""
    lim = LIMITS.get(Path(archive).name, DEFAULT_LIMITS)
    try:
        gib = os.environ.get("MEMAE_ARCHIVE_MAX_GIB")
        ratio = os.environ.get("MEMAE_ARCHIVE_MAX_RATIO")
        return Limits(int(float(gib) * GIB) if gib else lim.max_total,
                      float(ratio) if ratio else lim.max_ratio)
    except ValueError:
        raise ArchiveError("MEMAE_ARCHIVE_MAX_GIB and MEMAE_ARCHIVE_MAX_RATIO must be numbers") from None


class _Budget:
    """Adds up the uncompressed size of an archive's members; refuses the one that crosses a cap."""

    def __init__(self, archive: Path):
        self.archive, self.lim, self.total = archive, limits_for(archive), 0
        self.size = max(1, archive.stat().st_size)

    def add(self, name: str, size: int, compressed: int | None = None) -> None:
        self.total += size
        how = ("set MEMAE_ARCHIVE_MAX_GIB / MEMAE_ARCHIVE_MAX_RATIO higher if the archive is genuine, "
               "else get a clean copy")
        if self.total > self.lim.max_total:
            raise ArchiveError(
                f"{self.archive}: member {name!r} takes the unpacked size to {self.total:,} bytes, over the "
                f"cap of {self.lim.max_total:,} for this archive (an archive bomb?); refusing it: {how}.")
        for unpacked, packed, what in ((self.total, self.size, "the archive"),
                                       (size, compressed, "the member")):
            if packed is not None and unpacked > RATIO_FLOOR and unpacked > self.lim.max_ratio * max(1, packed):
                raise ArchiveError(
                    f"{self.archive}: member {name!r} unpacks {what} to {unpacked:,} bytes from {packed:,}, "
                    f"a ratio over {self.lim.max_ratio:g} (an archive bomb?); refusing it: {how}.")


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
    n, budget = 0, _Budget(archive)
    with _tar_stream(archive) as tf:
        for m in tf:
            _safe_parts(archive, m.name)
            budget.add(m.name, m.size)
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
    n, budget = 0, _Budget(archive)
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        for info in infos:   # check everything before writing anything
            _safe_parts(archive, info.filename)
            budget.add(info.filename, info.file_size, info.compress_size)
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


def _member_fits(archive: Path, name: str, size: int, max_member: int | None) -> None:
    if max_member is not None and size > max_member:
        raise ArchiveError(f"{archive}: member {name!r} is {size:,} bytes, more than the {max_member:,} "
                           "this dataset's members can hold; refusing to read it. Get a clean copy.")


def read_members(archive: Path, wanted: Callable[[str], bool],
                 max_member: int | None = None) -> dict[str, bytes]:
    """The bytes of the regular-file members (tar or zip) whose name passes wanted, keyed by name,
    read without extracting anything; member names are checked as for extraction, sizes against
    the archive's caps and, before a member is read into memory, against max_member."""
    archive = Path(archive)
    if not archive.is_file():
        raise ArchiveError(f"{archive} is missing: run `memae fetch` for this dataset first")
    out, budget = {}, _Budget(archive)
    with _reporting(archive):
        if archive.suffix == ".zip" or zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    _safe_parts(archive, info.filename)
                    budget.add(info.filename, info.file_size, info.compress_size)
                    if not info.is_dir() and wanted(info.filename):
                        _member_fits(archive, info.filename, info.file_size, max_member)
                        out[info.filename] = zf.read(info)
            return out
        with _tar_stream(archive) as tf:
            for m in tf:
                _safe_parts(archive, m.name)
                budget.add(m.name, m.size)
                if m.isfile() and wanted(m.name):
                    _member_fits(archive, m.name, m.size, max_member)
                    out[m.name] = tf.extractfile(m).read()
    return out
