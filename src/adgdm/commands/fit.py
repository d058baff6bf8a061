"""``adgdm fit``: data + detector spec (+ TOML config, ``--param`` overrides, threshold rule) ->
a model folder: the detector's own save (``config.json`` + ``weights.safetensors``) and
``cli.json`` (modality, columns, label/time columns, threshold rule), written atomically."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .._atomic import check_output
from ..modalities import get_modality
from .data import read_data, replace_dir, temp_dir_beside
from .insample import load_fingerprint, record_fingerprint

CLI_META = "cli.json"
THRESHOLDS = ("contamination", "pot", "fixed")


def read_config(path) -> dict:
    """A TOML config: top-level ``detector``, ``modality``, ``columns``, ``label``, ``time``,
    ``seed``, ``threshold`` (a method name, or a table ``{method, contamination, q, level,
    value}``) and a ``[params]`` table of detector parameters."""
    import tomllib

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such config file: {path}")
    try:
        cfg = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid TOML ({e})") from None
    known = {"detector", "modality", "columns", "label", "time", "seed", "threshold", "params"}
    extra = sorted(set(cfg) - known)
    if extra:
        raise ValueError(f"{path}: unknown key(s) {extra}; known: {sorted(known)}")
    if "params" in cfg and not isinstance(cfg["params"], dict):
        raise ValueError(f"{path}: 'params' must be a table ([params])")
    return cfg


def parse_params(items) -> dict:
    """``["k=v", ...]`` -> dict, values parsed like detector specs (numbers, true/false, none,
    ``a|b`` tuples)."""
    from ..detectors.registry import _value

    out = {}
    for item in items or []:
        key, eq, val = str(item).partition("=")
        if not eq or not key.strip():
            raise ValueError(f"bad --param {item!r}; write key=value")
        out[key.strip()] = _value(val)
    return out


def build_detector(spec: str, params: dict, seed: int | None):
    from ..detectors.registry import detector_class, parse_spec

    name, spec_params = parse_spec(spec)
    cls = detector_class(name)
    valid = cls().get_params()
    merged = {**spec_params, **{k: (tuple(v) if isinstance(v, list) else v) for k, v in params.items()}}
    unknown = [k for k in merged if k not in valid]
    if unknown:
        raise ValueError(f"detector {name!r} has no parameter(s) {unknown}; it takes: {', '.join(valid)}")
    for k, v in merged.items():
        _check_type(name, k, v, valid[k])
    if seed is not None and "random_state" in valid:
        merged.setdefault("random_state", seed)
    return cls(**merged)


def _check_type(detector: str, key: str, value, default) -> None:
    """A value of the wrong kind for a parameter whose default is a number or a flag is an error
    naming the parameter (``steps=abc``), not a failure deep inside ``fit``."""
    if value is None or type(default) not in (bool, int, float):
        return
    is_num = isinstance(value, (int, float)) and not isinstance(value, bool)
    if type(default) is bool:
        ok, words = isinstance(value, bool), "true or false"
    elif type(default) is int:
        ok, words = is_num and float(value).is_integer(), "a whole number"
    else:
        ok, words = is_num, "a number"
    if not ok:
        raise ValueError(f"parameter {key!r} of {detector!r} must be {words}, got {value!r}")


def _threshold_rule(threshold, contamination=None) -> dict:
    if threshold is None:
        rule = {"method": "contamination"}
    elif isinstance(threshold, dict):
        rule = dict(threshold)
    else:
        text = str(threshold)
        method, _, val = text.partition(":")
        rule = {"method": method}
        if method == "fixed":
            try:
                rule["value"] = float(val)
            except ValueError:
                raise ValueError(f"--threshold fixed needs a value: fixed:2.5, got {text!r}") from None
        elif val:
            raise ValueError(f"--threshold {text!r}: only 'fixed' takes a value (fixed:2.5)")
    if rule.get("method") not in THRESHOLDS:
        raise ValueError(f"--threshold must be contamination, pot or fixed:VALUE; got {rule.get('method')!r}")
    if contamination is not None:
        rule.setdefault("contamination", float(contamination))
    return rule


def run_fit(data, modality=None, detector=None, out=None, config=None, params=None, columns=None, label=None,
            time_col=None, threshold=None, contamination=None, seed=None, status=None, force: bool = False,
            reader: dict | None = None) -> dict:
    """Fit and save; returns a summary dict (what ``--json`` prints). An existing model folder at
    ``out`` is replaced only with ``force`` (and never a folder that is not an adgdm model).
    ``reader``: how to read a table (``sep``, ``encoding``, ``strict``), kept for scoring."""
    from .._version import __version__
    from ..detectors.registry import detector_class, parse_spec
    from ..io import _json_default
    from ..thresholds import apply_threshold

    cfg = read_config(config) if config else {}
    spec = detector or cfg.get("detector")
    if out is None:
        raise ValueError("--out MODEL_DIR is required")
    check_output(out, [data, config], force)
    if spec is None:
        spec = get_modality(modality or cfg.get("modality") or "tabular").default_detector
    name, _ = parse_spec(spec)
    det_modality = getattr(detector_class(name), "modality", "tabular")
    modality = modality or cfg.get("modality") or det_modality
    if modality != det_modality:
        raise ValueError(f"detector {name!r} is a {det_modality} detector, not {modality}; "
                         f"{modality} detectors: {', '.join(_names(modality))}")
    merged_params = {**cfg.get("params", {}), **(params or {})}
    seed = seed if seed is not None else cfg.get("seed", 0)
    det = build_detector(spec, merged_params, seed)
    columns = columns or cfg.get("columns")
    label = label if label is not None else cfg.get("label")
    time_col = time_col if time_col is not None else cfg.get("time")
    rule = _threshold_rule(threshold if threshold is not None else cfg.get("threshold"), contamination)
    if "contamination" in rule and "contamination" in det.get_params():
        det.set_params(contamination=rule["contamination"])

    notes, encoder = [], None
    adapter = get_modality(modality)
    kinds = {k: list(v) for k, v in (reader or {}).items() if k in ("categorical", "numeric") and v}
    reader = {k: v for k, v in (reader or {}).items() if k not in ("categorical", "numeric")}
    if kinds and adapter.name != "tabular":
        raise ValueError("--categorical and --numeric are for tables (--modality tabular)")
    if adapter.name == "multimodal":
        reader = {k: v for k, v in (reader or {}).items() if v not in (None, False)}
        if "size" not in reader and "image_size" in det.get_params():
            reader["size"] = int(det.get_params()["image_size"])
        d = read_data(data, "multimodal", columns, label, time_col, **reader)
        keep = np.ones(len(d.ids), bool) if d.labels is None else d.labels == 0
        if not keep.any():
            raise ValueError(f"{data}: every record is labelled anomalous (label 1); nothing normal to fit on")
        X = {k: (v[keep] if isinstance(v, np.ndarray) else [t for t, m in zip(v, keep) if m]) for k, v in d.records.items()}
        n_rows, names = int(keep.sum()), d.names
        # scoring reads new manifests the same way: the kinds found here, not inferred again
        reader["image_cols"] = [c for c, v in d.records.items() if isinstance(v, np.ndarray) and v.ndim == 4]
        reader["text_cols"] = [c for c, v in d.records.items() if isinstance(v, list)]
        notes += d.notes + ([f"fitted on the {n_rows} records labelled 0 (of {len(keep)})"] if d.labels is not None else [])
    elif adapter.name == "video":
        d = read_data(data, "video", columns, label, time_col)
        X, n_rows, names = [c.frames for c in d.clips], len(d.ids), []
        clip_hashes = {c.name: clip_hash(c.frames) for c in d.clips}  # score says when it meets them again
        if d.labels is not None:
            notes.append("video: the frame labels are ignored when fitting (fit on normal footage only)")
    elif adapter.source == "folder":
        p = Path(data)
        if not p.exists():
            raise FileNotFoundError(f"no such image folder: {p}")
        if columns or label or time_col:
            raise ValueError("--columns, --label and --time are for tables and series")
        X, n_rows, names = adapter.read_folder(det, p), None, []  # detectors take arrays, not folders
    else:
        reader = {k: v for k, v in (reader or {}).items() if v not in (None, False)}
        d = read_data(data, modality, columns, label, time_col, **reader, **kinds)
        X, names = d.X, d.names
        notes += d.notes
        if d.labels is not None:
            keep = d.labels == 0
            if not keep.any():
                raise ValueError(f"{data}: every row is labelled anomalous (label 1); nothing normal to fit on")
            if adapter.fit_drops_labelled:
                notes.append(f"fitted on the {int(keep.sum())} rows labelled 0 (of {len(keep)})")
                if d.frame is not None:
                    d.frame = d.frame[keep]
                else:
                    X = X[keep]
            else:
                notes.append(f"{modality}: the label column is ignored when fitting (the detector sees the whole "
                             f"{modality})")
        if d.frame is not None:  # text, true/false or blank cells: the table encoder
            X, encoder = encode_for_fit(d.frame, kinds, det, merged_params, str(data), notes)
        else:
            check_finite(X, names, data, getattr(det, "fill", None))
        n_rows = len(X)
        if adapter.name == "tabular":
            import pandas as pd

            # the detector records the feature names (the encoded ones: "service=ftp", "x:missing")
            X = pd.DataFrame(X, columns=encoder.feature_names_ if encoder is not None else names)
    t0 = time.perf_counter()
    if status is not None and "verbose" in det.get_params() and "verbose" not in merged_params:
        det.set_params(verbose=True)  # the training loop's own progress bar (steps, loss)
        try:
            det.fit(X)
        finally:
            det.set_params(verbose=False)  # not saved with the model: scoring stays quiet
    elif status is not None:
        with status(f"fitting {spec} on {data}"):
            det.fit(X)
    else:
        det.fit(X)
    fit_s = time.perf_counter() - t0
    if rule["method"] != "contamination" or "contamination" not in det.get_params():
        apply_threshold(det, **rule)
    if adapter.source == "folder":
        notes.append(f"{len(det.decision_scores_)} training {adapter.unit}s were held out to set the threshold")

    tmp = temp_dir_beside(out)
    try:
        det.save(tmp)
        meta = {"format": "adgdm-cli-model", "adgdm_version": __version__, "modality": modality, "detector": spec,
                "params": {k: v for k, v in merged_params.items()}, "columns": names or None, "label": label,
                "time": time_col, "reader": reader or {}, "threshold": dict(rule, value=float(det.threshold_)), "seed": seed,
                "data": str(data), "fit_seconds": round(fit_s, 3), "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
        record_fingerprint(meta, tmp, X, adapter.name)  # how score knows the fitted data (insample.py)
        if adapter.name == "video":
            meta["clip_hashes"] = clip_hashes
        if encoder is not None:
            meta["encoder"] = encoder.state()  # kinds, categories, centre/scale: scoring encodes the same way
        (tmp / CLI_META).write_text(json.dumps(meta, indent=2, default=_json_default))
        size_mb = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file()) / 1e6
        if size_mb > 10:
            notes.append(f"the model folder holds {size_mb:.1f} MB: {spec} keeps its training data (or features of "
                         "it) as the reference it compares with; fit on a sample to make it smaller")
        replace_dir(tmp, Path(out), CLI_META)
    except BaseException:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        raise
    summary = {"model": str(out), "detector": spec, "modality": modality, "n_fit": n_rows,
               "features": len(names) or None, "threshold": float(det.threshold_), "threshold_method": rule["method"],
               "fit_seconds": round(fit_s, 3), "columns": names, "model_mb": round(size_mb, 3), "notes": notes}
    if encoder is not None:
        summary["kinds"] = encoder.kinds_
        summary["encoded_features"] = len(encoder.feature_names_)
    return summary


def encode_for_fit(frame, kinds: dict, det, params: dict, where: str, notes: list):
    """A mixed table's feature columns -> ``(encoded matrix, fitted TableEncoder)``; the inferred
    kinds go into ``notes``. The encoder already puts every column on one scale (numbers
    standardised, a category mismatch ~1.4 standard deviations), so a detector's own
    ``standardize`` is turned off unless ``--param standardize=...`` says otherwise."""
    from ..data.encoder import TableEncoder

    model_blanks = bool(getattr(det, "_takes_nan", lambda: False)())
    encoder = TableEncoder(kinds.get("categorical", ()), kinds.get("numeric", ()),
                           blanks="nan" if model_blanks else "fill").fit(frame, where)
    X = encoder.transform(frame, where)
    notes += encoder.describe()
    numeric_blanks = any(c.get("has_blanks") for c in encoder.columns_ if c["kind"] == "numeric")
    notes.append(f"encoded to {X.shape[1]} columns (numbers standardised, categories one-hot, category blanks as "
                 f"their own level); override kinds with --categorical / --numeric")
    if model_blanks:
        notes.append(f"blank numeric cells: left to {det.name}, which imputes each from the nearest training rows "
                     f"on the row's observed cells (missing={det.get_params().get('missing')!r}), no indicator column"
                     + ("" if numeric_blanks else "; none in the training rows"))
    elif numeric_blanks:
        notes.append(f"blank numeric cells: {det.name} does not take them here, so each is filled with the column mean "
                     "plus a name:missing indicator column")
    if getattr(det, "reads_tables", False):
        notes.append(f"{det.name} sees the encoder's columns here (categories one-hot, Gaussian diffusion); from Python "
                     "it reads a DataFrame itself: multinomial diffusion for categories, blank cells masked in training")
    if "standardize" in det.get_params() and "standardize" not in params and det.get_params()["standardize"]:
        det.set_params(standardize=False)
        notes.append("standardize=false: the encoder already scaled the columns")
    return X, encoder


def clip_hash(frames) -> str:
    """SHA-256 of a clip's frames (float32 bytes and shape): the same footage gives the same hash."""
    import hashlib

    a = np.ascontiguousarray(frames, dtype=np.float32)
    return hashlib.sha256(str(a.shape).encode() + memoryview(a).cast("B")).hexdigest()


