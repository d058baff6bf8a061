"""Saved detectors: a folder of config.json + weights.safetensors; every damaged folder is refused
with adgdm.ModelFileError (a ValueError) and nothing is ever unpickled."""
from __future__ import annotations

import json
import pickle
import re
import shutil
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import adgdm
from adgdm.io import CONFIG_NAME, FORMAT_VERSION, WEIGHTS_NAME
from conftest import make

SRC = Path(adgdm.__file__).parent


@pytest.fixture(scope="module")
def saved(table, tmp_path_factory):
    """One saved folder per kind of state: kNN rows (dte-np), a network (ddpm), a PyOD refit (pyod-knn)."""
    root = tmp_path_factory.mktemp("saved")
    out = {}
    for name in ("dte-np", "ddpm", "pyod-knn", "diffusion"):
        det = make(name).fit(table.X)
        det.save(root / name)
        out[name] = (det, root / name)
    return out


@pytest.fixture
def copy_of(saved, tmp_path):
    def _copy(name):
        dst = tmp_path / name
        shutil.copytree(saved[name][1], dst)
        return dst
    return _copy


def _read_config(path):
    return json.loads((path / CONFIG_NAME).read_text())


def _write_config(path, cfg):
    (path / CONFIG_NAME).write_text(json.dumps(cfg))


def test_model_file_error_is_a_value_error():
    assert issubclass(adgdm.ModelFileError, ValueError)


@pytest.mark.parametrize("name", ["dte-np", "ddpm", "pyod-knn", "diffusion"])
def test_saved_folder_is_json_plus_safetensors(saved, name):
    det, path = saved[name]
    assert sorted(p.name for p in path.iterdir()) == [CONFIG_NAME, WEIGHTS_NAME]
    cfg = _read_config(path)
    assert cfg["format"] == "adgdm-detector"
    assert cfg["format_version"] == FORMAT_VERSION
    assert cfg["detector"] == name
    assert cfg["adgdm_version"] == adgdm.__version__
    # safetensors layout: u64 little-endian header length, a JSON header, then raw tensor bytes only
    raw = (path / WEIGHTS_NAME).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
    assert len(raw) == 8 + n + max(ends)
    assert "decision_scores_" in header


def test_resaving_into_the_same_folder_leaves_no_temporary_files(saved, copy_of, table):
    det, _ = saved["dte-np"]
    path = copy_of("dte-np")
    det.save(path)
    assert sorted(p.name for p in path.iterdir()) == [CONFIG_NAME, WEIGHTS_NAME]
    np.testing.assert_array_equal(adgdm.load(path).decision_function(table.test), det.decision_function(table.test))


def test_network_weights_round_trip_exactly(saved):
    det, path = saved["ddpm"]
    loaded = adgdm.load(path)
    a, b = det.net_.state_dict(), loaded.net_.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert (a[k] == b[k]).all(), k


# --- damaged weights -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["dte-np", "ddpm"])
def test_garbage_weights(copy_of, name):
    path = copy_of(name)
    (path / WEIGHTS_NAME).write_bytes(b"this is not a safetensors file \x00\xff" * 10)
    with pytest.raises(adgdm.ModelFileError, match=r"weights\.safetensors is corrupted or not a safetensors file"):
        adgdm.load(path)


@pytest.mark.parametrize("name", ["dte-np", "ddpm"])
def test_truncated_weights(copy_of, name):
    path = copy_of(name)
    w = path / WEIGHTS_NAME
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    with pytest.raises(adgdm.ModelFileError, match="corrupted or not a safetensors file"):
        adgdm.load(path)


def test_empty_weights(copy_of):
    path = copy_of("ddpm")
    (path / WEIGHTS_NAME).write_bytes(b"")
    with pytest.raises(adgdm.ModelFileError, match="corrupted or not a safetensors file"):
        adgdm.load(path)


