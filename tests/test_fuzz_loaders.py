"""Hypothesis fuzzing of what reads user files (issue 21): CSV and Parquet tables and model folders.
Whatever the bytes, a loader returns data or raises ``ValueError``/``FileNotFoundError`` with a
message; never another exception type (which the command line would show as an internal error)."""
import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest

hypothesis = pytest.importorskip("hypothesis", reason="the [test] extra (hypothesis) is not installed")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from adgdm.modalities.readers import read_table  # noqa: E402
from adgdm.pipeline import Pipeline  # noqa: E402

FUZZ = settings(max_examples=int(os.environ.get("ADGDM_FUZZ_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CLEAR = (ValueError, FileNotFoundError)

cell = st.one_of(st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=True).map(repr), st.text(max_size=6),
                 st.sampled_from(["", "NA", "nan", "inf", "-inf", "true", "1e999", '"', "a,b", "\t"]))


@FUZZ
@given(rows=st.lists(st.lists(cell, min_size=1, max_size=5), min_size=0, max_size=8),
       sep=st.sampled_from([",", ";", "\t", "|"]))
def test_csv_text(tmp_path, rows, sep):
    path = tmp_path / "t.csv"
    path.write_text("\n".join(sep.join(r) for r in rows), encoding="utf-8")
    for mixed in (None, False):
        try:
            d = read_table(path, mixed=mixed)
        except CLEAR as e:
            assert str(e)
        else:
            assert d.X is None or (d.X.ndim == 2 and d.X.shape[0] == len(d.ids))


@FUZZ
@given(blob=st.binary(max_size=300))
def test_csv_and_parquet_bytes(tmp_path, blob):
    for name in ("b.csv", "b.parquet"):
        path = tmp_path / name
        path.write_bytes(blob)
        try:
            read_table(path)
        except CLEAR as e:
            assert str(e)


@FUZZ
@given(frame=st.lists(st.tuples(st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=4),
                                 st.booleans() | st.none()), min_size=0, max_size=6))
def test_parquet_frames(tmp_path, frame):
    path = tmp_path / "f.parquet"
    pd.DataFrame(frame, columns=["x", "s", "b"]).to_parquet(path)
    try:
        read_table(path)
    except CLEAR as e:
        assert str(e)


@pytest.fixture(scope="module")
def good_model(tmp_path_factory):
    from adgdm.cli import _build_app
    from typer.testing import CliRunner

    d = tmp_path_factory.mktemp("fuzzmodel")
    rng = np.random.default_rng(0)
    pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"]).to_csv(d / "t.csv", index=False)
    res = CliRunner().invoke(_build_app(), ["fit", str(d / "t.csv"), "--out", str(d / "m")])
    assert res.exit_code == 0, res.output
    return d / "m"


@FUZZ
@given(target=st.sampled_from(["weights.safetensors", "config.json", "cli.json", "fingerprint.safetensors"]),
       how=st.sampled_from(["truncate", "flip", "json"]), where=st.floats(0, 1), value=st.binary(min_size=1, max_size=8),
       doc=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                        max_leaves=6))
def test_model_folder(tmp_path, good_model, target, how, where, value, doc):
    folder = tmp_path / "m"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(good_model, folder)
    f = folder / target
    blob = f.read_bytes()
    at = int(where * len(blob))
    if how == "truncate":
        f.write_bytes(blob[:at])
    elif how == "flip":
        f.write_bytes(blob[:at] + value + blob[at + len(value):])
    elif target.endswith(".json"):
        state = json.loads(blob)
        keys = list(state) if isinstance(state, dict) else []
        if keys:
            state[keys[int(where * (len(keys) - 1))]] = doc  # one field replaced by any JSON value
        f.write_text(json.dumps(state))
    try:
        pipe = Pipeline.load(folder)
    except CLEAR as e:
        assert str(e)
    else:
        assert pipe.card_.modality and hasattr(pipe.detector_, "decision_function")
