"""Progress bars for a person at a terminal: rich when installed (the ``[cli]`` extra), else tqdm,
else none; silent when stderr is not a terminal (pipes, log files, CI)."""
from __future__ import annotations

import sys


class _RichBar:
    """The slice of tqdm's interface the loops use (``update``, ``set_postfix_str``, ``close``),
    drawn by rich on stderr and removed when done."""

    def __init__(self, total: int, desc: str, unit: str):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.desc = desc
        self._p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TextColumn(unit), TimeRemainingColumn(), console=Console(stderr=True), transient=True)
        self._p.start()
        self._task = self._p.add_task(desc, total=total)

    def update(self, n: int = 1) -> None:
        self._p.advance(self._task, n)

    def set_postfix_str(self, text: str) -> None:
        self._p.update(self._task, description=f"{self.desc} {text}")

    def close(self) -> None:
        self._p.stop()


def progress_bar(total: int, desc: str, unit: str = "it"):
    """A bar with ``update(n)``, ``set_postfix_str(text)`` and ``close()``, or None when nobody
    would see it."""
    if not sys.stderr.isatty():
        return None
    try:
        return _RichBar(total, desc, unit)
    except ImportError:
        pass
    try:
        from tqdm.auto import tqdm
    except ImportError:  # progress bars are optional
        return None
    return tqdm(total=total, desc=desc, unit=unit, leave=False)


def iterate(it, desc: str, total: int):
    """``it``, advancing a progress bar as it goes (plain ``it`` when there is none)."""
    bar = progress_bar(total, desc)
    if bar is None:
        yield from it
        return
    try:
        for x in it:
            yield x
            bar.update(1)
    finally:
        bar.close()