def check_finite(X, names, data, fill=None) -> None:
    """Missing or infinite cells are an error naming the first one, unless the detector fills
    missing steps itself (``fill``, e.g. ``--param fill=ffill``): then only infinities are."""
    bad = np.isinf(X) if fill is not None else ~np.isfinite(X)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        what = "infinite" if fill is not None else "missing or infinite"
        hint = "" if fill is not None else "; clean or impute them first (series detectors: --param fill=ffill)"
        raise ValueError(f"{data}: {int(bad.sum())} {what} values (first at row {int(r)}, column {names[c]!r}){hint}")


def _names(modality):
    from ..detectors.registry import list_detectors

    return list_detectors(modality)


def input_columns(meta: dict) -> list[str] | None:
    """The table columns a model reads, by name (a mixed table's encoder columns, else the fitted
    columns); None when the model does not record them."""
    if meta.get("encoder") is not None:
        return [c["name"] for c in meta["encoder"].get("columns", [])] or None
    return list(meta["columns"]) if meta.get("columns") else None


def read_model(model_dir):
    """``(detector, cli meta)``; a model saved from Python (no ``cli.json``) gets meta inferred from
    the detector."""
    from .. import load

    p = Path(model_dir)
    if not p.exists():
        raise FileNotFoundError(f"no such model folder: {p}")
    if not p.is_dir():
        raise ValueError(f"{p} is a file; a model is the folder written by adgdm fit or detector.save")
    try:
        det = load(p)
    except (ValueError, FileNotFoundError):
        raise
    except Exception as e:  # a damaged file: safetensors, a field of the wrong type, ...
        raise ValueError(f"{p}: the model folder is damaged ({type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''}); restore it or refit") from None
    meta_path = p / CLI_META
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{meta_path}: corrupted ({e}); refit the model") from None
        if not isinstance(meta, dict) or "modality" not in meta:
            raise ValueError(f"{meta_path}: corrupted (no 'modality'); refit the model")
    else:
        names = getattr(det, "feature_names_in_", None)
        if names is None:
            names = getattr(det, "channel_names_", None)
        meta = {"modality": getattr(det, "modality", "tabular"), "detector": det.name,
                "columns": None if names is None else [str(n) for n in names], "label": None, "time": None}
    try:
        return det, load_fingerprint(p, meta)
    except (ValueError, FileNotFoundError):
        raise
    except Exception as e:
        raise ValueError(f"{p}: the model folder is damaged ({type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''}); restore it or refit") from None
