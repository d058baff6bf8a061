"""``adgdm calibrate``: a model's threshold set on new normal data, without refitting."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from ._common import _echo_notes, _interactive, _progress_factory, _run, _split_plain, typer
from ._options import SCORE_SCOPES, reader_options


@reader_options(SCORE_SCOPES)
def calibrate(
    model_dir: Path = typer.Argument(..., help="A model folder (adgdm fit)."),
    data: Path = typer.Argument(..., help="Normal data of the kind the model will meet (read like the training "
                                "data): its scores set the threshold."),
    out: Optional[Path] = typer.Option(None, "--out", help="Model folder to write (default: MODEL_DIR itself, "
                                       "replaced atomically)."),
    contamination: Optional[float] = typer.Option(None, help="Share of normal data to flag (default: the model's)."),
    pot: Optional[float] = typer.Option(None, "--pot", help="Extreme-value threshold with this risk q (e.g. 0.001)."),
    pot_level: Optional[float] = typer.Option(None, "--pot-level", help="POT's initial quantile (default 0.98: needs "
                                              "500 units; 0.9: 100)."),
    fixed: Optional[float] = typer.Option(None, "--fixed", help="A threshold value."),
    columns: Optional[str] = typer.Option(None, help="Override the columns recorded at fit time."),
    label: Optional[str] = typer.Option(None, help="A 0/1 label column (every row must be 0)."),
    time: Optional[str] = typer.Option(None, "--time", help="Id/time column."),
    reader=None,
    force: bool = typer.Option(False, "--force", help="Replace --out if it exists."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
):
    """Set the threshold on new normal data without refitting (after a shift: a new camera, season,
    sensor), and the calibrated probabilities with it.

    Examples:
      adgdm calibrate model/ normal_this_week.csv
      adgdm calibrate model/ normal.csv --contamination 0.05 --out model_recalibrated/
      adgdm calibrate model/ normal.csv --pot 0.001
    """
    from ..commands.calibrate import run_calibrate

    r = _run(lambda: run_calibrate(model_dir, data, out=out, contamination=contamination, pot=pot, fixed=fixed, pot_level=pot_level,
                                   columns=_split_plain(columns), label=label, time_col=time, reader=reader,
                                   progress=_progress_factory(_interactive(json_out)), force=force), json_out)
    if not json_out:
        lo, hi = r["expected_rate"]["interval"]
        typer.echo(f"threshold {r['threshold_before']:.4g} -> {r['threshold']:.4g} ({r['method']}) on {r['n']} "
                   f"units of {data}: {100 * r['flagged_before']:.1f}% of them were flagged, now "
                   f"{100 * r['flagged']:.1f}% (expected on normal data: {100 * r['expected_rate']['rate']:.1f}%, "
                   f"95% interval {100 * lo:.1f}-{100 * hi:.1f}%); wrote {r['model']}")
        _echo_notes(r.get("notes", []))


def commands() -> dict:
    return {"calibrate": calibrate}
