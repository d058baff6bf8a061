"""``adgdm info``, ``adgdm list``, ``adgdm demo`` and ``adgdm pretrain ...``."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from ._common import _command_line, _error, _run, _set_threads, typer


def info(device: bool = typer.Option(False, "--device", help="Also load torch to report the device, CUDA and "
                                     "threads (slower)."),
         json_out: bool = typer.Option(False, "--json", help="Print the result as JSON.")):
    """Versions, installed extras and (with --device) device and threads.

    Example: adgdm info --device --json
    """
    from ..commands.info import format_info, run_info

    r = _run(lambda: run_info(device=device), json_out)
    if not json_out:
        typer.echo(format_info(r))


JSON = typer.Option(False, "--json", help="Print the result as JSON.")


def demo(seed: int = 0, json_out: bool = JSON):
    """Breast-cancer demo (no download): adgdm detectors beside PyOD baselines.

    Example: adgdm demo --seed 1
    """
    from ..demo import evaluate, run

    if json_out:
        _run(lambda: evaluate(seed=seed), json_out)
    else:
        run(seed=seed)


def list_cmd(json_out: bool = JSON):
    """List registered detectors (with --json: each with its modality).

    Example: adgdm list --json
    """
    from .. import list_detectors
    from ..detectors.registry import detector_class

    names = list_detectors(None)
    if json_out:
        _run(lambda: [{"name": n, "modality": getattr(detector_class(n), "modality", "tabular")} for n in names],
             json_out)
        return
    for name in names:
        typer.echo(name)


def pretrain_series_cmd(
    out: Path = typer.Option(..., "--out", help="Folder to write model.json + weights.safetensors to."),
    data: Optional[Path] = typer.Option(None, "--data", help="A folder of your own series (.csv: every numeric "
                                        "column; .npy); default: seeded synthetic series only."),
    steps: int = typer.Option(10000, help="Optimiser steps."),
    seed: int = typer.Option(0, help="Seed of the synthetic series, the windows and the training."),
    width: int = typer.Option(64, help="Channels of the temporal conv net."),
    depth: int = typer.Option(7, help="Dilated blocks (receptive field about 2**depth * 3 steps)."),
    n_series: int = typer.Option(4000, "--n-series", help="Synthetic series to draw (without --data)."),
    windows: int = typer.Option(200000, "--windows", help="Training windows cut at random from the series."),
    threads: Optional[int] = typer.Option(None, help="Torch CPU threads (default: torch's choice)."),
    force: bool = typer.Option(False, "--force", help="Overwrite a model already in --out."),
):
    """Pretrain the cross-series window denoiser that ``series-pre`` scores with.

    Example: adgdm pretrain series --out my-series-model --data my_series/ --steps 4000
    (then: adgdm fit data.csv --detector 'series-pre:weights=my-series-model' ...)
    """
    from ..pretrained.series import pretrain_series

    _set_threads(threads)
    if (out / "weights.safetensors").exists() and not force:
        _error(f"{out} already holds a model; pass --force to overwrite it")
    try:
        path = pretrain_series(out, data=data, steps=steps, seed=seed, width=width, depth=depth, n_series=n_series,
                               n_windows=windows, progress=True, command=_command_line())
    except (ValueError, FileNotFoundError) as e:
        _error(str(e))
    typer.echo(f"wrote {path / 'model.json'} and {path / 'weights.safetensors'}")


def register_pretrain(app) -> None:
    """Add ``adgdm pretrain`` and its commands to ``app``."""
    pretrain = typer.Typer(help="Pretrain networks shared across datasets.", no_args_is_help=True)
    app.add_typer(pretrain, name="pretrain")
    pretrain.command("series")(pretrain_series_cmd)


def commands() -> dict:
    return {"info": info, "demo": demo, "list": list_cmd}
