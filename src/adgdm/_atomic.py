"""One way to write output files: to a temporary name beside the target, then ``os.replace``, so
an interrupted run (error, Ctrl-C) never leaves a half-written file and an old file stays intact."""
from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_file(path):
    """Yield a temporary path beside ``path`` to write; it replaces ``path`` when the block ends
    without error and is removed otherwise. Files made with ``open()`` there get the user's usual
    mode (umask), unlike ``mkstemp``'s 0600.

    Example
    -------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_file(out) as tmp:
    ...     _ = tmp.write_text("done")
    >>> out.read_text()
    'done'
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def follow_umask(*paths) -> None:
    """Give files the mode ``open()`` would (0666 minus the umask): writers that go through
    ``mkstemp`` (safetensors among them) leave 0600."""
    mask = os.umask(0)
    os.umask(mask)
    for p in paths:
        os.chmod(p, 0o666 & ~mask)


def check_output(out, inputs=(), force: bool = False, flag: str = "--out") -> Path:
    """Refuse to write ``out`` over one of ``inputs`` (never, even with ``force``) or over an existing
    file or folder (unless ``force``). Returns ``out`` as a ``Path``.

    Example
    -------
    >>> check_output("scores.csv", inputs=["scores.csv"])
    Traceback (most recent call last):
    ...
    ValueError: --out scores.csv is the input scores.csv: choose another output file
    """
    out = Path(out)
    for src in inputs:
        if src is not None and _same(out, Path(src)):
            raise ValueError(f"{flag} {out} is the input {src}: choose another output file")
    if out.exists() and not force:
        raise ValueError(f"{flag} {out} exists; pass --force to replace it, or choose another {flag}")
    return out


def _same(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()
