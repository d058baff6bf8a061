"""``adgdm fit`` and ``adgdm detect``. Their reader options (--sep, --categorical, ...) are made from
:class:`adgdm.modalities.options.ReaderOptions` by :func:`adgdm.cli._options.reader_options`."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..modalities.options import ReaderOptions
from ._common import _auroc_words, _echo_notes, _interactive, _progress_factory, _run, _split_plain, _status_factory, typer
from ._options import DETECT_SCOPES, FIT_SCOPES, reader_options

JSON = typer.Option(False, "--json", help="Print the result as JSON.")
PARAM = typer.Option(None, "--param", "-p", help="Detector parameter key=value (repeatable).")
TIME = typer.Option(None, "--time", help="Id/time column (kept as the row id).")
SEED = typer.Option(None, help="Random seed (default 0).")


def fit(
    data: Path = typer.Argument(..., help="Training data: CSV, Parquet or NPZ (tables, series), a folder of "
                                "images (an MVTec-style folder trains on train/good), or video: a file, a clip "
                                "folder of frames or a folder of clips."),
    out: Path = typer.Option(..., "--out", help="Model folder to write (an existing one is replaced only with "
                             "--force)."),
    modality: Optional[str] = typer.Option(None, help="tabular, series, image, video or multimodal (default: the detector's)."),
    detector: Optional[str] = typer.Option(None, help="Detector name or spec, e.g. 'diffusion' or "
                                           "'ddpm:steps=100' (default: the modality's recommended one)."),
    config: Optional[Path] = typer.Option(None, help="TOML file: detector, modality, columns, label, time, "
                                          "seed, threshold and a \\[params] table. Flags win over it."),
    param: Optional[list[str]] = PARAM,
    columns: Optional[str] = typer.Option(None, help="Comma-separated feature/channel columns (default: all "
                                          "numeric)."),
    label: Optional[str] = typer.Option(None, help="0/1 label column: tables fit on the rows labelled 0."),
    time: Optional[str] = TIME,
    threshold: Optional[str] = typer.Option(None, help="contamination (the quantile), pot[:Q[:LEVEL]] "
                                            "(extreme-value with risk Q, for unknown contamination) or fixed:VALUE."),
    contamination: Optional[float] = typer.Option(None, help="Expected share of anomalies (default: the "
                                                  "detector's, 0.1; 0.01 for series detectors)."),
    seed: Optional[int] = SEED,
    reader: ReaderOptions = None,  # replaced by the ReaderOptions fields of FIT_SCOPES (--sep ... --text-cols)
    force: bool = typer.Option(False, "--force", help="Replace the model folder OUT if it exists."),
    json_out: bool = JSON,
):
    """Fit a detector on (mostly) normal data and save it.

    Examples:
      adgdm fit data.csv --out model/ --label is_fraud
      adgdm fit data.csv --out model/ --detector ddpm --param steps=200 --threshold pot
      adgdm fit sensors.csv --modality series --time timestamp --out series_model/
      adgdm fit tiles/ --modality image --param size=128 --out image_model/
      adgdm fit records.csv --modality multimodal --image-cols photo --text-cols caption --out mm_model/
      adgdm fit data.csv --config adgdm.toml --out model/
    """
    from ..commands.fit import parse_params, run_fit

    def body():
        return run_fit(data, modality=modality, detector=detector, out=out, config=config,
                       params=parse_params(param), columns=_split_plain(columns), label=label, time_col=time,
                       threshold=threshold, contamination=contamination, seed=seed,
                       status=_status_factory(_interactive(json_out)), force=force,
                       reader=reader)

    r = _run(body, json_out)
    if not json_out:
        what = f"{r['n_fit']} rows" if r["n_fit"] is not None else f"the images in {data}"
        typer.echo(f"fitted {r['detector']} ({r['modality']}) on {what} in {r['fit_seconds']:.1f} s; threshold "
                   f"{r['threshold']:.4g} ({r['threshold_method']}); wrote {r['model']}")
        _echo_notes(r["notes"])


def detect(
    data: Path = typer.Argument(..., help="A table or series (CSV, Parquet or NPZ) to find anomalies in."),
    out: Path = typer.Option(..., "--out", help="Scores file: .csv or .parquet (as adgdm score writes)."),
    modality: Optional[str] = typer.Option(None, help="tabular or series (default: the detector's)."),
    detector: Optional[str] = typer.Option(None, help="Detector name or spec (default: the modality's "
                                           "recommended one)."),
    model_out: Optional[Path] = typer.Option(None, "--model-out", help="Also keep the fitted model here."),
    config: Optional[Path] = typer.Option(None, help="TOML file, as for adgdm fit."),
    param: Optional[list[str]] = PARAM,
    columns: Optional[str] = typer.Option(None, help="Comma-separated feature/channel columns."),
    label: Optional[str] = typer.Option(None, help="0/1 label column: never a feature; tables fit on the rows "
                                        "labelled 0; AUROC is reported against it."),
    time: Optional[str] = TIME,
    threshold: Optional[str] = typer.Option(None, help="contamination, pot or fixed:VALUE."),
    contamination: Optional[float] = typer.Option(None, help="Expected share of anomalies."),
    seed: Optional[int] = SEED,
    explain: bool = typer.Option(True, help="Add each row's top contributing features."),
    top_k: int = typer.Option(3, help="Features listed per row."),
    reader: ReaderOptions = None,  # replaced by the ReaderOptions fields of DETECT_SCOPES (--sep ... --numeric)
    force: bool = typer.Option(False, "--force", help="Replace OUT (and --model-out) if they exist."),
    json_out: bool = JSON,
):
    """Fit on DATA and score the same DATA in one step (unsupervised detection).

    Fitted rows or steps get their training scores, computed without them (adgdm score does the same).

    Examples:
      adgdm detect sensors.csv --modality series --time timestamp --out scores.csv
      adgdm detect data.csv --label is_fraud --out scores.csv --model-out model/
    """
    from ..commands.detect import run_detect
    from ..commands.fit import parse_params

    def body():
        return run_detect(data, out=out, modality=modality, detector=detector, model_out=model_out, config=config,
                          params=parse_params(param), columns=_split_plain(columns), label=label, time_col=time,
                          threshold=threshold, contamination=contamination, seed=seed, explain=explain,
                          top_k=top_k, status=_status_factory(_interactive(json_out)),
                          progress=_progress_factory(_interactive(json_out)),
                          reader=reader, force=force)

    r = _run(body, json_out)
    if not json_out:
        extra = _auroc_words(r)
        kept = f" and the model to {r['model']}" if r.get("model") else ""
        typer.echo(f"fitted {r['detector']} ({r['modality']}) on {r['n_fit']} rows and scored {r['rows']}: "
                   f"{r['flagged']} flagged above {r['threshold']:.4g}{extra}; wrote {r['out']}{kept}")
        _echo_notes(r["notes"])


def commands() -> dict:
    """``fit`` and ``detect`` with their reader options made from ReaderOptions (made when the app is
    built, so they follow ReaderOptions' fields as they are then)."""
    return {"fit": reader_options(FIT_SCOPES)(fit), "detect": reader_options(DETECT_SCOPES)(detect)}
