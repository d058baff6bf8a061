"""Progress bars show only at a terminal and never change what a loop yields."""
import sys

import pytest

from adgdm import _progress


def test_silent_without_a_terminal(monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert _progress.progress_bar(10, "x") is None
    assert list(_progress.iterate(iter(range(5)), "x", 5)) == [0, 1, 2, 3, 4]


def test_a_rich_bar_at_a_terminal(monkeypatch):
    pytest.importorskip("rich")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    bar = _progress.progress_bar(3, "fit", unit="step")
    assert isinstance(bar, _progress._RichBar)
    bar.update(2)
    bar.set_postfix_str("loss 0.1")
    assert bar._p.tasks[0].completed == 2 and bar._p.tasks[0].description == "fit loss 0.1"
    bar.close()
    assert list(_progress.iterate(range(4), "x", 4)) == [0, 1, 2, 3]
