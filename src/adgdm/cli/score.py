"""``adgdm score``: in this process (:func:`adgdm.commands.score.run_score`) or, with ``--engine ray``,
on a Ray cluster (:func:`adgdm.distributed.score_dataset`)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..modalities.options import ReaderOptions
from ._common import _auroc_words, _bad, _echo_notes, _interactive, _progress_factory, _run, _scored_units, _split_plain, typer
from ._options import SCORE_SCOPES, reader_options

BATCH_SIZE = 100_000


@dataclass(frozen=True)
class RayOptions:
    """``adgdm score --engine ray``: where and how wide (the defaults mean "this process")."""

    address: Optional[str] = None
    workers: Optional[int] = None
    batch_size: int = BATCH_SIZE
    threads: int = 1

    @property
    def given(self) -> bool:
        return bool(self.address or self.workers or self.threads != 1 or self.batch_size != BATCH_SIZE)


def score(
    model_dir: Path = typer.Argument(..., help="A model folder (adgdm fit, or detector.save)."),
    data: Path = typer.Argument(..., help="Data to score, like the training data."),
    out: Path = typer.Option(..., "--out", help="Scores file: .csv or .parquet."),
    columns: Optional[str] = typer.Option(None, help="Override the columns recorded at fit time."),
    label: Optional[str] = typer.Option(None, help="0/1 label column to carry into the output."),
    time: Optional[str] = typer.Option(None, "--time", help="Id/time column."),
    explain: bool = typer.Option(True, help="Add each row's top contributing features (tables, series)."),
    top_k: int = typer.Option(3, help="Features listed per row."),
    reader: ReaderOptions = None,  # replaced by the ReaderOptions fields of SCORE_SCOPES (--sep, --encoding, --strict)
    force: bool = typer.Option(False, "--force", help="Replace OUT if it exists."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    engine: str = typer.Option("local", help="'local' (this process) or 'ray' (a Ray cluster: DATA may be a "
                                             "folder or glob of files; OUT is a folder of Parquet parts)."),
    address: Optional[str] = typer.Option(None, help="Ray: the cluster ('auto', 'ray://host:10001'); default: "
                                                    "start a local Ray on this machine's CPUs."),
    workers: Optional[int] = typer.Option(None, help="Ray: actors scoring at once (default: CPUs // threads)."),
    batch_size: int = typer.Option(BATCH_SIZE, help="Ray: rows (or images, at most 64) per part."),
    threads: int = typer.Option(1, help="Ray: threads per actor."),
):
    """Score data with a saved model: id, score, flagged (0/1), label, top features.

    Examples:
      adgdm score model/ new.csv --out scores.csv
      adgdm score model/ new.parquet --out scores.parquet --label is_fraud
      adgdm score image_model/ tiles_test/ --out scores.csv
      adgdm score model/ 'day/*.parquet' --out scores/ --engine ray --address auto
    """
    ray = RayOptions(address=address, workers=workers, batch_size=batch_size, threads=threads)
    if engine not in ("local", "ray"):
        _bad(f"--engine must be 'local' or 'ray', got {engine!r}", json_out)
    if engine == "ray":
        if columns or label or time or any(reader.to_dict().values()):
            flags = ["--columns", "--label", "--time"] + [f[2] for f in type(reader).cli_fields(SCORE_SCOPES)]
            _bad(f"{', '.join(flags[:-1])} and {flags[-1]} are read from the model folder with --engine ray (refit "
                 "to change them)", json_out)
        return _score_ray(model_dir, data, out, ray, explain=explain, top_k=top_k, force=force, json_out=json_out)
    if ray.given:
        _bad("--address, --workers, --batch-size and --threads are for --engine ray", json_out)
    from ..commands.score import run_score

    def body():
        return run_score(model_dir, data, out=out, columns=_split_plain(columns), label=label, time_col=time,
                         explain=explain, top_k=top_k, progress=_progress_factory(_interactive(json_out)),
                         force=force, reader=reader)

    r = _run(body, json_out)
    if not json_out:
        extra = _auroc_words(r)
        if "unseen_categories" in r:
            extra += f"; {r['unseen_categories']} cells with categories unseen at fit"
        typer.echo(f"scored {r['rows']} {_scored_units(r['modality'])}: {r['flagged']} flagged "
                   f"above {r['threshold']:.4g}{extra}; wrote {r['out']}")
        _echo_notes(r.get("notes", []))


def _score_ray(model_dir, data, out, ray: RayOptions, explain: bool, top_k: int, force: bool, json_out: bool):
    """``adgdm score --engine ray``: :func:`adgdm.distributed.score_dataset`; failed parts are
    listed and the exit code is 1, the parts scored are kept."""
    def body():
        from ..distributed import score_dataset

        return score_dataset(model_dir, str(data), out, workers=ray.workers, rows_per_part=ray.batch_size,
                             address=ray.address, explain=explain, top_k=top_k, threads=ray.threads, force=force,
                             progress=_interactive(json_out))

    r = _run(body, json_out)
    if not json_out:
        typer.echo(f"scored {r['rows']} of {r['rows_in']} {_scored_units(r['modality'])} in {r['parts']} parts on "
                   f"{r['workers']} Ray workers in {r['seconds']:.1f} s: {r['flagged']} flagged; wrote "
                   f"{r['out']}/part-*.parquet")
        if r["retried"]:
            typer.echo(f"note: {r['retried']} parts were retried after a worker error (each written once)")
        _echo_notes(r.get("notes", []))
        for f in r["failed"]:
            typer.secho(f"failed: {f['error']}", fg="red", err=True)
    if r["failed"]:
        if not json_out:
            typer.secho(f"{len(r['failed'])} of {r['parts']} parts failed; the other parts are written", fg="red",
                        err=True)
        raise typer.Exit(1)
    return r


def commands() -> dict:
    """``score`` with its reader options made from ReaderOptions (when the app is built)."""
    return {"score": reader_options(SCORE_SCOPES)(score)}
