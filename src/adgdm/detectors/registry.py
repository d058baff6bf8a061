"""Registry names -> detector classes, and ``"name:key=value,..."`` spec strings."""
from __future__ import annotations

import ast

from .._params import renamed_params
from ..io import ModelFileError, read_saved
from .base import BaseDetector, nested_state, restore_nested

_REGISTRY: dict[str, type[BaseDetector]] = {}


def register(cls: type[BaseDetector]) -> type[BaseDetector]:
    _REGISTRY[cls.name] = cls
    return cls


def list_detectors(modality: str | None = "tabular") -> list[str]:
    """Registered detector names of one ``modality`` (``"tabular"``, ``"series"``; None = all),
    in registration order."""
    return [n for n, c in _REGISTRY.items() if modality is None or getattr(c, "modality", "tabular") == modality]


def detector_class(name: str) -> type[BaseDetector]:
    if name not in _REGISTRY:
        raise ValueError(f"unknown detector {name!r}; known: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def _value(text: str):
    t = text.strip()
    low = t.lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    if "|" in t:  # tuples: noise_levels=0.1|0.2
        return tuple(_value(v) for v in t.split("|"))
    try:
        return ast.literal_eval(t)
    except (ValueError, SyntaxError):
        return t


def parse_spec(spec: str) -> tuple[str, dict]:
    """``"ddpm:steps=100,scoring=noise"`` -> ``("ddpm", {"steps": 100, "scoring": "noise"})``."""
    name, _, rest = spec.strip().partition(":")
    params = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, val = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"bad parameter {item!r} in detector spec {spec!r}; write key=value")
        params[key.strip()] = _value(val)
    return name.strip(), params


def make_detector(spec: str, **overrides) -> BaseDetector:
    """Build a detector from a registry name or spec string; ``overrides`` win over the spec.

    Parameters the detector does not take (e.g. ``random_state`` for PyOD's ECOD) are dropped from
    ``overrides`` but are an error inside the spec string.

    Example
    -------
    >>> make_detector("ddpm:steps=10", random_state=0).steps
    10
    """
    name, params = parse_spec(spec)
    modality = overrides.pop("modality", None)
    if name == "auto" and modality is not None:  # make_detector("auto", modality="series")
        from ..modalities import get_modality

        name = get_modality(modality).auto_detector or ""
        if not name:
            raise ValueError(f"no 'auto' detector for {modality}: choose one of {', '.join(list_detectors(modality))}")
    cls = detector_class(name)
    params = renamed_params(cls, params)
    overrides = renamed_params(cls, overrides)
    valid = cls().get_params()
    unknown = [k for k in params if k not in valid]
    if unknown:
        raise ValueError(f"detector {name!r} has no parameter(s) {unknown}; it takes: {', '.join(valid)}")
    params.update({k: v for k, v in overrides.items() if k in valid})
    return cls(**params)


def load(path):
    """Load a detector saved with ``detector.save(path)``.

    Example
    -------
    >>> det = adgdm.make_detector("dte-np").fit(X)   # doctest: +SKIP
    >>> det.save("model"); same = adgdm.load("model")  # doctest: +SKIP
    """
    config, arrays = read_saved(path)
    try:
        cls = detector_class(config["detector"])
    except ValueError as e:
        raise ModelFileError(f"{path}: {e}") from None
    return cls._from_saved(config, arrays)


def parts_state(parts) -> tuple[list, dict]:
    """Several fitted sub-detectors' states (a fusion's parts): one record each, arrays under
    ``part{i}.``; inverse :func:`restore_parts`."""
    records, arrays = [], {}
    for i, p in enumerate(parts):
        m, a = nested_state(p, f"part{i}")
        records.append({"name": p.name, "params": p.get_params(), "meta": m})
        arrays.update(a)
    return records, arrays


def restore_parts(records: list, arrays: dict) -> list:
    """Inverse of :func:`parts_state`."""
    return [restore_nested(detector_class(p["name"]), p["params"], p["meta"], arrays, f"part{i}")
            for i, p in enumerate(records)]
