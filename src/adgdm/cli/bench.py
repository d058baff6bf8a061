"""``adgdm bench ...``: the benchmark protocols. Each command checks its shared options once into a
:class:`BenchRun` (where it writes, --resume/--force, --json, the engine and threads), runs its
protocol with :meth:`BenchRun.run` and ends with :meth:`BenchRun.finish` (the summary, or JSON)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from ._common import _command_line, _error, _set_threads, _split, _split_plain, typer

OUT_HELP = "Long-format CSV to write (default: a new timestamped file in benchmarks/results/)."
FORCE_HELP = "Replace OUT if it exists (without it, an existing OUT is refused unless --resume)."
RESUME_HELP = "Append to OUT and skip rows it already holds."
JSON_HELP = "Print {csv, md, rows} as JSON instead of the summary."
ENGINE_HELP = ("local (one process) or ray (each dataset x detector x seed job a Ray task; a failed job is a row "
               "with an error and the grid goes on; pip install 'adgdm[ray]').")
ADDRESS_HELP = ("--engine ray: 'auto' or 'ray://host:port' to use a running cluster (default: start a local Ray "
                "on this machine's CPUs).")
WORKERS_HELP = "--engine ray: jobs at once (default: the cluster's CPUs // --threads)."
THREADS_HELP = "Torch CPU threads (default: torch's choice; --engine ray: threads per task, default 1)."
LOCAL_THREADS_HELP = "Torch CPU threads (default: torch's choice)."
DETECTORS_HELP = "Detector specs separated by ';' or ','."
SEEDS_HELP = "Number of seeds (0 .. N-1)."

_ERRORS = (ValueError, ImportError, FileNotFoundError)  # what a protocol raises for bad input: exit 2


# the typer options the bench commands share (one definition each)
OUT = typer.Option(None, help=OUT_HELP)
FORCE = typer.Option(False, "--force", help=FORCE_HELP)
RESUME = typer.Option(False, help=RESUME_HELP)
JSON = typer.Option(False, "--json", help=JSON_HELP)
THREADS = typer.Option(None, help=THREADS_HELP)
LOCAL_THREADS = typer.Option(None, help=LOCAL_THREADS_HELP)
ADDRESS = typer.Option(None, "--address", help=ADDRESS_HELP)
WORKERS = typer.Option(None, "--workers", min=1, help=WORKERS_HELP)
DETECTORS = typer.Option(None, help=DETECTORS_HELP)


def _bench_out(out: Optional[Path], kind: str, resume: bool, force: bool, data: Optional[Path] = None) -> Path:
    """Where a bench writes: OUT, refused when it exists (committed results among them) unless
    --resume or --force; without OUT a new timestamped file, so nothing is overwritten. OUT (and the
    summary beside it) is never in the --data folder, even with --force."""
    import time

    from .._atomic import check_not_input

    if out is None:
        out = Path("benchmarks/results") / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}.csv"
        if resume:
            _error("--resume needs --out (the file to continue)")
    try:
        for path in (out, out.with_suffix(".md")):
            check_not_input(path, [data])
    except ValueError as e:
        _error(str(e))
    if out.exists() and not (resume or force):
        _error(f"--out {out} exists; pass --resume to continue it or --force to replace it")
    return out


def _check_engine(engine: str, address: Optional[str], workers: Optional[int]) -> None:
    if engine not in ("local", "ray"):
        _error(f"--engine must be local or ray, got {engine!r}")
    if engine == "local" and (address or workers):
        _error("--address and --workers need --engine ray")


def _bench_done(csv_path: Path, head: str, json_out: bool, failed: Optional[list] = None) -> None:
    """What a bench command prints at the end: the summary's head, or JSON with the file names.
    ``failed`` (``(dataset, seed, detector, message)`` of jobs that failed, --engine ray): named on
    stderr (in the JSON as ``failed``), and the exit code is 1."""
    if json_out:
        import json

        with open(csv_path) as fh:
            rows = max(0, sum(1 for _ in fh) - 1)
        info = {"csv": str(csv_path), "md": str(csv_path.with_suffix(".md")), "rows": rows}
        if failed:
            info["failed"] = [dict(zip(("dataset", "seed", "detector", "error"), f)) for f in failed]
        typer.echo(json.dumps(info))
    else:
        typer.echo(head)
        typer.echo(f"wrote {csv_path} and {csv_path.with_suffix('.md')}")
    if failed:
        if not json_out:
            typer.secho(f"{len(failed)} job(s) failed (rows with an error; --resume runs them again):", fg="red",
                        err=True)
            for name, seed, spec, msg in failed:
                typer.secho(f"  {name} {spec} seed {seed}: {msg}", fg="red", err=True)
        raise typer.Exit(1)


@dataclass(frozen=True)
class BenchRun:
    """The options every bench command shares, checked once (:meth:`start`)."""

    out: Path
    json_out: bool = False
    engine: str = "local"
    address: Optional[str] = None
    workers: Optional[int] = None
    threads: Optional[int] = None
    failed: list = field(default_factory=list)  # (dataset, seed, detector, message) of failed Ray jobs

    @classmethod
    def start(cls, kind: str, out: Optional[Path], resume: bool, force: bool, json_out: bool,
              threads: Optional[int] = None, engine: str = "local", address: Optional[str] = None,
              workers: Optional[int] = None, data: Optional[Path] = None) -> "BenchRun":
        """Check the engine, set torch's threads (local engine), and choose OUT (:func:`_bench_out`)."""
        _check_engine(engine, address, workers)
        if engine == "local":
            _set_threads(threads)
        return cls(out=_bench_out(out, kind, resume, force, data), json_out=json_out, engine=engine, address=address,
                   workers=workers, threads=threads)

    @property
    def engine_kwargs(self) -> dict:
        """What a protocol that can run on Ray takes (its failed jobs are collected in ``failed``)."""
        return dict(engine=self.engine, threads=self.threads, workers=self.workers, address=self.address,
                    failed=self.failed)

    @staticmethod
    def run(protocol: Callable, errors=_ERRORS):
        """``protocol()`` (the CSV it wrote); bad input -> one red line and exit 2."""
        try:
            return protocol()
        except errors as e:
            _error(str(e))

    def finish(self, csv_path: Path, summarize: Callable, cut: str = "### ", **summary_kwargs) -> None:
        """The one ending of every bench command: write the markdown summary beside the CSV, then print
        its head (up to ``cut``) or the JSON; failed Ray jobs are named and the exit code is 1."""
        md = summarize(csv_path, csv_path.with_suffix(".md"), command=_command_line(), **summary_kwargs)
        _bench_done(csv_path, md.split(cut)[0], self.json_out, self.failed)


