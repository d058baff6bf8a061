"""``adgdm report``: one self-contained HTML report."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from ._common import _run, typer


def report(
    input: Path = typer.Argument(..., help="A bench CSV, a scores file (adgdm score), a folder of generated "
                                 "images (adgdm generate), or a model folder (with --data)."),
    out: Path = typer.Option(Path("report.html"), "--out", help="HTML file to write (one self-contained file)."),
    data: Optional[Path] = typer.Option(None, help="With a model folder: the data to score and show."),
    title: Optional[str] = typer.Option(None, help="Report title."),
    force: bool = typer.Option(False, "--force", help="Replace OUT if it exists."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
):
    """Write a self-contained HTML report (no network needed to view it).

    Examples:
      adgdm report scores.csv --out report.html
      adgdm report model/ --data new.csv --out report.html
      adgdm report benchmarks/results/skab.csv --out skab.html
      adgdm report synthetic/ --out gallery.html
    """
    from ..commands.report import run_report

    r = _run(lambda: run_report(input, out=out, data=data, title=title, force=force), json_out)
    if not json_out:
        typer.echo(f"wrote {r['out']} ({r['kind']} report: {', '.join(r['sections'])})")


def commands() -> dict:
    return {"report": report}
