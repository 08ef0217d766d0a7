import gzip

import numpy as np
import pandas as pd
import pytest

from memae.data import kddcup99
from memae.protocols import records


def record(proto="tcp", service="http", flag="SF", label="smurf.", value=0.0):
    nums = [value] * (len(kddcup99.COLUMNS) - 1 - 3)
    return [nums[0], proto, service, flag, *nums[1:], label]


def test_encoding_one_hot_minmax_and_anomaly_label(tmp_path):
    rows = [record(value=0.0), record("udp", "smtp", "S0", "normal.", 2.0),
            record("icmp", "http", "SF", "neptune.", 4.0)]
    df = pd.DataFrame(rows, columns=kddcup99.COLUMNS)
    x, y, names = kddcup99.encode(df)
    # 38 numeric + 3 protocols + 2 services + 2 flags
    assert x.shape == (3, 38 + 3 + 2 + 2)
    assert y.tolist() == [0, 1, 0]
    assert x[:, 0].tolist() == [0.0, 0.5, 1.0]                  # min-max over the file
    assert names[38:41] == ["protocol_type=icmp", "protocol_type=tcp", "protocol_type=udp"]
    assert x[1, 38:41].tolist() == [0, 0, 1]                    # udp
    assert (x[:, 38:].sum(axis=1) == 3).all()                   # one hot per symbolic column


def test_short_record_is_reported_with_its_number(tmp_path):
    path = tmp_path / "kddcup.data_10_percent.gz"
    good = ",".join(map(str, record()))
    with gzip.open(path, "wt") as f:
        f.write(good + "\n" + ",".join(good.split(",")[:10]) + "\n")
    with pytest.raises(ValueError, match="record 2"):
        kddcup99.read_records(path)


def test_split_is_seeded_disjoint_and_trains_on_attacks_only(tmp_path):
    n = 200
    y = (np.arange(n) % 5 == 0).astype(np.uint8)
    np.save(tmp_path / "labels.npy", y)
    np.save(tmp_path / "features.npy", np.arange(n, dtype=np.float32)[:, None])
    params = {"eval": {"test_fraction": 0.5}, "train": {"val_fraction": 0.1, "max_train_samples": None}}
    tr, va = (t.numpy() for t in records.train_data(tmp_path, "all", 3, params))
    xt = records.test_data(tmp_path, "all", 3, params).x
    used = set(tr[:, 0].astype(int)) | set(va[:, 0].astype(int))
    assert not used & set(xt[:, 0].astype(int))
    assert all(y[i] == 0 for i in used)
    assert len(xt) == 100
    assert not np.array_equal(records.test_data(tmp_path, "all", 4, params).x, xt)


@pytest.mark.realdata
def test_real_file_gives_118_dims_and_19_7_percent_anomalies(shared_datasets):
    df = kddcup99.read_records(shared_datasets / "kddcup99" / "kddcup.data_10_percent.gz")
    x, y, names = kddcup99.encode(df)
    assert len(y) == 494_021
    assert x.shape[1] == 118
    assert y.mean() == pytest.approx(0.197, abs=0.001)
    assert 0.0 <= x.min() and x.max() <= 1.0


def _records(path, n=400):
    rng = np.random.default_rng(0)
    y = (np.arange(n) % 5 == 0).astype(np.uint8)
    np.save(path / "labels.npy", y)
    np.save(path / "features.npy", (rng.random((n, 6)) + y[:, None]).astype(np.float32))
    return y


def test_a_model_is_not_scored_on_records_it_trained_on(tmp_path):
    """eval.test_fraction decides which records train (it is a scoring setting, outside a run's
    settings digest): scoring a run after changing it must be refused, not test the model on its
    own training records; the settings it trained with score as before. A run recorded before the
    value was (no train_data_eval in train_log.json) is checked by its record counts."""
    import json
    from memae.config import load_params
    from memae.evaluate import evaluate
    from memae.train import train
    n = 400
    y = _records(tmp_path, n)
    params = load_params("kddcup99", "smoke")
    params["train"].update(epochs=1, batch_size=64)
    vf = params["train"]["val_fraction"]

    def expected(fraction):   # the protocol's split written out: the normal records outside the test part
        train_part = np.random.default_rng(0).permutation(n)[int(round(n * fraction)):]
        normal = int((y[train_part] == 0).sum())
        held = max(1, int(round(normal * vf)))
        return normal - held, held

    run = tmp_path / "run"
    train("kddcup99", tmp_path, "ae", "all", 0, params, run, threads=1)
    log = json.loads((run / "train_log.json").read_text())
    assert log["train_data_eval"] == {"test_fraction": 0.5}
    assert (log["n_train"], log["n_val"]) == expected(0.5) == records.train_sizes(tmp_path, "all", 0, params)
    first = evaluate("kddcup99", tmp_path, run, params, threads=1)["metrics"]

    moved = {**params, "eval": {**params["eval"], "test_fraction": 0.3}}
    with pytest.raises(ValueError, match=r"trained with eval settings \{'test_fraction': 0\.5\}.*0\.3.*--forcerun"):
        evaluate("kddcup99", tmp_path, run, moved, threads=1)
    assert json.loads((run / "metrics.json").read_text())["metrics"] == first   # nothing overwritten

    del log["train_data_eval"]   # a run trained before the value was recorded: its counts decide
    (run / "train_log.json").write_text(json.dumps(log))
    (a, b), (c, d) = expected(0.5), expected(0.3)
    assert (a, b) != (c, d)
    with pytest.raises(ValueError, match=rf"trained on {a} records \({b} held out\).*give {c} \({d}\).*--forcerun"):
        evaluate("kddcup99", tmp_path, run, moved, threads=1)
    assert evaluate("kddcup99", tmp_path, run, params, threads=1)["metrics"] == first


def test_a_checkpoint_of_other_training_records_is_not_resumed(tmp_path, capsys):
    """A run interrupted at test_fraction 0.5 and restarted at 0.3 trains afresh (its checkpoint
    is of other records), alone and in a group; at 0.5 it resumes."""
    from memae.config import load_params
    from memae.ensemble import train_group
    from memae.train import train
    from tests.interrupt import interrupted_after_checkpoint
    _records(tmp_path)
    params = load_params("kddcup99", "smoke")
    params["train"].update(epochs=3, batch_size=64)
    moved = {**params, "eval": {**params["eval"], "test_fraction": 0.3}}
    for name, run_it in (("alone", lambda p, out: train("kddcup99", tmp_path, "ae", "all", 0, p, out, threads=1)),
                         ("group", lambda p, out: train_group("kddcup99", tmp_path, "ae", [("all", 0, out)], p,
                                                              threads=1))):
        out = tmp_path / name
        with interrupted_after_checkpoint(epoch=0):
            run_it(params, out)
        capsys.readouterr()
        with interrupted_after_checkpoint(epoch=1):
            run_it(moved, out)
        assert "belongs to other settings: starting afresh" in capsys.readouterr().out, name
        run_it(moved, out)   # the checkpoint is now of 0.3's records: resumed
        assert "belongs to other settings" not in capsys.readouterr().out, name