def _anchors(anchors: Optional[Path]) -> Optional[str]:
    return str(anchors) if anchors else None


def bench_tabular(
    data: Path = typer.Option(..., "--data", help="Folder of ADBench-style .npz files (X, y), or of .csv tables "
                              "with a 0/1 label column (mixed types and blanks allowed)."),
    label: str = typer.Option("label", "--label", help="CSV tables: the 0/1 label column (1 = anomaly)."),
    datasets: Optional[str] = typer.Option(None, help="Comma-separated dataset names (file stems); default all."),
    detectors: Optional[str] = typer.Option(None, help="Comma-separated detector specs, e.g. 'diffusion,ddpm:steps=100'."),
    seeds: int = typer.Option(5, help=SEEDS_HELP),
    setting: str = typer.Option("semi", help="'semi' (train on half the normals) or 'unsup' (fit and score all rows)."),
    out: Optional[Path] = OUT,
    force: bool = FORCE,
    resume: bool = RESUME,
    anchors: Optional[Path] = typer.Option(None, help="Published anchors CSV to show beside the summary."),
    threads: Optional[int] = THREADS,
    engine: str = typer.Option("local", "--engine", help=ENGINE_HELP),
    address: Optional[str] = ADDRESS,
    workers: Optional[int] = WORKERS,
    json_out: bool = JSON,
):
    """ADBench protocols on tables; writes OUT and OUT with a .md summary.

    Example: adgdm bench tabular --data ../shared/data/adbench/Classical --detectors 'diffusion;pyod-knn' --seeds 3

    On a Ray cluster (pip install 'adgdm[ray]'): add --engine ray [--address auto] [--workers N] [--threads T].
    """
    from ..bench import run_tabular, summarize

    run = BenchRun.start("tabular", out, resume, force, json_out, threads=threads, engine=engine, address=address,
                         workers=workers, data=data)
    csv_path = run.run(lambda: run_tabular(data, datasets=_split(datasets), detectors=_split(detectors), seeds=seeds,
                                           setting=setting, out=run.out, resume=resume, label=label,
                                           **run.engine_kwargs), errors=(ValueError, ImportError))
    run.finish(csv_path, summarize, anchors=_anchors(anchors))


