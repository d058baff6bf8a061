"""``adgdm generate``: normal samples or synthetic anomalies with a saved model."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from ._common import _run, typer


def generate(
    model_dir: Path = typer.Argument(..., help="A saved model folder (adgdm fit, or detector.save)."),
    kind: str = typer.Option("normal", help="'normal' (samples of the model); tables: local, global, dependency, "
                             "clustered, masked (normal, local and masked need a generative model: fit --detector "
                             "ddpm or tabddpm; rows come back in the table's columns, categories as categories); "
                             "series: spike, level_shift, pattern, frequency, trend, noise, channel_break; images: "
                             "perlin, cutpaste, masked."),
    n: int = typer.Option(100, "--n", help="Rows, images, or injected series anomalies to generate."),
    out: Path = typer.Option(..., "--out", help="CSV to write (tables, series) or a folder (images: images/ and "
                             "masks/ PNGs)."),
    data: Optional[Path] = typer.Option(None, help="Normal data the anomaly kinds start from (CSV/NPZ, or an "
                                        "image folder)."),
    severity: float = typer.Option(1.0, help="How far from normal (>= 0)."),
    seed: int = typer.Option(0, help="Random seed."),
    force: bool = typer.Option(False, "--force", help="Replace OUT if it exists."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
):
    """Generate normal samples or synthetic anomalies with a saved model.

    Examples:
      adgdm fit normal.csv --detector ddpm --out model/
      adgdm generate model/ --kind normal --n 500 --out samples.csv
      adgdm generate model/ --kind local --severity 1.5 --n 200 --data normal.csv --out anomalies.csv
      adgdm generate series_model/ --kind spike --n 5 --data clean.csv --out injected.csv
      adgdm generate image_model/ --kind cutpaste --n 24 --data tiles/ --out synthetic/
    """
    from ..commands.generate import run_generate

    msg = _run(lambda: run_generate(model_dir, kind=kind, n=n, out=out, data=data, severity=severity, seed=seed,
                                    force=force), False)
    if json_out:
        import json

        typer.echo(json.dumps({"out": str(out), "kind": kind, "message": msg}))
    else:
        typer.echo(msg)


def commands() -> dict:
    return {"generate": generate}