def test_weights_missing_a_tensor(copy_of):
    from safetensors.numpy import load_file, save_file

    path = copy_of("ddpm")
    arrays = load_file(str(path / WEIGHTS_NAME))
    dropped = next(k for k in arrays if k.startswith("net."))
    del arrays[dropped]
    save_file(arrays, str(path / WEIGHTS_NAME))
    with pytest.raises(adgdm.ModelFileError, match="incomplete or inconsistent"):
        adgdm.load(path)


def test_weights_with_a_misshapen_tensor(copy_of):
    from safetensors.numpy import load_file, save_file

    path = copy_of("ddpm")
    arrays = load_file(str(path / WEIGHTS_NAME))
    key = next(k for k, v in arrays.items() if k.startswith("net.") and v.ndim == 2)
    arrays[key] = np.zeros((3, 3), dtype=arrays[key].dtype)
    save_file(arrays, str(path / WEIGHTS_NAME))
    with pytest.raises(adgdm.ModelFileError, match="incomplete or inconsistent"):
        adgdm.load(path)


def test_training_rows_of_the_wrong_width(copy_of):
    from safetensors.numpy import load_file, save_file

    path = copy_of("dte-np")
    arrays = load_file(str(path / WEIGHTS_NAME))
    arrays["X_train_"] = np.ascontiguousarray(arrays["X_train_"][:, :3])
    save_file(arrays, str(path / WEIGHTS_NAME))
    with pytest.raises(adgdm.ModelFileError, match="incomplete or inconsistent"):
        adgdm.load(path)


def test_pickle_in_the_weights_file_is_never_unpickled(copy_of, tmp_path):
    """A pickle whose loading would create a marker file: load must refuse it without running it."""
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = copy_of("ddpm")
    (path / WEIGHTS_NAME).write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(adgdm.ModelFileError):
        adgdm.load(path)
    assert not marker.exists()


# --- damaged config --------------------------------------------------------------------------------
def test_config_not_json(copy_of):
    path = copy_of("dte-np")
    (path / CONFIG_NAME).write_text('{"format": "adgdm-detector", "format_version": 1,')  # cut short
    with pytest.raises(adgdm.ModelFileError, match=r"config\.json is corrupted \(not valid JSON\)"):
        adgdm.load(path)


def test_config_binary_garbage(copy_of):
    path = copy_of("dte-np")
    (path / CONFIG_NAME).write_bytes(bytes(range(128, 256)))
    with pytest.raises(adgdm.ModelFileError, match="corrupted"):
        adgdm.load(path)


@pytest.mark.parametrize("cfg", [[1, 2], {"format": "something-else", "format_version": 1}, {}])
def test_config_of_another_kind(copy_of, cfg):
    path = copy_of("dte-np")
    _write_config(path, cfg)
    with pytest.raises(adgdm.ModelFileError, match="is not an adgdm detector config"):
        adgdm.load(path)


@pytest.mark.parametrize("version", [None, "1", 1.5])
def test_config_without_a_valid_format_version(copy_of, version):
    path = copy_of("dte-np")
    cfg = _read_config(path)
    cfg["format_version"] = version
    _write_config(path, cfg)
    with pytest.raises(adgdm.ModelFileError, match="has no valid format_version"):
        adgdm.load(path)


def test_newer_format_version_asks_for_an_upgrade(copy_of):
    path = copy_of("dte-np")
    cfg = _read_config(path)
    cfg["format_version"] = FORMAT_VERSION + 1
    cfg["adgdm_version"] = "99.0"
    _write_config(path, cfg)
    with pytest.raises(adgdm.ModelFileError,
                       match=rf"saved in model format {FORMAT_VERSION + 1} by adgdm 99\.0; .*Upgrade adgdm"):
        adgdm.load(path)


def test_older_format_version_still_loads(copy_of, saved, table):
    """Versions up to FORMAT_VERSION are read (the check is ``>``, not ``!=``)."""
    path = copy_of("dte-np")
    assert _read_config(path)["format_version"] == FORMAT_VERSION
    np.testing.assert_array_equal(adgdm.load(path).decision_function(table.test),
                                  saved["dte-np"][0].decision_function(table.test))


