"""The ``adgdm`` command line (needs the ``[cli]`` extra: typer, rich)."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path
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


OUT_HELP = "Long-format CSV to write (default: a new timestamped file in benchmarks/results/)."
FORCE_HELP = "Replace OUT if it exists (without it, an existing OUT is refused unless --resume)."


def _bench_out(out: Optional[Path], kind: str, resume: bool, force: bool) -> Path:
    """Where a bench writes: OUT, refused when it exists (committed results among them) unless
    --resume or --force; without OUT a new timestamped file, so nothing is overwritten."""
    import time

    if out is None:
        out = Path("benchmarks/results") / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}.csv"
        if resume:
            typer.secho("error: --resume needs --out (the file to continue)", fg="red", err=True)
            raise typer.Exit(2)
    if out.exists() and not (resume or force):
        typer.secho(f"error: --out {out} exists; pass --resume to continue it or --force to replace it", fg="red",
                    err=True)
        raise typer.Exit(2)
    return out


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


ENGINE_HELP = ("local (one process) or ray (each dataset x detector x seed job a Ray task; a failed job is a row "
               "with an error and the grid goes on; pip install 'adgdm[ray]').")
ADDRESS_HELP = ("--engine ray: 'auto' or 'ray://host:port' to use a running cluster (default: start a local Ray "
                "on this machine's CPUs).")
WORKERS_HELP = "--engine ray: jobs at once (default: the cluster's CPUs // --threads)."
THREADS_HELP = "Torch CPU threads (default: torch's choice; --engine ray: threads per task, default 1)."


def _check_engine(engine: str, address: Optional[str], workers: Optional[int]) -> None:
    if engine not in ("local", "ray"):
        typer.secho(f"error: --engine must be local or ray, got {engine!r}", fg="red", err=True)
        raise typer.Exit(2)
    if engine == "local" and (address or workers):
        typer.secho("error: --address and --workers need --engine ray", fg="red", err=True)
        raise typer.Exit(2)


def _run(fn, json_out: bool = False):
    """Run a command body: bad input -> one red line and exit 2; Ctrl-C -> exit 130 (outputs are
    written atomically, so nothing half-written is left); --json -> the result as JSON."""
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
    if json_out:
        typer.echo(json.dumps(result, indent=2, default=str))
    return result


def _bad(msg: str, json_out: bool = False):
    """Stop a command with one clear line (exit 2), the way :func:`_run` reports bad input."""
    def raise_it():
        raise ValueError(msg)

    _run(raise_it, json_out)


def _score_ray(model_dir, data, out, columns, label, time, explain, top_k, sep, encoding, strict, force, json_out,
               address, workers, batch_size, threads):
    """``adgdm score --engine ray``: :func:`adgdm.distributed.score_dataset`; failed parts are
    listed and the exit code is 1, the parts scored are kept."""
    if columns or label or time or sep or encoding or strict:
        _bad("--columns, --label, --time, --sep, --encoding and --strict are read from the model folder with "
             "--engine ray (refit to change them)", json_out)

    def body():
        from .distributed import score_dataset

        return score_dataset(model_dir, str(data), out, workers=workers, rows_per_part=batch_size, address=address,
                             explain=explain, top_k=top_k, threads=threads, force=force,
                             progress=_interactive(json_out))

    r = _run(body, json_out)
    if not json_out:
        units = "images" if r["modality"] == "image" else "rows"
        typer.echo(f"scored {r['rows']} of {r['rows_in']} {units} in {r['parts']} parts on {r['workers']} Ray "
                   f"workers in {r['seconds']:.1f} s: {r['flagged']} flagged; wrote {r['out']}/part-*.parquet")
        if r["retried"]:
            typer.echo(f"note: {r['retried']} parts were retried after a worker error (each written once)")
        for note in r.get("notes", []):
            typer.echo(f"note: {note}")
        for f in r["failed"]:
            typer.secho(f"failed: {f['error']}", fg="red", err=True)
    if r["failed"]:
        if not json_out:
            typer.secho(f"{len(r['failed'])} of {r['parts']} parts failed; the other parts are written", fg="red",
                        err=True)
        raise typer.Exit(1)
    return r


def _build_app():
    # how a table is read, shared by fit, score and detect
    SEP = typer.Option(None, "--sep", help="Column separator of a text table (default: sniffed among , ; tab |).")
    ENCODING = typer.Option(None, "--encoding", help="Text encoding of the table (default UTF-8).")
    STRICT = typer.Option(False, "--strict", help="Series: refuse rows out of time order instead of sorting them.")
    app = typer.Typer(help="adgdm: anomaly detection and generation with diffusion models.", no_args_is_help=True)
    bench = typer.Typer(help="Run benchmark protocols and write long CSV + markdown summaries.", no_args_is_help=True)
    app.add_typer(bench, name="bench")

    @bench.command("tabular")
    def bench_tabular(
        data: Path = typer.Option(..., "--data", help="Folder of ADBench-style .npz files (X, y), or of .csv tables "
                                  "with a 0/1 label column (mixed types and blanks allowed)."),
        label: str = typer.Option("label", "--label", help="CSV tables: the 0/1 label column (1 = anomaly)."),
        datasets: Optional[str] = typer.Option(None, help="Comma-separated dataset names (file stems); default all."),
        detectors: Optional[str] = typer.Option(None, help="Comma-separated detector specs, e.g. 'diffusion,ddpm:steps=100'."),
        seeds: int = typer.Option(5, help="Number of seeds (0 .. N-1)."),
        setting: str = typer.Option("semi", help="'semi' (train on half the normals) or 'unsup' (fit and score all rows)."),
        out: Optional[Path] = typer.Option(None, help=OUT_HELP),
        force: bool = typer.Option(False, "--force", help=FORCE_HELP),
        resume: bool = typer.Option(False, help="Append to OUT and skip rows it already holds."),
        anchors: Optional[Path] = typer.Option(None, help="Published anchors CSV to show beside the summary."),
        threads: Optional[int] = typer.Option(None, help=THREADS_HELP),
        engine: str = typer.Option("local", "--engine", help=ENGINE_HELP),
        address: Optional[str] = typer.Option(None, "--address", help=ADDRESS_HELP),
        workers: Optional[int] = typer.Option(None, "--workers", min=1, help=WORKERS_HELP),
        json_out: bool = typer.Option(False, "--json", help="Print {csv, md, rows} as JSON instead of the summary."),
    ):
        """ADBench protocols on tables; writes OUT and OUT with a .md summary.

        Example: adgdm bench tabular --data ../shared/data/adbench/Classical --detectors 'diffusion;pyod-knn' --seeds 3

        On a Ray cluster (pip install 'adgdm[ray]'): add --engine ray [--address auto] [--workers N] [--threads T].
        """
        from .bench import run_tabular, summarize

        _check_engine(engine, address, workers)
        if threads and engine == "local":
            import torch

            torch.set_num_threads(threads)
        out = _bench_out(out, "tabular", resume, force)
        failed: list = []
        try:
            csv_path = run_tabular(data, _split(datasets), _split(detectors), seeds, setting, out, resume, label=label,
                                   engine=engine, threads=threads, workers=workers, address=address, failed=failed)
        except (ValueError, ImportError) as e:
            typer.secho(f"error: {e}", fg="red", err=True)
            raise typer.Exit(2)
        command = "adgdm " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        md = summarize(csv_path, csv_path.with_suffix(".md"), command=command, anchors=str(anchors) if anchors else None)
        _bench_done(csv_path, md.split("### ")[0], json_out, failed)

    @bench.command("series")
    def bench_series(
        suite: str = typer.Option(..., "--suite", help="'nab' or 'skab'."),
        data: Path = typer.Option(..., "--data", help="The suite's folder, e.g. ../shared/data/nab."),
        datasets: Optional[str] = typer.Option(None, help="Comma-separated file names (e.g. 'valve1/0'); default all."),
        detectors: Optional[str] = typer.Option(None, help="Detector specs separated by ';' or ','."),
        seeds: int = typer.Option(1, help="Number of seeds (0 .. N-1)."),
        out: Optional[Path] = typer.Option(None, help=OUT_HELP),
        force: bool = typer.Option(False, "--force", help=FORCE_HELP),
        resume: bool = typer.Option(False, help="Append to OUT and skip rows it already holds."),
        anchors: Optional[Path] = typer.Option(None, help="Folder of published anchors (../shared/anchors)."),
        threads: Optional[int] = typer.Option(None, help=THREADS_HELP),
        engine: str = typer.Option("local", "--engine", help=ENGINE_HELP + " Standard protocol only."),
        address: Optional[str] = typer.Option(None, "--address", help=ADDRESS_HELP),
        workers: Optional[int] = typer.Option(None, "--workers", min=1, help=WORKERS_HELP),
        json_out: bool = typer.Option(False, "--json", help="Print {csv, md, rows} as JSON instead of the summary."),
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
        from .bench.series import run_series
        from .bench.series_summary import summarize_series

        _check_engine(engine, address, workers)
        if threads and engine == "local":
            import torch

            torch.set_num_threads(threads)
        if protocol not in ("standard", "loco"):
            typer.secho(f"error: --protocol must be 'standard' or 'loco', got {protocol!r}", fg="red", err=True)
            raise typer.Exit(2)
        if protocol == "loco" and engine == "ray":
            typer.secho("error: --engine ray runs the standard protocol only", fg="red", err=True)
            raise typer.Exit(2)
        failed: list = []
        out = _bench_out(out, "series", resume, force)
        command = "adgdm " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        try:
            if protocol == "loco":
                from .bench.loco import run_loco

                if not detectors:
                    raise ValueError("--protocol loco needs --detectors: the candidate specs to choose among")
                csv_path, loco_csv, loco_md = run_loco(suite, data, _split(detectors), _split(reference) or [],
                                                       _split(datasets), seeds, out, resume,
                                                       metrics=_split_plain(metric) or ["vus_pr"], command=command)
            else:
                csv_path = run_series(suite, data, _split(datasets), _split(detectors), seeds, out, resume,
                                      engine=engine, threads=threads, workers=workers, address=address,
                                      failed=failed)
        except (ValueError, ImportError, FileNotFoundError) as e:
            typer.secho(f"error: {e}", fg="red", err=True)
            raise typer.Exit(2)
        md = summarize_series(csv_path, csv_path.with_suffix(".md"), command=command, data=data,
                              anchors=str(anchors) if anchors else None)
        if protocol == "loco" and not json_out:
            typer.echo(loco_md.split("## ", 1)[-1])
            typer.echo(f"wrote {loco_csv} and {loco_csv.with_suffix('.md')}")
        _bench_done(csv_path, md.split("### VUS-PR per file")[0], json_out, failed)

    @bench.command("summarize")
    def bench_summarize(csv: list[Path] = typer.Argument(..., help="Results CSVs to pool."),
                        md: Optional[Path] = None, anchors: Optional[Path] = None,
                        command: Optional[str] = typer.Option(None, help="Command line to record in the summary."),
                        only: Optional[str] = typer.Option(None, help="Summarise only these detectors (comma-separated).")):
        """Write the markdown summary of one or more results CSVs (pooled).

        Example: adgdm bench summarize a.csv b.csv --md pooled.md
        """
        from .bench import summarize

        missing = [str(c) for c in csv if not c.is_file()]
        if missing:
            typer.secho(f"error: no such results file: {', '.join(missing)}", fg="red", err=True)
            raise typer.Exit(2)
        out = md or csv[0].with_suffix(".md")
        summarize(csv, out, command=command, anchors=str(anchors) if anchors else None, detectors=_split(only))
        typer.echo(f"wrote {out}")

    @bench.command("generation")
    def bench_generation(
        data: Path = typer.Option(..., "--data", help="Folder of ADBench-style .npz files (X, y), or SKAB's root."),
        suite: str = typer.Option("adbench", help="adbench (tables: fidelity and the cycle), skab (fidelity of "
                                                  "generated windows) or nsl-kdd (fidelity on a mixed table: "
                                                  "--data is NSL-KDD's folder)."),
        datasets: Optional[str] = typer.Option(None, help="Comma-separated dataset names; default all."),
        seeds: int = typer.Option(3, help="Number of seeds (0 .. N-1)."),
        shots: str = typer.Option("0,5,20", help="Comma-separated counts of real anomalies given to the detectors "
                                                 "(adbench only)."),
        out: Optional[Path] = typer.Option(None, help=OUT_HELP),
        force: bool = typer.Option(False, "--force", help=FORCE_HELP),
        resume: bool = typer.Option(False, help="Append to OUT and skip rows it already holds."),
        threads: Optional[int] = typer.Option(None, help="Torch CPU threads (default: torch's choice)."),
        json_out: bool = typer.Option(False, "--json", help="Print {csv, md, rows} as JSON instead of the summary."),
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
        from .bench.generation import run_generation
        from .bench.generation_series import run_generation_series
        from .bench.generation_summary import summarize_generation

        if threads:
            import torch

            torch.set_num_threads(threads)
        out = _bench_out(out, "generation", resume, force)
        try:
            if suite == "skab":
                csv_path = run_generation_series(data, _split(datasets), seeds, out, resume)
            elif suite == "adbench":
                k = [int(v) for v in shots.split(",") if v.strip()]
                csv_path = run_generation(data, _split(datasets), seeds, k, out, resume, generator=generator,
                                          fidelity_only=fidelity_only, tabddpm_steps=tabddpm_steps)
            elif suite == "nsl-kdd":
                from .bench.generation import run_generation_nslkdd

                csv_path = run_generation_nslkdd(data, seeds, out, resume, generator=generator,
                                                 tabddpm_steps=tabddpm_steps)
            else:
                raise ValueError(f"--suite must be adbench, skab or nsl-kdd, got {suite!r}")
        except (ValueError, ImportError, FileNotFoundError) as e:
            typer.secho(f"error: {e}", fg="red", err=True)
            raise typer.Exit(2)
        command = "adgdm " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        md = summarize_generation(csv_path, csv_path.with_suffix(".md"), command=command)
        _bench_done(csv_path, md.split("### ")[0], json_out)

    @bench.command("image")
    def bench_image(
        suite: str = typer.Option(..., "--suite", help="mtd, mnist, mvtec-emb or folder (any MVTec-style folder)."),
        data: Path = typer.Option(..., "--data", help="The suite's folder, e.g. ../shared/data/mtd."),
        datasets: Optional[str] = typer.Option(None, help="Comma-separated defect classes, digits or categories."),
        detectors: Optional[str] = typer.Option(None, help="Detector specs separated by ';' or ','."),
        seeds: int = typer.Option(3, help="Number of seeds (0 .. N-1)."),
        size: int = typer.Option(128, help="Images are resized to SIZE x SIZE pixels (mtd, folder)."),
        out: Optional[Path] = typer.Option(None, help=OUT_HELP),
        force: bool = typer.Option(False, "--force", help=FORCE_HELP),
        resume: bool = typer.Option(False, help="Append to OUT and skip rows it already holds."),
        save_maps: Optional[Path] = typer.Option(None, "--save-maps", help="Write PNG overlays of seed 0's maps here."),
        threads: Optional[int] = typer.Option(None, help="Torch CPU threads (default: torch's choice)."),
        json_out: bool = typer.Option(False, "--json", help="Print {csv, md, rows} as JSON instead of the summary."),
    ):
        """Image detection with localisation (image AUROC/AUPRC, pixel AUROC, AUPRO).

        Example: adgdm bench image --suite mtd --data ../shared/data/mtd --seeds 3 --size 128 --out mtd.csv
        """
        from .bench.image import run_image
        from .bench.image_summary import summarize_image

        if threads:
            import torch

            torch.set_num_threads(threads)
        out = _bench_out(out, "image", resume, force)
        try:
            csv_path = run_image(suite, data, _split(datasets), _split(detectors), seeds, size, out, resume,
                                 save_maps=save_maps)
        except (ValueError, ImportError, FileNotFoundError) as e:
            typer.secho(f"error: {e}", fg="red", err=True)
            raise typer.Exit(2)
        command = "adgdm " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        md = summarize_image(csv_path, csv_path.with_suffix(".md"), command=command)
        _bench_done(csv_path, md.split("### ")[0], json_out)

    @bench.command("video")
    def bench_video(
        suite: str = typer.Option(..., "--suite", help="ped2 (the shared UCSD Ped2) or folder (train/, test/ and "
                                  "frame_labels.csv)."),
        data: Path = typer.Option(..., "--data", help="The suite's folder, e.g. ../shared/data/ped2."),
        detectors: Optional[str] = typer.Option(None, help="Detector specs separated by ';' or ','."),
        seeds: int = typer.Option(3, help="Number of seeds (0 .. N-1)."),
        size: Optional[str] = typer.Option(None, help="Resize frames to H,W (default: as stored)."),
        out: Optional[Path] = typer.Option(None, help=OUT_HELP),
        force: bool = typer.Option(False, "--force", help=FORCE_HELP),
        resume: bool = typer.Option(False, help="Append to OUT and skip rows it already holds."),
        threads: Optional[int] = typer.Option(None, help="Torch CPU threads (default: torch's choice)."),
        anchors: Optional[Path] = typer.Option(None, help="Published numbers to show beside (e.g. "
                                               "../shared/anchors/video_ped2.csv)."),
        json_out: bool = typer.Option(False, "--json", help="Print {csv, md, rows} as JSON instead of the summary."),
    ):
        """Frame-level video detection (pooled and per-clip AUROC, AUPRC, frames/s).

        Example: adgdm bench video --suite ped2 --data ../shared/data/ped2 --seeds 3 --out ped2.csv
        """
        from .bench.video import run_video
        from .bench.video_summary import summarize_video

        if threads:
            import torch

            torch.set_num_threads(threads)
        out = _bench_out(out, "video", resume, force)
        try:
            hw = tuple(int(v) for v in size.replace("x", ",").split(",")) if size else None
            if hw is not None and len(hw) == 1:
                hw = (hw[0], hw[0])
            csv_path = run_video(suite, data, _split(detectors), seeds, hw, out, resume)
        except (ValueError, ImportError, FileNotFoundError) as e:
            typer.secho(f"error: {e}", fg="red", err=True)
            raise typer.Exit(2)
        command = "adgdm " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        md = summarize_video(csv_path, csv_path.with_suffix(".md"), command=command, anchors=anchors)
        _bench_done(csv_path, md.split("### ")[0], json_out)

    @bench.command("multimodal")
    def bench_multimodal(
        suite: str = typer.Option("digits-captions", "--suite", help="digits-captions (MNIST digits with captions) or "
                                  "ped2-motion (UCSD Ped2 frames: appearance + motion)."),
        data: Path = typer.Option(..., "--data", help="The MNIST folder (t10k idx files) or the Ped2 folder."),
        detectors: Optional[str] = typer.Option(None, help="Detector specs separated by ';' (diffusion[image], "
                                                "diffusion[text]: the unimodal baselines)."),
        seeds: int = typer.Option(1, help="Number of seeds (0 .. N-1)."),
        n_train: int = typer.Option(3000, help="Training pairs."),
        n_test: int = typer.Option(1000, help="Test records per type (normal and each anomaly type)."),
        image_size: int = typer.Option(32, help="Input side of the image feature extractor."),
        select: bool = typer.Option(True, help="Run the label-free selection of the multimodal default (seed 0)."),
        out: Optional[Path] = typer.Option(None, help=OUT_HELP),
        force: bool = typer.Option(False, "--force", help=FORCE_HELP),
        resume: bool = typer.Option(False, help="Append to OUT and skip rows it already holds."),
        threads: Optional[int] = typer.Option(None, help="Torch CPU threads (default: torch's choice)."),
        json_out: bool = typer.Option(False, "--json", help="Print {csv, md, rows} as JSON instead of the summary."),
    ):
        """Image + caption records: mismatched, corrupted-image and off-topic-caption anomalies (AUROC, AUPRC, records/s).

        Example: adgdm bench multimodal --suite digits-captions --data ../shared/data/mnist --seeds 1
        """
        import os
        import platform

        from .bench.multimodal import load_digits_captions, run_multimodal, select_strategy, summarize_multimodal

        if threads:
            import torch

            torch.set_num_threads(threads)
        out = _bench_out(out, "multimodal", resume, force)
        try:
            selection = (select_strategy(load_digits_captions(data, n_train, n_test, 0)[0], 0, image_size)
                         if select and suite == "digits-captions" else None)
            csv_path = run_multimodal(suite, data, [d.strip() for d in detectors.split(";") if d.strip()]
                                      if detectors else None, seeds, n_train, n_test, image_size, out, resume,
                                      default_strategy=selection[0]["strategy"] if selection else None)
        except (ValueError, ImportError, FileNotFoundError) as e:
            typer.secho(f"error: {e}", fg="red", err=True)
            raise typer.Exit(2)
        import torch

        command = "adgdm " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        machine = (f"{os.cpu_count()} cores ({platform.machine()}), torch threads {torch.get_num_threads()}, "
                   f"GPU: {'yes' if torch.cuda.is_available() else 'no'}")
        md = summarize_multimodal(csv_path, csv_path.with_suffix(".md"), command=command, selection=selection,
                                  machine=machine)
        _bench_done(csv_path, md.split("### ")[0], json_out)

    @app.command()
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
        param: Optional[list[str]] = typer.Option(None, "--param", "-p", help="Detector parameter key=value "
                                                  "(repeatable)."),
        columns: Optional[str] = typer.Option(None, help="Comma-separated feature/channel columns (default: all "
                                              "numeric)."),
        label: Optional[str] = typer.Option(None, help="0/1 label column: tables fit on the rows labelled 0."),
        time: Optional[str] = typer.Option(None, "--time", help="Id/time column (kept as the row id)."),
        threshold: Optional[str] = typer.Option(None, help="contamination (the quantile), pot (extreme-value, "
                                                "for unknown contamination) or fixed:VALUE."),
        contamination: Optional[float] = typer.Option(None, help="Expected share of anomalies (default 0.1)."),
        seed: Optional[int] = typer.Option(None, help="Random seed (default 0)."),
        sep: Optional[str] = SEP,
        encoding: Optional[str] = ENCODING,
        strict: bool = STRICT,
        force: bool = typer.Option(False, "--force", help="Replace the model folder OUT if it exists."),
        categorical: Optional[str] = typer.Option(None, "--categorical", help="Tables: comma-separated columns read "
                                                  "as categories even when they hold numbers (integer codes)."),
        numeric: Optional[str] = typer.Option(None, "--numeric", help="Tables: comma-separated columns read as "
                                              "numbers (default: inferred; text and true/false are categories)."),
        image_cols: Optional[str] = typer.Option(None, "--image-cols", help="Multimodal manifests: columns of "
                                                 "image paths (default: inferred from the file suffixes)."),
        text_cols: Optional[str] = typer.Option(None, "--text-cols", help="Multimodal manifests: text columns "
                                                "(default: the other string columns)."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
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
        from .commands.fit import parse_params, run_fit

        def body():
            return run_fit(data, modality=modality, detector=detector, out=out, config=config,
                           params=parse_params(param), columns=_split_plain(columns), label=label,
                           time_col=time, threshold=threshold, contamination=contamination, seed=seed, status=_status_factory(_interactive(json_out)),
                           force=force, reader={"sep": sep, "encoding": encoding, "strict": strict,
                                                "image_cols": image_cols, "text_cols": text_cols,
                                                "categorical": _split_plain(categorical),
                                                "numeric": _split_plain(numeric)})

        r = _run(body, json_out)
        if not json_out:
            what = f"{r['n_fit']} rows" if r["n_fit"] is not None else f"the images in {data}"
            typer.echo(f"fitted {r['detector']} ({r['modality']}) on {what} in {r['fit_seconds']:.1f} s; threshold "
                       f"{r['threshold']:.4g} ({r['threshold_method']}); wrote {r['model']}")
            for note in r["notes"]:
                typer.echo(f"note: {note}")

    @app.command()
    def score(
        model_dir: Path = typer.Argument(..., help="A model folder (adgdm fit, or detector.save)."),
        data: Path = typer.Argument(..., help="Data to score, like the training data."),
        out: Path = typer.Option(..., "--out", help="Scores file: .csv or .parquet."),
        columns: Optional[str] = typer.Option(None, help="Override the columns recorded at fit time."),
        label: Optional[str] = typer.Option(None, help="0/1 label column to carry into the output."),
        time: Optional[str] = typer.Option(None, "--time", help="Id/time column."),
        explain: bool = typer.Option(True, help="Add each row's top contributing features (tables, series)."),
        top_k: int = typer.Option(3, help="Features listed per row."),
        sep: Optional[str] = SEP,
        encoding: Optional[str] = ENCODING,
        strict: bool = STRICT,
        force: bool = typer.Option(False, "--force", help="Replace OUT if it exists."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
        engine: str = typer.Option("local", help="'local' (this process) or 'ray' (a Ray cluster: DATA may be a "
                                                 "folder or glob of files; OUT is a folder of Parquet parts)."),
        address: Optional[str] = typer.Option(None, help="Ray: the cluster ('auto', 'ray://host:10001'); default: "
                                                        "start a local Ray on this machine's CPUs."),
        workers: Optional[int] = typer.Option(None, help="Ray: actors scoring at once (default: CPUs // threads)."),
        batch_size: int = typer.Option(100_000, help="Ray: rows (or images, at most 64) per part."),
        threads: int = typer.Option(1, help="Ray: threads per actor."),
    ):
        """Score data with a saved model: id, score, flagged (0/1), label, top features.

        Examples:
          adgdm score model/ new.csv --out scores.csv
          adgdm score model/ new.parquet --out scores.parquet --label is_fraud
          adgdm score image_model/ tiles_test/ --out scores.csv
          adgdm score model/ 'day/*.parquet' --out scores/ --engine ray --address auto
        """
        from .commands.score import run_score

        if engine not in ("local", "ray"):
            _bad(f"--engine must be 'local' or 'ray', got {engine!r}", json_out)
        if engine == "ray":
            return _score_ray(model_dir, data, out, columns, label, time, explain, top_k, sep, encoding, strict,
                              force, json_out, address, workers, batch_size, threads)
        if address or workers or threads != 1 or batch_size != 100_000:
            _bad("--address, --workers, --batch-size and --threads are for --engine ray", json_out)

        def body():
            return run_score(model_dir, data, out=out, columns=_split_plain(columns), label=label, time_col=time,
                             explain=explain, top_k=top_k,
                             progress=_progress_factory(_interactive(json_out)), force=force,
                             reader={"sep": sep, "encoding": encoding, "strict": strict})

        r = _run(body, json_out)
        if not json_out:
            extra = f"; AUROC {r['auroc']:.4f} against the labels" if "auroc" in r else ""
            units = {"image": "images", "video": "frames", "multimodal": "records"}.get(r["modality"], "rows")
            if "unseen_categories" in r:
                extra += f"; {r['unseen_categories']} cells with categories unseen at fit"
            typer.echo(f"scored {r['rows']} {units}: {r['flagged']} flagged "
                       f"above {r['threshold']:.4g}{extra}; wrote {r['out']}")
            for note in r.get("notes", []):
                typer.echo(f"note: {note}")

    @app.command()
    def detect(
        data: Path = typer.Argument(..., help="A table or series (CSV, Parquet or NPZ) to find anomalies in."),
        out: Path = typer.Option(..., "--out", help="Scores file: .csv or .parquet (as adgdm score writes)."),
        modality: Optional[str] = typer.Option(None, help="tabular or series (default: the detector's)."),
        detector: Optional[str] = typer.Option(None, help="Detector name or spec (default: the modality's "
                                               "recommended one)."),
        model_out: Optional[Path] = typer.Option(None, "--model-out", help="Also keep the fitted model here."),
        config: Optional[Path] = typer.Option(None, help="TOML file, as for adgdm fit."),
        param: Optional[list[str]] = typer.Option(None, "--param", "-p", help="Detector parameter key=value "
                                                  "(repeatable)."),
        columns: Optional[str] = typer.Option(None, help="Comma-separated feature/channel columns."),
        label: Optional[str] = typer.Option(None, help="0/1 label column: never a feature; tables fit on the rows "
                                            "labelled 0; AUROC is reported against it."),
        time: Optional[str] = typer.Option(None, "--time", help="Id/time column (kept as the row id)."),
        threshold: Optional[str] = typer.Option(None, help="contamination, pot or fixed:VALUE."),
        contamination: Optional[float] = typer.Option(None, help="Expected share of anomalies."),
        seed: Optional[int] = typer.Option(None, help="Random seed (default 0)."),
        categorical: Optional[str] = typer.Option(None, "--categorical", help="Tables: comma-separated columns read "
                                                  "as categories even when they hold numbers (integer codes)."),
        numeric: Optional[str] = typer.Option(None, "--numeric", help="Tables: comma-separated columns read as "
                                              "numbers (default: inferred; text and true/false are categories)."),
        explain: bool = typer.Option(True, help="Add each row's top contributing features."),
        top_k: int = typer.Option(3, help="Features listed per row."),
        sep: Optional[str] = SEP,
        encoding: Optional[str] = ENCODING,
        strict: bool = STRICT,
        force: bool = typer.Option(False, "--force", help="Replace OUT (and --model-out) if they exist."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ):
        """Fit on DATA and score the same DATA in one step (unsupervised detection).

        Fitted rows or steps get their training scores, computed without them (adgdm score does the same).

        Examples:
          adgdm detect sensors.csv --modality series --time timestamp --out scores.csv
          adgdm detect data.csv --label is_fraud --out scores.csv --model-out model/
        """
        from .commands.fit import parse_params
        from .commands.detect import run_detect

        def body():
            return run_detect(data, out=out, modality=modality, detector=detector, model_out=model_out, config=config,
                              params=parse_params(param), columns=_split_plain(columns), label=label, time_col=time,
                              threshold=threshold, contamination=contamination, seed=seed, explain=explain,
                              top_k=top_k,
                              status=_status_factory(_interactive(json_out)),
                              progress=_progress_factory(_interactive(json_out)),
                              reader={"sep": sep, "encoding": encoding, "strict": strict,
                                      "categorical": _split_plain(categorical), "numeric": _split_plain(numeric)},
                              force=force)

        r = _run(body, json_out)
        if not json_out:
            extra = f"; AUROC {r['auroc']:.4f} against the labels" if "auroc" in r else ""
            kept = f" and the model to {r['model']}" if r.get("model") else ""
            typer.echo(f"fitted {r['detector']} ({r['modality']}) on {r['n_fit']} rows and scored {r['rows']}: "
                       f"{r['flagged']} flagged above {r['threshold']:.4g}{extra}; wrote {r['out']}{kept}")
            for note in r["notes"]:
                typer.echo(f"note: {note}")

    @app.command()
    def generate(
        model_dir: Path = typer.Argument(..., help="A saved model folder (adgdm fit, or detector.save)."),
        kind: str = typer.Option("normal", help="'normal' (samples of the model); tables: local, global, dependency, "
                                 "clustered, masked; series: spike, level_shift, pattern, frequency, trend, noise, "
                                 "channel_break; images: perlin, cutpaste, masked."),
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
          adgdm generate model/ --kind normal --n 500 --out samples.csv
          adgdm generate model/ --kind local --severity 1.5 --n 200 --data normal.csv --out anomalies.csv
          adgdm generate series_model/ --kind spike --n 5 --data clean.csv --out injected.csv
          adgdm generate image_model/ --kind cutpaste --n 24 --data tiles/ --out synthetic/
        """
        from .commands.generate import run_generate

        msg = _run(lambda: run_generate(model_dir, kind, n, out, data, severity, seed, force), False)
        if json_out:
            import json

            typer.echo(json.dumps({"out": str(out), "kind": kind, "message": msg}))
        else:
            typer.echo(msg)

    @app.command()
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
        from .commands.report import run_report

        r = _run(lambda: run_report(input, out, data, title, force), json_out)
        if not json_out:
            typer.echo(f"wrote {r['out']} ({r['kind']} report: {', '.join(r['sections'])})")

    pretrain = typer.Typer(help="Pretrain networks shared across datasets.", no_args_is_help=True)
    app.add_typer(pretrain, name="pretrain")

    @pretrain.command("series")
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
        from .pretrained.series import pretrain_series

        if threads:
            import torch

            torch.set_num_threads(threads)
        if (out / "weights.safetensors").exists() and not force:
            typer.secho(f"error: {out} already holds a model; pass --force to overwrite it", fg="red", err=True)
            raise typer.Exit(2)
        command = "adgdm " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        try:
            path = pretrain_series(out, data=data, steps=steps, seed=seed, width=width, depth=depth, n_series=n_series,
                                   n_windows=windows, progress=True, command=command)
        except (ValueError, FileNotFoundError) as e:
            typer.secho(f"error: {e}", fg="red", err=True)
            raise typer.Exit(2)
        typer.echo(f"wrote {path / 'model.json'} and {path / 'weights.safetensors'}")

    @app.command()
    def info(device: bool = typer.Option(False, "--device", help="Also load torch to report the device, CUDA and "
                                         "threads (slower)."),
             json_out: bool = typer.Option(False, "--json", help="Print the result as JSON.")):
        """Versions, installed extras and (with --device) device and threads.

        Example: adgdm info --device --json
        """
        from .commands.info import format_info, run_info

        r = _run(lambda: run_info(device), json_out)
        if not json_out:
            typer.echo(format_info(r))

    @app.command()
    def demo(seed: int = 0):
        """Breast-cancer demo (no download): adgdm detectors beside PyOD baselines.

        Example: adgdm demo --seed 1
        """
        from .demo import run

        run(seed)

    @app.command()
    def serve(
        model_dir: Path = typer.Argument(..., help="A model folder (adgdm fit): tables, series or images."),
        host: str = typer.Option("127.0.0.1", help="Address to listen on (default: this machine only)."),
        port: int = typer.Option(8000, help="Port."),
        workers: int = typer.Option(1, help="Server processes, each with its own copy of the model."),
        api_key_file: Optional[Path] = typer.Option(None, help="API keys, one per line ('admin:KEY' for reload); "
                                                              "default: ADGDM_API_KEYS / ADGDM_ADMIN_KEYS."),
        max_body_mb: float = typer.Option(8.0, help="Largest request body (MB); 413 above."),
        max_rows: int = typer.Option(10_000, help="Most rows (or steps) in one request; 413 above."),
        max_pixels: int = typer.Option(4096 * 4096, help="Largest uploaded image (width x height); 413 above."),
        max_pending: int = typer.Option(32, help="Requests admitted at once per process; 429 beyond."),
        timeout: float = typer.Option(30.0, help="Seconds a request may take to score; 503 beyond."),
        threads: int = typer.Option(1, help="Scoring threads per process."),
        batch_ms: float = typer.Option(1.0, help="Milliseconds concurrent table requests gather to be scored "
                                                 "together (0: no waiting)."),
        explain: bool = typer.Option(True, help="Top features in the answers (tables, series)."),
        access_log: bool = typer.Option(False, help="Log every request."),
    ):
        """Serve a model over HTTP: POST /v1/score, GET /v1/model, GET /v1/health, POST /v1/reload.

        Every route but /v1/health needs an X-API-Key header; keys come from --api-key-file or
        ADGDM_API_KEYS (never from the command line).

        Examples:
          ADGDM_API_KEYS=$(cat key.txt) adgdm serve model/
          adgdm serve model/ --api-key-file keys.txt --port 8080
          curl -H "X-API-Key: $KEY" -H 'content-type: application/json' \\
               -d '{"records": [{"amount": 12.5, "service": "http"}]}' http://127.0.0.1:8000/v1/score
        """
        import json as _json
        import os as _os

        def check():
            from .serve.factory import ENV, keys_from
            from .serve.model import load_verified

            keys_from(api_key_file)  # no key: a clear error before anything listens
            model = load_verified(model_dir)
            if workers < 1 or not 0 < port < 65536:
                raise ValueError("--workers must be >= 1 and --port in 1..65535")
            settings = {"model_dir": str(Path(model_dir).resolve()), "max_body_bytes": int(max_body_mb * 2 ** 20),
                        "max_rows": max_rows, "max_pixels": max_pixels, "max_pending": max_pending,
                        "timeout_s": timeout, "threads": threads, "batch_ms": batch_ms, "explain": explain,
                        "api_key_file": str(Path(api_key_file).resolve()) if api_key_file else None}
            from .serve.config import ServeConfig
            from .serve.keys import ApiKeys

            ServeConfig(keys=ApiKeys([b"x"]), **{k: v for k, v in settings.items() if k != "api_key_file"})
            _os.environ[ENV] = _json.dumps(settings)
            return model

        model = _run(check)
        try:
            import uvicorn
        except ImportError:
            _bad("adgdm serve needs FastAPI and uvicorn: pip install 'adgdm[serve]'")
        if host not in ("127.0.0.1", "localhost", "::1"):
            typer.secho(f"note: listening on {host}: other machines can reach this port; put TLS (a reverse proxy) "
                        "in front of it", fg="yellow", err=True)
        typer.echo(f"serving {model.meta.get('detector')} ({model.modality}, version {model.version}) on "
                   f"http://{host}:{port}/v1/score with {workers} process(es); Ctrl-C stops")
        uvicorn.run("adgdm.serve.factory:app_from_env", factory=True, host=host, port=port, workers=workers,
                    log_level="warning", access_log=access_log, timeout_graceful_shutdown=5)

    @app.command("list")
    def list_cmd():
        """List registered detectors.

        Example: adgdm list
        """
        from . import list_detectors

        for name in list_detectors(None):
            typer.echo(name)

    return app


def main():
    if typer is None:
        sys.exit("the adgdm command needs the [cli] extra: pip install 'adgdm[cli]'")
    _build_app()()


if __name__ == "__main__":
    main()
