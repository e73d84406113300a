import json
import time

import numpy as np
import pandas as pd

from rexbench.compendium.artifacts import cached_npz, is_complete, manifest_path, write_table


def test_cached_npz_writes_once_and_detects_changes(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"a": np.arange(3)}

    path = tmp_path / "x.npz"
    out = cached_npz(path, compute, notebook="nb", params={"k": 1})
    np.testing.assert_array_equal(out["a"], [0, 1, 2])
    cached_npz(path, compute, notebook="nb", params={"k": 1})
    assert len(calls) == 1
    manifest = json.loads(manifest_path(path).read_text())
    assert manifest["notebook"] == "nb" and manifest["params"] == {"k": 1}
    cached_npz(path, compute, notebook="nb", params={"k": 2})  # new parameters: recompute
    assert len(calls) == 2


def test_truncated_artifact_is_not_complete(tmp_path):
    path = tmp_path / "x.npz"
    cached_npz(path, lambda: {"a": np.ones(100)}, notebook="nb", params={})
    assert is_complete(path)
    path.write_bytes(path.read_bytes()[:-5])  # a crash mid-write of a non-atomic writer
    assert not is_complete(path)
    manifest_path(path).unlink()
    assert not is_complete(path)


def test_tables_are_byte_identical(tmp_path):
    df = pd.DataFrame({"a": [1 / 3, 2.0], "b": ["x", "y"]})
    write_table(df, tmp_path / "1.csv")
    write_table(df.copy(), tmp_path / "2.csv")
    assert (tmp_path / "1.csv").read_bytes() == (tmp_path / "2.csv").read_bytes()
    assert not list(tmp_path.glob(".*.tmp"))


def test_compute_seconds_recorded_and_collected(tmp_path):
    from rexbench.compendium.artifacts import compute_times

    def slow():
        time.sleep(0.05)
        return {"a": np.ones(2)}

    cached_npz(tmp_path / "a.npz", slow, notebook="nb1", params={})
    write_table(pd.DataFrame({"x": [1]}), tmp_path / "t.csv")
    times = compute_times(tmp_path)
    # The time the computation took is recorded (not the load), per notebook.
    assert times.notebook.tolist() == ["nb1"] and 0.05 <= times.compute_seconds.iloc[0] < 5
