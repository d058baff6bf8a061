"""API keys: read from a file or environment variables (never from the command line, which lands
in shell history and ``ps``), compared in constant time."""
from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path

MIN_LENGTH = 16
ENV_KEYS, ENV_ADMIN = "ADGDM_API_KEYS", "ADGDM_ADMIN_KEYS"


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


@dataclass
class ApiKeys:
    """Scoring keys and admin keys (an admin key also scores). Only SHA-256 digests are kept."""

    score: list[bytes] = field(default_factory=list)
    admin: list[bytes] = field(default_factory=list)

    @classmethod
    def from_lists(cls, score=(), admin=()) -> "ApiKeys":
        for k in (*score, *admin):
            if len(k) < MIN_LENGTH:
                raise ValueError(f"an API key must have at least {MIN_LENGTH} characters (e.g. "
                                 "python -c 'import secrets; print(secrets.token_urlsafe(32))')")
        keys = cls([_digest(k) for k in score], [_digest(k) for k in admin])
        if not keys.score and not keys.admin:
            raise ValueError(f"no API key: give --api-key-file FILE or set {ENV_KEYS} (comma-separated)")
        return keys

    @classmethod
    def from_file(cls, path) -> "ApiKeys":
        """One key per line; ``admin:KEY`` marks an admin key; blank lines and ``#`` comments skipped."""
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"no such API key file: {p}")
        score, admin = [], []
        for line in p.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            (admin if line.startswith("admin:") else score).append(line.removeprefix("admin:").strip())
        return cls.from_lists(score, admin)

    @classmethod
    def from_env(cls, environ=None) -> "ApiKeys":
        env = os.environ if environ is None else environ
        split = lambda v: [k.strip() for k in (v or "").split(",") if k.strip()]  # noqa: E731
        return cls.from_lists(split(env.get(ENV_KEYS)), split(env.get(ENV_ADMIN)))

    def check(self, key: str | None, admin: bool = False) -> bool:
        """True when ``key`` is one of the keys (``admin``: one of the admin keys). Every stored key
        is compared, each in constant time, so the time does not tell which one nearly matched."""
        if not key:
            return False
        d = _digest(key)
        ok = False
        for k in self.admin + ([] if admin else self.score):
            ok |= hmac.compare_digest(d, k)
        return ok