def bench_series(
    suite: str = typer.Option(..., "--suite", help="'nab' or 'skab'."),
    data: Path = typer.Option(..., "--data", help="The suite's folder, e.g. ../shared/data/nab."),
    datasets: Optional[str] = typer.Option(None, help="Comma-separated file names (e.g. 'valve1/0'); default all."),
    detectors: Optional[str] = DETECTORS,
    seeds: int = typer.Option(1, help=SEEDS_HELP),
    out: Optional[Path] = OUT,
    force: bool = FORCE,
    resume: bool = RESUME,
    anchors: Optional[Path] = typer.Option(None, help="Folder of published anchors (../shared/anchors)."),
    threads: Optional[int] = THREADS,
    engine: str = typer.Option("local", "--engine", help=ENGINE_HELP + " Standard protocol only."),
    address: Optional[str] = ADDRESS,
    workers: Optional[int] = WORKERS,
    json_out: bool = JSON,
    protocol: str = typer.Option("standard", "--protocol",
                                 help="'standard', or 'loco': leave-one-group-out choice among --detectors "
                                      "(NAB categories, SKAB folders); also writes OUT_loco.csv and .md."),
    reference: Optional[str] = typer.Option(None, "--reference",
                                            help="loco: fixed specs scored and shown beside, never chosen."),
    metric: str = typer.Option("vus_pr,auroc", "--metric",
                               help="loco: metrics to choose on, comma-separated; thr_f1: the pooled F1 at "
                                    "the label-free threshold, among specs with FAR <= 20% on the others."),
):
    """NAB / SKAB protocols on series; writes OUT and OUT with a .md summary.

    Example: adgdm bench series --suite skab --data ../shared/data/skab --seeds 3 --out skab.csv

    Loco (a design choice that has not seen the labels it reports): adgdm bench series --protocol loco
    --suite nab --data ../shared/data/nab --detectors 'series;series:window=32' --reference tsb-subpca
    """
    from ..bench.series import run_series
    from ..bench.series_summary import summarize_series

    _check_engine(engine, address, workers)
    if protocol not in ("standard", "loco"):
        _error(f"--protocol must be 'standard' or 'loco', got {protocol!r}")
    if protocol == "loco" and engine == "ray":
        _error("--engine ray runs the standard protocol only")
    run = BenchRun.start("series", out, resume, force, json_out, threads=threads, engine=engine, address=address,
                         workers=workers, data=data)
    loco: list = []

    def protocol_run():
        if protocol == "standard":
            return run_series(suite, data, datasets=_split(datasets), detectors=_split(detectors), seeds=seeds,
                              out=run.out, resume=resume, **run.engine_kwargs)
        from ..bench.loco import run_loco

        if not detectors:
            raise ValueError("--protocol loco needs --detectors: the candidate specs to choose among")
        csv_path, *written = run_loco(suite, data, candidates=_split(detectors), references=_split(reference) or [],
                                      datasets=_split(datasets), seeds=seeds, out=run.out, resume=resume, metrics=_split_plain(metric) or ["vus_pr"],
                                      command=_command_line())
        loco.extend(written)
        return csv_path

    csv_path = run.run(protocol_run)
    if loco and not json_out:
        loco_csv, loco_md = loco
        typer.echo(loco_md.split("## ", 1)[-1])
        typer.echo(f"wrote {loco_csv} and {loco_csv.with_suffix('.md')}")
    run.finish(csv_path, summarize_series, cut="### VUS-PR per file", data=data, anchors=_anchors(anchors))


def bench_summarize(csv: list[Path] = typer.Argument(..., help="Results CSVs to pool."),
                    md: Optional[Path] = None, anchors: Optional[Path] = None,
                    command: Optional[str] = typer.Option(None, help="Command line to record in the summary."),
                    only: Optional[str] = typer.Option(None, help="Summarise only these detectors (comma-separated).")):
    """Write the markdown summary of one or more results CSVs (pooled).

    Example: adgdm bench summarize a.csv b.csv --md pooled.md
    """
    from ..bench import summarize

    missing = [str(c) for c in csv if not c.is_file()]
    if missing:
        _error(f"no such results file: {', '.join(missing)}")
    out = md or csv[0].with_suffix(".md")
    summarize(csv, out, command=command, anchors=_anchors(anchors), detectors=_split(only))
    typer.echo(f"wrote {out}")


