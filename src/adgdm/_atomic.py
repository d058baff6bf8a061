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
