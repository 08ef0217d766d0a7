"""Fetching raw files: local mirror first, then each URL in turn; resumable, verified, atomic.

A file is written to `<name>.part`, verified against the dataset's files in the registry
(memae.datasets), then renamed; its stamp (memae.layout.stamp_name) records the verified hash.
A partial `.part` is resumed with an HTTP Range request. A download whose checksum is wrong is kept
as `<name>.rejected` for inspection and the next source is tried; a good file already in place is
never touched. `MEMAE_MIRROR=<folder>` makes fetch look first in `<folder>/<dataset>/<file>`.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from tqdm import tqdm

from ..datasets import SPECS, RemoteFile
from ..layout import stamp_path

CHUNK = 1 << 20
RETRIES_PER_URL = 3


class FetchError(RuntimeError):
    pass


class ChecksumError(FetchError):
    pass


def file_sha256(path: Path, decompress: bool = False) -> str:
    h = hashlib.sha256()
    opener = gzip.open if decompress else open
    try:
        with opener(path, "rb") as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
    except (OSError, EOFError, zlib.error) as e:  # a truncated or non-gzip file
        return f"unreadable ({e})"
    return h.hexdigest()


def actual_hash(path: Path, rf: RemoteFile) -> str:
    return file_sha256(path, decompress=rf.content_sha256 is not None)


def _stamp_path(target: Path) -> Path:
    return stamp_path(target.parent, target.name)


def _stamp_ok(target: Path, rf: RemoteFile) -> bool:
    stamp = _stamp_path(target)
    try:
        s = json.loads(stamp.read_text())
        st = target.stat()
    except (OSError, ValueError):
        return False
    return s == {"sha256": rf.expected, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_stamp(target: Path, rf: RemoteFile) -> None:
    st = target.stat()
    _stamp_path(target).write_text(json.dumps(
        {"sha256": rf.expected, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))


def _download(url: str, part: Path, timeout: float = 30.0) -> None:
    """Download url into part, resuming from part's current size when the server allows it."""
    for attempt in range(RETRIES_PER_URL):
        have = part.stat().st_size if part.exists() else 0
        headers = {"User-Agent": "memae-repro"}
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
        except urllib.error.HTTPError as e:
            if e.code == 416 and have:  # nothing left to fetch: the .part is complete
                return
            raise
        with resp:
            resumed = have and resp.status == 206
            length = resp.headers.get("Content-Length")
            total = (int(length) + (have if resumed else 0)) if length else None
            got = have if resumed else 0
            with open(part, "ab" if resumed else "wb") as f, tqdm(
                    total=total, initial=got, unit="B", unit_scale=True, desc=part.name[:-5],
                    leave=False) as bar:
                try:
                    while chunk := resp.read(CHUNK):
                        f.write(chunk)
                        got += len(chunk)
                        bar.update(len(chunk))
                except (OSError, urllib.error.URLError, ConnectionError) as e:
                    if attempt == RETRIES_PER_URL - 1:
                        raise FetchError(f"connection to {url} cut after {got} bytes: {e}") from e
                    continue
        if total is None or got >= total:
            return
        if attempt == RETRIES_PER_URL - 1:
            raise FetchError(f"connection to {url} cut after {got} of {total} bytes")


def fetch_file(rf: RemoteFile, dest: Path, mirror: Path | None = None) -> Path:
    """Make dest/<rf.name> present and verified. Returns its path."""
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / rf.name
    if target.exists():
        if _stamp_ok(target, rf):
            return target
        actual = actual_hash(target, rf)
        if actual == rf.expected:
            _write_stamp(target, rf)
            return target
        raise ChecksumError(
            f"{target} is present but its sha256 is {actual}, expected {rf.expected}. "
            f"It was left in place: move it away and fetch again, or replace it with a good copy.")
    part = dest / f"{rf.name}.part"
    sources: list[str | Path] = []
    if mirror is not None and (mirror / rf.name).exists():
        sources.append(mirror / rf.name)
    sources += list(rf.urls)
    attempts, bad = [], False
    for src in sources:
        try:
            if isinstance(src, Path):
                shutil.copyfile(src, part)
            else:
                _download(src, part)
        except (OSError, urllib.error.URLError, FetchError, ValueError) as e:
            attempts.append(f"  {src}: {getattr(e, 'reason', e)}")
            continue
        actual = actual_hash(part, rf)
        if actual != rf.expected:
            rejected = dest / f"{rf.name}.rejected"
            os.replace(part, rejected)
            attempts.append(f"  {src}: wrong checksum for {rf.name}: expected sha256 {rf.expected}, "
                            f"got {actual} (kept as {rejected})")
            bad = True
            continue
        os.replace(part, target)
        _write_stamp(target, rf)
        return target
    tried = "\n".join(attempts) or "  (no URL and no mirror copy)"
    how = rf.manual or (f"download it by hand from {rf.urls[0] if rf.urls else 'its publisher'} and put it "
                        f"at {target}, or set MEMAE_MIRROR to a folder holding <dataset>/{rf.name}")
    raise (ChecksumError if bad else FetchError)(f"could not fetch {rf.name}; tried:\n{tried}\nTo fix: {how}.")


def check_stamps(dataset: str, raw: Path, published: bool = True) -> None:
    """Before prepare: every raw file of the dataset is still the one `memae fetch` verified. The
    file is hashed again and compared with its `.<file>.verified` stamp (and, for published data,
    the stamp with the checksum table): a file swapped or edited after fetch is an error naming it."""
    raw = Path(raw)
    for rf in (SPECS[dataset].files if dataset in SPECS else ()):
        target, stamp = raw / rf.name, _stamp_path(raw / rf.name)
        fetch_cmd = f"memae fetch {dataset} --dest {raw}"
        if not target.is_file():
            raise FetchError(f"{target} is missing: run `{fetch_cmd}` first")
        try:
            expected = json.loads(stamp.read_text())["sha256"]
        except (OSError, ValueError, KeyError, TypeError):
            raise ChecksumError(f"{target} was not verified by memae fetch (no valid stamp {stamp.name} beside "
                                f"it): run `{fetch_cmd}` to verify it before preparing") from None
        if published and expected != rf.expected:
            raise ChecksumError(f"{stamp}: records sha256 {expected}, but the published one of {rf.name} is "
                                f"{rf.expected}; delete the stamp and run `{fetch_cmd}` again")
        actual = actual_hash(target, rf)
        if actual != expected:
            raise ChecksumError(f"{target} changed after memae fetch verified it: its sha256 is {actual}, "
                                f"expected {expected}. Move it away and run `{fetch_cmd}` again, or put the "
                                "verified copy back.")


def mirror_dir(dataset: str) -> Path | None:
    root = os.environ.get("MEMAE_MIRROR")
    return Path(root) / dataset if root else None


def fetch(dataset: str, dest: Path, files: tuple[RemoteFile, ...] | None = None,
          mirror: Path | None = None) -> list[Path]:
    """Fetch every file of a dataset into dest (the dataset's raw folder)."""
    if files is None:
        if dataset not in SPECS or not SPECS[dataset].files:
            known = [name for name, s in SPECS.items() if s.files]
            raise FetchError(f"no sources known for dataset {dataset!r}; known: {', '.join(known)}")
        files = SPECS[dataset].files
    mirror = mirror if mirror is not None else mirror_dir(dataset)
    return [fetch_file(rf, Path(dest), mirror) for rf in tqdm(files, desc=f"fetch {dataset}", unit="file")]
