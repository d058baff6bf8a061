"""What every command of the ``adgdm`` command line shares: how a command body is run and its
failures reported (:func:`_run`, :func:`_bad`), the splitting of comma-separated options, and the
progress bars and spinners shown to a person at a terminal."""
from __future__ import annotations

import shlex
import sys
from typing import Optional

try:
    import typer
except ImportError:  # pragma: no cover - exercised only without the extra
    typer = None


def _split(text: Optional[str]) -> Optional[list[str]]:
    """Comma-separated list; commas inside a ``name:k=v,k=v`` spec stay with their detector when
    detectors are separated by ``;`` instead."""
    if not text:
        return None
    sep = ";" if ";" in text else None
    if sep:
        return [s.strip() for s in text.split(sep) if s.strip()]
    items: list[str] = []
    for piece in text.split(","):
        piece = piece.strip()
        if items and "=" in piece and ":" not in piece:
            items[-1] += "," + piece  # a parameter of the previous detector
        elif piece:
            items.append(piece)
    return items


def _split_plain(text: Optional[str]) -> Optional[list[str]]:
    """Comma-separated names (columns), stripped; None when empty."""
    if not text:
        return None
    return [c.strip() for c in text.split(",") if c.strip()] or None


def _command_line() -> str:
    """The command line as typed, to record in summaries and model cards."""
    return "adgdm " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _set_threads(threads: Optional[int]) -> None:
    """Torch CPU threads, when asked for (torch is imported only then)."""
    if threads:
        import torch

        torch.set_num_threads(threads)


def _interactive(json_out: bool = False) -> bool:
    """Progress bars only for a person at a terminal: silent in pipes, files, CI and --json."""
    return not json_out and sys.stdout.isatty()


def _status_factory(enabled: bool):
    """A rich spinner with elapsed time around long work (fit), or None."""
    if not enabled:
        return None
    from contextlib import contextmanager

    from rich.console import Console

    console = Console(stderr=True)

    @contextmanager
    def status(text):
        with console.status(text + " ..."):
            yield

    return status


def _progress_factory(enabled: bool):
    """``progress(total, description)`` -> a context giving ``advance(n)`` (rich bar), or None."""
    if not enabled:
        return None
    from contextlib import contextmanager

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    @contextmanager
    def progress(total, description):
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      transient=True) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n: bar.advance(task, n)

    return progress


def _error(msg: str, code: int = 2):
    """One red line on stderr and exit ``code`` (the bench commands' way to refuse their options)."""
    typer.secho(f"error: {msg}", fg="red", err=True)
    raise typer.Exit(code)


def _run(fn, json_out: bool = False, echo: bool = True):
    """Run a command body: bad input -> one red line and exit 2; Ctrl-C -> exit 130 (outputs are
    written atomically, so nothing half-written is left); --json -> the result as JSON (unless
    ``echo`` is False: the body printed it; failures are still JSON)."""
    import json

    def fail(msg: str, code: int = 2):
        if json_out:  # a script reading --json output gets JSON on failure too
            typer.echo(json.dumps({"error": msg, "exit_code": code}))
        else:
            typer.secho(f"error: {msg}" if code == 2 else msg, fg="red", err=True)
        raise typer.Exit(code)

    try:
        result = fn()
    except KeyboardInterrupt:
        fail("interrupted: no output written", 130)
    except (ValueError, TypeError, FileNotFoundError, NotImplementedError, ImportError, OSError, KeyError) as e:
        msg = str(e) if isinstance(e, (ValueError, FileNotFoundError, ImportError)) and str(e) else f"{type(e).__name__}: {e}"
        fail(msg.splitlines()[0] if msg else type(e).__name__)
    except Exception as e:  # corrupted files and the like: one line, no traceback
        fail(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    if json_out and echo:
        typer.echo(json.dumps(result, indent=2, default=str))
    return result


def _bad(msg: str, json_out: bool = False):
    """Stop a command with one clear line (exit 2), the way :func:`_run` reports bad input."""
    def raise_it():
        raise ValueError(msg)

    _run(raise_it, json_out)


def _auroc_words(r: dict) -> str:
    """The AUROC of a score summary with what it covers (in-sample units apart)."""
    if "auroc" not in r:
        return ""
    words = f"; AUROC {r['auroc']:.4f} against the labels ({r.get('auroc_covers', 'all units')}"
    if "auroc_new" in r:
        words += f"; {r['auroc_new']:.4f} on {r['auroc_new_covers']}"
    return words + ")"


def _echo_notes(notes) -> None:
    for note in notes:
        typer.echo(f"note: {note}")


def _scored_units(modality: str) -> str:
    """What the lines of a scores file are called in messages ("rows", "images", ...): the modality's word."""
    from ..modalities import get_modality

    return get_modality(modality).scored_units
