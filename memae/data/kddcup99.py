"""KDDCUP99, 10 percent file (reference section 4, DAGMM's convention).

Records labelled "normal." are the anomalies (about 20%); every attack record is normal data for
the model. The 3 symbolic columns are one-hot encoded with the categories that occur in the file
(118 dimensions on the real 10 percent file), numeric columns are min-max scaled over the whole
file. Split "all" with seed k: a seeded 50/50 split of the records; the model trains on the
non-anomalous records of the first half and is tested on the second half, where the top
`eval.threshold_top_fraction` (20%) of scores are flagged as anomalies.
"""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

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
ANOMALY_LABEL = "normal."


def read_records(path: Path) -> pd.DataFrame:
    path = Path(path)
    try:
        df = pd.read_csv(path, header=None, names=COLUMNS, compression="infer")
    except (pd.errors.ParserError, OSError, EOFError, UnicodeDecodeError, zlib.error) as e:
        raise ValueError(f"{path}: cannot parse as KDDCUP99 records ({e}); fetch it again") from None
    if df["label"].isna().any():
        row = int(np.flatnonzero(df["label"].isna().to_numpy())[0])
        raise ValueError(f"{path}: record {row + 1} has fewer than {len(COLUMNS)} fields")
    numeric = [c for c in COLUMNS if c not in SYMBOLIC and c != "label"]
    bad = [c for c in numeric if not pd.api.types.is_numeric_dtype(df[c])]
    if bad:
        raise ValueError(f"{path}: non-numeric values in column(s) {', '.join(bad)}")
    return df


def encode(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Records -> (features float32 in [0,1], is_anomaly uint8, feature names)."""
    numeric = [c for c in COLUMNS if c not in SYMBOLIC and c != "label"]
    num = df[numeric].to_numpy(np.float64)
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
    return x, y, names


def prepare(raw: Path, out: Path, params: dict | None = None, workers: int = 1) -> dict:
    df = read_records(Path(raw) / "kddcup.data_10_percent.gz")
    x, y, names = encode(df)
    summary = {"dataset": "kddcup99", "records": int(len(y)), "dims": int(x.shape[1]),
               "anomaly_share": float(y.mean()), "features": names,
               "categories_from": "the categories that occur in the 10 percent file"}
    return arrays.write_prepared(out, summary, features=x, labels=y)


def _split(prepared, seed: int, params: dict) -> tuple[np.ndarray, np.ndarray]:
    n = len(arrays.load(prepared, "labels"))
    perm = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * params["eval"]["test_fraction"]))
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def train_data(prepared, split: str, seed: int, params: dict) -> tuple[np.ndarray, np.ndarray]:
    train_idx, _ = _split(prepared, seed, params)
    y = arrays.load(prepared, "labels", mmap=False)
    idx = train_idx[y[train_idx] == 0]
    idx = np.random.default_rng(seed + 1).permutation(idx)
    n_val = max(1, int(round(len(idx) * params["train"]["val_fraction"])))
    val, train = idx[:n_val], idx[n_val:]
    cap = params["train"]["max_train_samples"]
    if cap:
        train = train[:cap]
    x = arrays.load(prepared, "features")
    return np.ascontiguousarray(x[np.sort(train)]), np.ascontiguousarray(x[np.sort(val)])


def test_data(prepared, split: str, seed: int, params: dict) -> tuple[np.ndarray, np.ndarray]:
    _, test_idx = _split(prepared, seed, params)
    x = arrays.load(prepared, "features")
    y = arrays.load(prepared, "labels", mmap=False)
    return np.ascontiguousarray(x[test_idx]), y[test_idx].astype(np.int64)


def flag_top(scores: np.ndarray, fraction: float) -> np.ndarray:
    """Flag the `fraction` highest scores (ties broken by order) as anomalies."""
    k = int(round(len(scores) * fraction))
    pred = np.zeros(len(scores), dtype=np.int64)
    pred[np.argsort(-scores, kind="stable")[:k]] = 1
    return pred


def metrics(scores: np.ndarray, labels: np.ndarray, params: dict) -> dict:
    pred = flag_top(scores, params["eval"]["threshold_top_fraction"])
    p, r, f, _ = precision_recall_fscore_support(labels, pred, average="binary", zero_division=0)
    return {"precision": float(p), "recall": float(r), "f1": float(f),
            "auc": float(roc_auc_score(labels, scores))}
