"""Persistence: a folder with ``config.json`` (format version, class, parameters, fitted metadata)
and ``weights.safetensors`` (every array). Nothing is unpickled, so loading runs no code.
``adgdm.load`` (in ``detectors.registry``) turns a folder back into a detector."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ._atomic import follow_umask
from ._version import __version__

FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "weights.safetensors"

__all__ = ["FORMAT_VERSION", "ModelFileError", "save_detector", "read_saved"]


class ModelFileError(ValueError):
    """A saved detector is missing, corrupted, of another kind, or from a newer adgdm."""


def save_detector(path, kind: str, params: dict, meta: dict, arrays: dict[str, np.ndarray]) -> Path:
    from safetensors.numpy import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)

    config = {"format": "adgdm-detector", "format_version": FORMAT_VERSION, "adgdm_version": __version__,
              "detector": kind, "params": params, "fitted": meta}
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    # Write to temporary names first so an interrupted save never leaves a half-written model.
    tmp_w, tmp_c = path / (WEIGHTS_NAME + ".tmp"), path / (CONFIG_NAME + ".tmp")
    save_file(arrays, str(tmp_w))
    tmp_c.write_text(json.dumps(config, indent=2, sort_keys=True, default=_json_default))
    follow_umask(tmp_w)  # safetensors writes 0600; the other files follow the umask
    os.replace(tmp_w, path / WEIGHTS_NAME)
    os.replace(tmp_c, path / CONFIG_NAME)
    return path


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"cannot store {type(o).__name__} in a model config")


def read_saved(path) -> tuple[dict, dict[str, np.ndarray]]:
    path = Path(path)
    cfg_file, w_file = path / CONFIG_NAME, path / WEIGHTS_NAME
    if not path.exists():
        raise ModelFileError(f"no saved detector at {str(path)!r}")
    if not cfg_file.is_file() or not w_file.is_file():
        raise ModelFileError(f"{str(path)!r} is not an adgdm model folder: expected {CONFIG_NAME} and {WEIGHTS_NAME}")
    try:
        config = json.loads(cfg_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{cfg_file} is corrupted (not valid JSON): {e}") from None
    if not isinstance(config, dict) or config.get("format") != "adgdm-detector":
        raise ModelFileError(f"{cfg_file} is not an adgdm detector config")
    version = config.get("format_version")
    if not isinstance(version, int):
        raise ModelFileError(f"{cfg_file} has no valid format_version")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path} was saved in model format {version} by adgdm {config.get('adgdm_version')}; "
                             f"this adgdm reads format {FORMAT_VERSION} and older. Upgrade adgdm to load it")
    try:
        from safetensors.numpy import load_file

        arrays = load_file(str(w_file))
    except Exception as e:  # safetensors raises its own error types for truncated or garbled files
        raise ModelFileError(f"{w_file} is corrupted or not a safetensors file: {e}") from None
    return config, arrays
