"""What a model is made of, as a user writes it: a detector spec with parameters (``--param``), a
TOML config and a threshold rule, checked into a detector instance and a rule dict."""
from __future__ import annotations

from pathlib import Path

THRESHOLDS = ("contamination", "pot", "fixed")

__all__ = ["read_config", "parse_params", "build_detector", "threshold_rule", "THRESHOLDS"]


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
    from .._params import renamed_params
    from ..detectors.registry import detector_class, parse_spec

    name, spec_params = parse_spec(spec)
    cls = detector_class(name)
    valid = cls().get_params()
    # a parameter's old name (``score``: --param, a spec string, an old model card) still works, with a warning
    merged = {**renamed_params(cls, spec_params),
              **renamed_params(cls, {k: (tuple(v) if isinstance(v, list) else v) for k, v in params.items()})}
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


def threshold_rule(threshold, contamination=None) -> dict:
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
        elif method == "pot" and val:  # pot:Q[:LEVEL], the risk (the share of normal data expected above it)
            q, _, level = val.partition(":")
            try:
                rule["q"] = float(q)
                if level:  # the initial quantile of the tail fit: 0.9 fits on 100 scores, 0.98 needs 500
                    rule["level"] = float(level)
            except ValueError:
                raise ValueError(f"--threshold pot takes its risk as pot:0.001 (and its level as pot:0.001:0.9), "
                                 f"got {text!r}") from None
            if not 0.0 < rule["q"] < 0.5:
                raise ValueError(f"--threshold pot:Q needs 0 < Q < 0.5 (the share of normal data flagged), got {text!r}")
            if level and not 0.0 < rule["level"] < 1.0:
                raise ValueError(f"--threshold pot:Q:LEVEL needs 0 < LEVEL < 1 (the quantile the tail is fitted "
                                 f"above), got {text!r}")
        elif val:
            raise ValueError(f"--threshold {text!r}: only 'fixed' and 'pot' take a value (fixed:2.5, pot:0.001)")
    if rule.get("method") not in THRESHOLDS:
        raise ValueError(f"--threshold must be contamination, pot[:Q[:LEVEL]] or fixed:VALUE; got {rule.get('method')!r}")
    if contamination is not None:
        rule.setdefault("contamination", float(contamination))
    return rule
