"""Saving a network with its noise schedule as ``(meta, arrays)``: JSON-able metadata and named
numpy arrays, the two halves of a model folder (``config.json`` + ``weights.safetensors``).

The format is fixed (saved models must keep loading): weights under ``net.<parameter>``, and
``meta = {"net": {"class": ..., "config": ...}, "schedule": schedule.config()}``.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..nets import build_net
from .schedules import NoiseSchedule

__all__ = ["net_arrays", "load_net_arrays", "net_state", "restore_net"]


def net_arrays(net: nn.Module, prefix: str = "net.") -> dict:
    """The network's weights as numpy arrays named ``prefix + parameter``."""
    return {f"{prefix}{k}": v.detach().cpu().numpy() for k, v in net.state_dict().items()}


def load_net_arrays(net: nn.Module, arrays: dict, device="cpu", prefix: str = "net.") -> nn.Module:
    """Load the ``prefix`` arrays into ``net`` (strict: a missing or misshapen weight raises
    ``RuntimeError``); returns it on ``device`` in eval mode."""
    state = {k[len(prefix):]: torch.from_numpy(np.array(v)) for k, v in arrays.items() if k.startswith(prefix)}
    net.load_state_dict(state, strict=True)
    return net.to(device).eval()


def net_state(net: nn.Module, schedule: NoiseSchedule) -> tuple[dict, dict]:
    """``(meta, arrays)`` of a network (with a ``config`` dict) and its schedule.

    Example
    -------
    >>> from adgdm.nets import ResidualMLP
    >>> meta, arrays = net_state(ResidualMLP(3, width=8, depth=1), NoiseSchedule(n_steps=10))
    >>> net, schedule = restore_net(meta, arrays)
    >>> type(net).__name__, schedule.n_steps
    ('ResidualMLP', 10)
    """
    meta = {"net": {"class": type(net).__name__, "config": net.config}, "schedule": schedule.config()}
    return meta, net_arrays(net)


def restore_net(meta: dict, arrays: dict, device="cpu", expect: str | None = None) -> tuple[nn.Module, NoiseSchedule]:
    """Inverse of :func:`net_state`: ``(network in eval mode on device, schedule)``. ``expect``
    names the network class the caller needs (``ValueError`` otherwise)."""
    schedule = NoiseSchedule(**meta["schedule"])
    name = meta["net"]["class"]
    if expect is not None and name != expect:
        raise ValueError(f"expected a {expect}, the file holds a {name}")
    net = build_net(name, meta["net"]["config"])
    return load_net_arrays(net, arrays, device), schedule
