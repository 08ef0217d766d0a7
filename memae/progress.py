"""Progress bars that suit where they are written: tqdm's redrawn bar on a terminal, and one plain
line per step in a log file (a job's stderr), where `\\r` redraws pile up into one unreadable line."""
from __future__ import annotations

import sys

from tqdm import tqdm as _tqdm


class LineTqdm(_tqdm):
    """tqdm writing each step as its own line, once per completed step (a postfix set during a
    step shows on that step's line), with no carriage returns or cursor movement."""

    def display(self, msg=None, pos=None):
        if self.n == getattr(self, "_last_line_n", None):
            return True
        self._last_line_n = self.n
        self.fp.write((self.__str__() if msg is None else msg).replace("\r", "") + "\n")
        self.fp.flush()
        return True


class _LineFile:
    """The log file, less the bare newline and carriage return that tqdm writes on closing."""

    def __init__(self, fp):
        self.fp = fp

    def write(self, s: str) -> None:
        if s not in ("", "\n", "\r"):
            self.fp.write(s)

    def flush(self) -> None:
        self.fp.flush()


def _isatty(fp) -> bool:
    try:
        return fp.isatty()
    except (AttributeError, ValueError):
        return False


def tqdm(*args, **kwargs):
    """A drop-in for tqdm.tqdm: the usual bar when its file (stderr by default) is a terminal,
    otherwise a LineTqdm that prints every step (mininterval 0, miniters 1)."""
    fp = kwargs.get("file") or sys.stderr
    if _isatty(fp):
        return _tqdm(*args, **kwargs)
    kwargs.update(file=_LineFile(fp), mininterval=0, miniters=1, dynamic_ncols=False, ncols=100)
    return LineTqdm(*args, **kwargs)
