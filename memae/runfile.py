"""Reading a run's torch files (model.pt, checkpoint.pt) without running code from them.

They are loaded with torch.load(weights_only=True): tensors, plain dicts, lists, numbers and strings
only. A file that holds anything else (a pickled object, which could run code when loaded) is
refused, naming the file; so is a truncated or unreadable one.
"""
from __future__ import annotations

import pickle
import re
from pathlib import Path

import torch


class RunFileError(ValueError):
    pass


def load_run_file(path: Path, map_location: torch.device | str = "cpu") -> dict:
    path = Path(path)
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"unsupported GLOBAL [^ ]+", str(e))
        raise RunFileError(
            f"{path}: refused to load: it holds a pickled object ({found[0] if found else 'not tensors'}), "
            "which memae never writes; loading it could run code. It was not written by memae train or "
            "was tampered with: delete it and train the run again.") from None
    except (RuntimeError, EOFError, KeyError, ValueError, OSError) as e:
        raise RunFileError(f"{path}: cannot be read as a run file ({type(e).__name__}: {str(e)[:200]}); "
                           "delete it and train the run again.") from None
    if not isinstance(obj, dict):
        raise RunFileError(f"{path}: expected a dict of tensors and settings, got {type(obj).__name__}; "
                           "delete it and train the run again.")
    return obj
