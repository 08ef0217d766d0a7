"""KDDCUP99, 10 percent file (reference section 4, DAGMM's convention).

Records labelled "normal." are the anomalies (about 20%); every attack record is normal data for
the model. The 3 symbolic columns are one-hot encoded with the categories that occur in the file
(118 dimensions on the real 10 percent file), numeric columns are min-max scaled over the whole
file. The prepared layout (features.npy float32, labels.npy uint8, 1 = anomaly) is read by the
records protocol, memae.protocols.records (split, training set and threshold).
"""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from . import arrays
from .sources import SOURCES

FILES = SOURCES["kddcup99"]
COLUMNS = [
    "duration", "protocol_type", "service", "flag", "src_bytes", "dst_bytes", "land",
    "wrong_fragment", "urgent", "hot", "num_failed_logins", "logged_in", "num_compromised",
    "root_shell", "su_attempted", "num_root", "num_file_creations", "num_shells",
    "num_access_files", "num_outbound_cmds", "is_host_login", "is_guest_login", "count",
    "srv_count", "serror_rate", "srv_serror_rate", "rerror_rate", "srv_rerror_rate",
    "same_srv_rate", "diff_srv_rate", "srv_diff_host_rate", "dst_host_count", "dst_host_srv_count",
    "dst_host_same_srv_rate", "dst_host_diff_srv_rate", "dst_host_same_src_port_rate",
    "dst_host_srv_diff_host_rate", "dst_host_serror_rate", "dst_host_srv_serror_rate",
    "dst_host_rerror_rate", "dst_host_srv_rerror_rate", "label",
]
SYMBOLIC = ["protocol_type", "service", "flag"]
NUMERIC = [c for c in COLUMNS if c not in SYMBOLIC and c != "label"]
ANOMALY_LABEL = "normal."


def read_records(path: Path) -> pd.DataFrame:
    """The records of a KDDCUP99 file, strictly: every one of the 42 fields present and non-empty,
    the numeric ones finite numbers, every label ending in the format's dot ("smurf.", "normal.").
    Anything else is an error naming the file, the record (1-based line) and the column."""
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise ValueError(f"{path}: the file is empty (0 bytes); fetch it again")
    try:
        df = pd.read_csv(path, header=None, names=COLUMNS, compression="infer",
                         dtype={c: str for c in SYMBOLIC + ["label"]}, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: holds no records; fetch it again") from None
    except (pd.errors.ParserError, OSError, EOFError, UnicodeDecodeError, zlib.error) as e:
        raise ValueError(f"{path}: cannot parse as KDDCUP99 records ({e}); fetch it again") from None
    if df.empty:
        raise ValueError(f"{path}: holds no records; fetch it again")
    for col in COLUMNS:   # an empty field, or a record cut short (its last fields are then missing)
        empty = df[col].isna().to_numpy()
        if empty.any():
            row = int(np.flatnonzero(empty)[0])
            raise ValueError(f"{path}: record {row + 1}, column '{col}' is empty or missing "
                             f"(each record has {len(COLUMNS)} comma-separated fields)")
    for col in NUMERIC:   # parsed as numbers unless a cell is not one; "inf" and "nan" parse as floats
        values = df[col] if pd.api.types.is_numeric_dtype(df[col]) else pd.to_numeric(df[col], errors="coerce")
        bad = ~np.isfinite(values.to_numpy(np.float64))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{path}: record {row + 1}, column '{col}' holds '{df[col].iat[row]}', "
                             "not a finite number")
        df[col] = values
    undotted = ~df["label"].str.endswith(".").to_numpy()
    if undotted.any():
        row = int(np.flatnonzero(undotted)[0])
        raise ValueError(f"{path}: record {row + 1}, column 'label' is {df['label'].iat[row]!r}: KDDCUP99 "
                         f"labels end in a dot (e.g. {ANOMALY_LABEL!r}); {int(undotted.sum())} record(s) lack "
                         "it. Is this the original file? Fetch it again.")
    df.attrs["source"] = str(path)
    return df


def encode(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Records -> (features float32 in [0,1], is_anomaly uint8, feature names)."""
    numeric = NUMERIC
    num = df[numeric].to_numpy(np.float64)
    if not np.isfinite(num).all():
        raise ValueError(f"{df.attrs.get('source', 'KDDCUP99 records')}: non-finite numeric values; "
                         "read the file with read_records")
    lo, hi = num.min(axis=0), num.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    num = (num - lo) / span
    onehots, names = [], list(numeric)
    for col in SYMBOLIC:
        cats = sorted(df[col].unique())
        codes = pd.Categorical(df[col], categories=cats).codes
        onehots.append(np.eye(len(cats), dtype=np.float64)[codes])
        names += [f"{col}={c}" for c in cats]
    x = np.concatenate([num, *onehots], axis=1).astype(np.float32)
    y = (df["label"].to_numpy() == ANOMALY_LABEL).astype(np.uint8)
    if y.all() or not y.any():
        raise ValueError(f"{df.attrs.get('source', 'KDDCUP99 records')}: {int(y.sum())} of {len(y)} records "
                         f"are labelled {ANOMALY_LABEL!r} (the anomalies here): with "
                         f"{'no anomaly' if not y.any() else 'nothing else'} there is nothing to detect. "
                         "Is this the 10 percent file? Fetch it again.")
    return x, y, names


def prepare(raw: Path, out: Path, params: dict | None = None, workers: int = 1) -> dict:
    df = read_records(Path(raw) / "kddcup.data_10_percent.gz")
    x, y, names = encode(df)
    summary = {"dataset": "kddcup99", "records": int(len(y)), "dims": int(x.shape[1]),
               "anomaly_share": float(y.mean()), "features": names,
               "categories_from": "the categories that occur in the 10 percent file"}
    return arrays.write_prepared(out, summary, features=x, labels=y)