def test_unknown_detector_name(copy_of):
    path = copy_of("dte-np")
    cfg = _read_config(path)
    cfg["detector"] = "no-such-detector"
    _write_config(path, cfg)
    with pytest.raises(adgdm.ModelFileError, match=r"unknown detector 'no-such-detector'"):
        adgdm.load(path)


def test_config_with_an_unknown_parameter(copy_of):
    path = copy_of("dte-np")
    cfg = _read_config(path)
    cfg["params"]["bogus"] = 1
    _write_config(path, cfg)
    with pytest.raises(adgdm.ModelFileError, match="incomplete or inconsistent"):
        adgdm.load(path)


@pytest.mark.parametrize("key", ["threshold_", "n_features_in_"])
def test_config_missing_fitted_metadata(copy_of, key):
    path = copy_of("ddpm")
    cfg = _read_config(path)
    del cfg["fitted"][key]
    _write_config(path, cfg)
    with pytest.raises(adgdm.ModelFileError, match="incomplete or inconsistent"):
        adgdm.load(path)


# --- missing files ---------------------------------------------------------------------------------
def test_missing_folder(tmp_path):
    with pytest.raises(adgdm.ModelFileError, match="no saved detector at"):
        adgdm.load(tmp_path / "does-not-exist")


@pytest.mark.parametrize("remove", [CONFIG_NAME, WEIGHTS_NAME])
def test_folder_missing_a_file(copy_of, remove):
    path = copy_of("dte-np")
    (path / remove).unlink()
    with pytest.raises(adgdm.ModelFileError, match="is not an adgdm model folder"):
        adgdm.load(path)


# --- what the saved model remembers ---------------------------------------------------------------
def test_feature_names_survive_saving(table, tmp_path):
    cols = ["w", "x", "y", "z"]
    det = make("dte-np").fit(pd.DataFrame(table.X, columns=cols))
    det.save(tmp_path / "m")
    loaded = adgdm.load(tmp_path / "m")
    assert list(loaded.feature_names_in_) == cols
    np.testing.assert_array_equal(loaded.decision_function(pd.DataFrame(table.test, columns=cols)),
                                  det.decision_function(pd.DataFrame(table.test, columns=cols)))
    with pytest.raises(ValueError, match="column names differ"):
        loaded.decision_function(pd.DataFrame(table.test, columns=["a", "b", "c", "d"]))


def test_standardisation_survives_saving(table, tmp_path):
    """Raw (unscaled) input is scaled with the training statistics after loading too."""
    X = table.X * [1, 10, 100, 1000] + [0, 5, -50, 500]
    det = make("dte-np").fit(X)
    det.save(tmp_path / "m")
    loaded = adgdm.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.center_, det.center_)
    np.testing.assert_array_equal(loaded.scale_, det.scale_)
    T = table.test * [1, 10, 100, 1000] + [0, 5, -50, 500]
    np.testing.assert_array_equal(loaded.decision_function(T), det.decision_function(T))


def test_baseline_with_default_random_state_round_trips(table, tmp_path):
    """PyOD baselines are refitted at load time; with the default ``random_state=None`` the loaded
    isolation forest must still score like the one that was saved (its threshold_ and
    decision_scores_ are the saved ones)."""
    det = adgdm.make_detector("pyod-iforest:n_estimators=30").fit(table.X)
    det.save(tmp_path / "m")
    loaded = adgdm.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.decision_function(table.test), det.decision_function(table.test))


# --- no pickle anywhere ----------------------------------------------------------------------------
def test_source_never_unpickles():
    pattern = re.compile(r"^\s*(import|from)\s+(pickle|cPickle|dill|cloudpickle|joblib)\b|torch\.load\((?![^)]*weights_only=True)|"
                         r"allow_pickle\s*=\s*True|pickle\.loads?\(|\.load_state_dict\(torch", re.M)
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 20
    offenders = {str(f.relative_to(SRC)): pattern.findall(f.read_text()) for f in files}
    assert {k: v for k, v in offenders.items() if v} == {}
    # the one numpy loader refuses pickled arrays explicitly
    assert "allow_pickle=False" in (SRC / "data" / "tabular.py").read_text()
