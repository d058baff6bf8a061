"""One way to write output files: to a temporary name beside the target, then ``os.replace``, so
an interrupted run (error, Ctrl-C) never leaves a half-written file and an old file stays intact."""
from __future__ import annotations

import os
import shutil
import tempfile
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
    """Refuse to write ``out`` over one of ``inputs``, inside an input that is a folder, or as a
    folder holding an input (never, even with ``force``: :func:`check_not_input`), or over an existing
    file or folder (unless ``force``). Returns ``out`` as a ``Path``.

    Example
    -------
    >>> check_output("scores.csv", inputs=["scores.csv"])
    Traceback (most recent call last):
    ...
    ValueError: --out scores.csv is the input scores.csv: choose another output file
    """
    out = check_not_input(out, inputs, flag)
    if out.exists() and not force:
        raise ValueError(f"{flag} {out} exists; pass --force to replace it, or choose another {flag}")
    return out


def check_not_input(out, inputs=(), flag: str = "--out") -> Path:
    """Refuse (with or without ``--force``) an output that would destroy an input being read: the
    input itself, a path inside an input folder (a model folder's ``cli.json`` or weights, a data
    folder's files), or a folder that holds an input (an output folder is replaced as a whole)."""
    out = Path(out)
    for src in inputs:
        if src is None:
            continue
        src = Path(src)
        if _same(out, src):
            raise ValueError(f"{flag} {out} is the input {src}: choose another output file")
        if _inside(out, src):
            raise ValueError(f"{flag} {out} is inside the input folder {src}: writing there could destroy it; "
                             f"choose an output outside {src}")
        if _inside(src, out):
            raise ValueError(f"{flag} {out} holds the input {src}: replacing it would destroy the input; "
                             "choose another output")
    model = _model_folder_holding(out)
    if model is not None:  # whichever command writes, and whatever it reads
        raise ValueError(f"{flag} {out} is inside the model folder {model}: writing there could destroy the model; "
                         "choose an output outside it")
    return out


def _model_folder_holding(out: Path) -> Path | None:
    """The adgdm model folder (``config.json`` of format ``adgdm-detector``) that ``out`` lies in, if any."""
    import json

    for folder in out.resolve().parents:
        cfg = folder / "config.json"
        if cfg.is_file():
            try:
                if json.loads(cfg.read_text()).get("format") == "adgdm-detector":
                    return folder
            except (ValueError, OSError, AttributeError):
                pass
    return None


def _same(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def _inside(a: Path, folder: Path) -> bool:
    """``a`` lies under ``folder`` (symbolic links resolved; ``a`` need not exist yet)."""
    if folder.exists() and not folder.is_dir():
        return False
    a, folder = a.resolve(), folder.resolve()
    return a != folder and folder in a.parents


# --- atomic output folders and tables ------------------------------------------------------------------------------
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


def check_table_suffix(out, flag: str = "--out") -> Path:
    """Refuse a table output whose suffix is not one :func:`write_frame` writes (``scores.xlsx`` would
    hold CSV text under an Excel name). Call it before any work is done.

    Example
    -------
    >>> check_table_suffix("scores.xlsx")
    Traceback (most recent call last):
    ...
    ValueError: --out scores.xlsx: tables are written as .csv, .parquet or .pq, not '.xlsx'; name the file scores.csv or scores.parquet
    """
    out = Path(out)
    if out.suffix.lower() not in TABLE_SUFFIXES:
        stem = out.stem if out.suffix else out.name
        raise ValueError(f"{flag} {out}: tables are written as .csv, .parquet or .pq, not {out.suffix or 'no suffix'!r}; "
                         f"name the file {stem}.csv or {stem}.parquet")
    return out


def write_frame(df, out) -> Path:
    """CSV (or Parquet for ``.parquet``/``.pq``) written atomically (``adgdm._atomic``): an
    interrupted run (Ctrl-C) leaves no half-written file. Other suffixes are refused
    (:func:`check_table_suffix`)."""
    out = check_table_suffix(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out) as tmp:
        if out.suffix.lower() in (".parquet", ".pq"):
            try:
                df.to_parquet(tmp, index=False)
            except ImportError:
                raise ValueError("writing Parquet needs pyarrow: pip install 'adgdm[cli]'") from None
        else:
            df.to_csv(tmp, index=False)
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def replace_dir(tmp_dir: Path, out: Path, marker: str) -> None:
    """Move the finished folder ``tmp_dir`` to ``out``. An existing ``out`` is replaced only when it
    holds ``marker`` (it is one of ours); anything else is left alone and reported."""
    out = Path(out)
    if out.exists():
        if not out.is_dir() or (any(out.iterdir()) and not (out / marker).exists()):
            raise ValueError(f"{out} exists and is not an adgdm output folder; choose another --out")
        shutil.rmtree(out)
    os.chmod(tmp_dir, 0o777 & ~_umask())  # mkdtemp makes 0700
    os.replace(tmp_dir, out)


def temp_dir_beside(out) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