def bench_generation(
    data: Path = typer.Option(..., "--data", help="Folder of ADBench-style .npz files (X, y), or SKAB's root."),
    suite: str = typer.Option("adbench", help="adbench (tables: fidelity and the cycle), skab (fidelity of "
                                              "generated windows) or nsl-kdd (fidelity on a mixed table: "
                                              "--data is NSL-KDD's folder)."),
    datasets: Optional[str] = typer.Option(None, help="Comma-separated dataset names; default all."),
    seeds: int = typer.Option(3, help=SEEDS_HELP),
    shots: str = typer.Option("0,5,20", help="Comma-separated counts of real anomalies given to the detectors "
                                             "(adbench only)."),
    out: Optional[Path] = OUT,
    force: bool = FORCE,
    resume: bool = RESUME,
    threads: Optional[int] = LOCAL_THREADS,
    json_out: bool = JSON,
    generator: str = typer.Option("ddpm", help="Fidelity rows of: ddpm, tabddpm (mixed-type: multinomial "
                                               "diffusion for categorical columns) or both."),
    fidelity_only: bool = typer.Option(False, "--fidelity-only", help="Only the fidelity rows (no diffusion, "
                                                                      "cycle, supervised, xgbod)."),
    tabddpm_steps: int = typer.Option(2000, help="Training steps of the tabddpm generator."),
):
    """Fidelity of generated normals and the detection-generation cycle (semi protocol).

    Mixed-type generator: adgdm bench generation --data ../shared/data/adbench/Classical --seeds 1
    --generator tabddpm --fidelity-only --out generation_tabddpm.csv (NSL-KDD: --suite nsl-kdd
    --data ../shared/data/nsl-kdd)

    Example: adgdm bench generation --data ../shared/data/adbench/Classical --seeds 3 --shots 0,5,20

    Series: adgdm bench generation --suite skab --data ../shared/data/skab --out generation_skab.csv
    """
    from ..bench.generation import run_generation
    from ..bench.generation_series import run_generation_series
    from ..bench.generation_summary import summarize_generation

    run = BenchRun.start("generation", out, resume, force, json_out, threads=threads, data=data)

    def protocol():
        if suite == "skab":
            return run_generation_series(data, datasets=_split(datasets), seeds=seeds, out=run.out, resume=resume)
        if suite == "adbench":
            k = [int(v) for v in shots.split(",") if v.strip()]
            return run_generation(data, datasets=_split(datasets), seeds=seeds, shots=k, out=run.out, resume=resume,
                                  generator=generator,
                                  fidelity_only=fidelity_only, tabddpm_steps=tabddpm_steps)
        if suite == "nsl-kdd":
            from ..bench.generation import run_generation_nslkdd

            return run_generation_nslkdd(data, seeds=seeds, out=run.out, resume=resume, generator=generator,
                                         tabddpm_steps=tabddpm_steps)
        raise ValueError(f"--suite must be adbench, skab or nsl-kdd, got {suite!r}")

    run.finish(run.run(protocol), summarize_generation)


def bench_image(
    suite: str = typer.Option(..., "--suite", help="mtd, mnist, mvtec-emb or folder (any MVTec-style folder)."),
    data: Path = typer.Option(..., "--data", help="The suite's folder, e.g. ../shared/data/mtd."),
    datasets: Optional[str] = typer.Option(None, help="Comma-separated defect classes, digits or categories."),
    detectors: Optional[str] = DETECTORS,
    seeds: int = typer.Option(3, help=SEEDS_HELP),
    size: int = typer.Option(128, help="Images are resized to SIZE x SIZE pixels (mtd, folder)."),
    out: Optional[Path] = OUT,
    force: bool = FORCE,
    resume: bool = RESUME,
    save_maps: Optional[Path] = typer.Option(None, "--save-maps", help="Write PNG overlays of seed 0's maps here."),
    threads: Optional[int] = LOCAL_THREADS,
    json_out: bool = JSON,
):
    """Image detection with localisation (image AUROC/AUPRC, pixel AUROC, AUPRO).

    Example: adgdm bench image --suite mtd --data ../shared/data/mtd --seeds 3 --size 128 --out mtd.csv
    """
    from ..bench.image import run_image
    from ..bench.image_summary import summarize_image

    run = BenchRun.start("image", out, resume, force, json_out, threads=threads, data=data)
    csv_path = run.run(lambda: run_image(suite, data, datasets=_split(datasets), detectors=_split(detectors), seeds=seeds,
                                         size=size, out=run.out, resume=resume, save_maps=save_maps))
    run.finish(csv_path, summarize_image)


def _frame_size(size: Optional[str]) -> Optional[tuple]:
    """``--size H,W`` (or ``HxW``, or one side for both)."""
    hw = tuple(int(v) for v in size.replace("x", ",").split(",")) if size else None
    return (hw[0], hw[0]) if hw is not None and len(hw) == 1 else hw


