"""Small torch helpers: device choice, seeding, batched inference."""
from __future__ import annotations

import contextlib

import numpy as np
import torch


def resolve_device(device: str | None) -> torch.device:
    """``"auto"`` picks CUDA only when present; otherwise the named device (default CPU)."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@contextlib.contextmanager
def seeded(seed: int):
    """Seed torch's global RNG (weight init, dropout) without leaking the state to the caller."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


def seed_of(random_state) -> int:
    if random_state is None:
        return int(np.random.default_rng().integers(2**31 - 1))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    return int(random_state)


def batched(fn, X: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Apply ``fn`` to row batches of ``X`` and concatenate (inference over large tables)."""
    return torch.cat([fn(X[i : i + batch_size]) for i in range(0, X.shape[0], batch_size)])
