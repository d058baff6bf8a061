"""What ``adgdm serve`` is told: the model folder, the keys and the limits (with defaults)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .keys import ApiKeys


@dataclass
class ServeConfig:
    """``max_body_bytes``: a request body (413 above); ``max_rows``: rows or steps per request (413);
    ``max_pixels``: an uploaded image's width x height (413); ``threads``: scoring threads;
    ``max_pending``: requests admitted at once (being scored or waiting), 429 beyond;
    ``timeout_s``: a request's scoring time (503 beyond); ``batch_ms``/``batch_rows``: concurrent
    small table requests are scored together when they arrive within ``batch_ms`` (one call for up
    to ``batch_rows`` rows); ``explain``: top features in the responses."""

    model_dir: Path
    keys: ApiKeys
    max_body_bytes: int = 8 * 1024 * 1024
    max_rows: int = 10_000
    max_pixels: int = 4096 * 4096
    threads: int = 1
    max_pending: int = 32
    timeout_s: float = 30.0
    batch_ms: float = 1.0
    batch_rows: int = 512
    explain: bool = True
    top_k: int = 3

    def __post_init__(self):
        self.model_dir = Path(self.model_dir)
        for name in ("max_body_bytes", "max_rows", "max_pixels", "threads", "max_pending", "batch_rows"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.timeout_s <= 0 or self.batch_ms < 0:
            raise ValueError("timeout_s must be > 0 and batch_ms >= 0")