def bench_video(
    suite: str = typer.Option(..., "--suite", help="ped2 (the shared UCSD Ped2) or folder (train/, test/ and "
                              "frame_labels.csv)."),
    data: Path = typer.Option(..., "--data", help="The suite's folder, e.g. ../shared/data/ped2."),
    detectors: Optional[str] = DETECTORS,
    seeds: int = typer.Option(3, help=SEEDS_HELP),
    size: Optional[str] = typer.Option(None, help="Resize frames to H,W (default: as stored)."),
    out: Optional[Path] = OUT,
    force: bool = FORCE,
    resume: bool = RESUME,
    threads: Optional[int] = LOCAL_THREADS,
    anchors: Optional[Path] = typer.Option(None, help="Published numbers to show beside (e.g. "
                                           "../shared/anchors/video_ped2.csv)."),
    json_out: bool = JSON,
):
    """Frame-level video detection (pooled and per-clip AUROC, AUPRC, frames/s).

    Example: adgdm bench video --suite ped2 --data ../shared/data/ped2 --seeds 3 --out ped2.csv
    """
    from ..bench.video import run_video
    from ..bench.video_summary import summarize_video

    run = BenchRun.start("video", out, resume, force, json_out, threads=threads, data=data)
    csv_path = run.run(lambda: run_video(suite, data, detectors=_split(detectors), seeds=seeds,
                                         size=_frame_size(size), out=run.out, resume=resume))
    run.finish(csv_path, summarize_video, anchors=anchors)


def _machine() -> str:
    import os
    import platform

    import torch

    return (f"{os.cpu_count()} cores ({platform.machine()}), torch threads {torch.get_num_threads()}, "
            f"GPU: {'yes' if torch.cuda.is_available() else 'no'}")


def bench_multimodal(
    suite: str = typer.Option("digits-captions", "--suite", help="digits-captions (MNIST digits with captions) or "
                              "ped2-motion (UCSD Ped2 frames: appearance + motion)."),
    data: Path = typer.Option(..., "--data", help="The MNIST folder (t10k idx files) or the Ped2 folder."),
    detectors: Optional[str] = typer.Option(None, help="Detector specs separated by ';' (diffusion[image], "
                                            "diffusion[text]: the unimodal baselines)."),
    seeds: int = typer.Option(1, help=SEEDS_HELP),
    n_train: int = typer.Option(3000, help="Training pairs."),
    n_test: int = typer.Option(1000, help="Test records per type (normal and each anomaly type)."),
    image_size: int = typer.Option(32, help="Input side of the image feature extractor."),
    select: bool = typer.Option(True, help="Run the label-free selection of the multimodal default (seed 0)."),
    out: Optional[Path] = OUT,
    force: bool = FORCE,
    resume: bool = RESUME,
    threads: Optional[int] = LOCAL_THREADS,
    json_out: bool = JSON,
):
    """Image + caption records: mismatched, corrupted-image and off-topic-caption anomalies (AUROC, AUPRC, records/s).

    Example: adgdm bench multimodal --suite digits-captions --data ../shared/data/mnist --seeds 1
    """
    from ..bench.multimodal import load_digits_captions, run_multimodal, select_strategy, summarize_multimodal

    run = BenchRun.start("multimodal", out, resume, force, json_out, threads=threads, data=data)
    selection: list = []

    def protocol():
        if select and suite == "digits-captions":
            selection.extend(select_strategy(load_digits_captions(data, n_train=n_train, n_test=n_test, seed=0)[0], seed=0,
                                             image_size=image_size))
        specs = [d.strip() for d in detectors.split(";") if d.strip()] if detectors else None
        return run_multimodal(suite, data, detectors=specs, seeds=seeds, n_train=n_train, n_test=n_test,
                              image_size=image_size, out=run.out, resume=resume,
                              default_strategy=selection[0]["strategy"] if selection else None)

    csv_path = run.run(protocol)
    run.finish(csv_path, summarize_multimodal, selection=selection or None, machine=_machine())


def register(app) -> None:
    """Add ``adgdm bench`` and its commands to ``app``."""
    bench = typer.Typer(help="Run benchmark protocols and write long CSV + markdown summaries.", no_args_is_help=True)
    app.add_typer(bench, name="bench")
    for name, fn in (("tabular", bench_tabular), ("series", bench_series), ("summarize", bench_summarize),
                     ("generation", bench_generation), ("image", bench_image), ("video", bench_video),
                     ("multimodal", bench_multimodal)):
        bench.command(name)(fn)
