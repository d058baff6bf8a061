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


def _build_app():
    app = typer.Typer(help="adgdm: anomaly detection and generation with diffusion models.", no_args_is_help=True)
    bench = typer.Typer(help="Run benchmark protocols and write long CSV + markdown summaries.", no_args_is_help=True)
    app.add_typer(bench, name="bench")

    @bench.command("tabular")
    def bench_tabular(
        data: Path = typer.Option(..., "--data", help="Folder of ADBench-style .npz files (X, y)."),
        datasets: Optional[str] = typer.Option(None, help="Comma-separated dataset names (file stems); default all."),
        detectors: Optional[str] = typer.Option(None, help="Comma-separated detector specs, e.g. 'diffusion,ddpm:steps=100'."),
        seeds: int = typer.Option(5, help="Number of seeds (0 .. N-1)."),
        setting: str = typer.Option("semi", help="'semi' (train on half the normals) or 'unsup' (fit and score all rows)."),
        out: Path = typer.Option(Path("benchmarks/results/tabular.csv"), help="Long-format CSV to write."),
        resume: bool = typer.Option(False, help="Append to OUT and skip rows it already holds."),
        anchors: Optional[Path] = typer.Option(None, help="Published anchors CSV to show beside the summary."),
        threads: Optional[int] = typer.Option(None, help="Torch CPU threads (default: torch's choice)."),
    ):
        """ADBench protocols on tables; writes OUT and OUT with a .md summary."""
        from .bench import run_tabular, summarize

        if threads:
            import torch

            torch.set_num_threads(threads)
        try:
            csv_path = run_tabular(data, _split(datasets), _split(detectors), seeds, setting, out, resume)
        except (ValueError, ImportError) as e:
            typer.secho(f"error: {e}", fg="red", err=True)
            raise typer.Exit(2)
        command = "adgdm " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        md = summarize(csv_path, csv_path.with_suffix(".md"), command=command, anchors=str(anchors) if anchors else None)
        typer.echo(md.split("### ")[0])
        typer.echo(f"wrote {csv_path} and {csv_path.with_suffix('.md')}")

    @bench.command("series")
    def bench_series(
        suite: str = typer.Option(..., "--suite", help="'nab' or 'skab'."),
        data: Path = typer.Option(..., "--data", help="The suite's folder, e.g. ../shared/data/nab."),
        datasets: Optional[str] = typer.Option(None, help="Comma-separated file names (e.g. 'valve1/0'); default all."),
        detectors: Optional[str] = typer.Option(None, help="Detector specs separated by ';' or ','."),
        seeds: int = typer.Option(1, help="Number of seeds (0 .. N-1)."),
        out: Path = typer.Option(Path("benchmarks/results/series.csv"), help="Long-format CSV to write."),
        resume: bool = typer.Option(False, help="Append to OUT and skip rows it already holds."),
        anchors: Optional[Path] = typer.Option(None, help="Folder of published anchors (../shared/anchors)."),
        threads: Optional[int] = typer.Option(None, help="Torch CPU threads (default: torch's choice)."),
    ):
        """NAB / SKAB protocols on series; writes OUT and OUT with a .md summary.

        Example: adgdm bench series --suite skab --data ../shared/data/skab --seeds 3 --out skab.csv
        """
        from .bench.series import run_series
        from .bench.series_summary import summarize_series

        if threads:
            import torch

            torch.set_num_threads(threads)
        try:
            csv_path = run_series(suite, data, _split(datasets), _split(detectors), seeds, out, resume)
        except (ValueError, ImportError, FileNotFoundError) as e:
            typer.secho(f"error: {e}", fg="red", err=True)
            raise typer.Exit(2)
        command = "adgdm " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        md = summarize_series(csv_path, csv_path.with_suffix(".md"), command=command, data=data,
                              anchors=str(anchors) if anchors else None)
        typer.echo(md.split("### VUS-PR per file")[0])
        typer.echo(f"wrote {csv_path} and {csv_path.with_suffix('.md')}")

    @bench.command("summarize")
    def bench_summarize(csv: list[Path] = typer.Argument(..., help="Results CSVs to pool."),
                        md: Optional[Path] = None, anchors: Optional[Path] = None,
                        command: Optional[str] = typer.Option(None, help="Command line to record in the summary."),
                        only: Optional[str] = typer.Option(None, help="Summarise only these detectors (comma-separated).")):
        """Write the markdown summary of one or more results CSVs (pooled)."""
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
        suite: str = typer.Option("adbench", help="adbench (tables: fidelity and the cycle) or skab (fidelity of "
                                                  "generated windows)."),
        datasets: Optional[str] = typer.Option(None, help="Comma-separated dataset names; default all."),
        seeds: int = typer.Option(3, help="Number of seeds (0 .. N-1)."),
        shots: str = typer.Option("0,5,20", help="Comma-separated counts of real anomalies given to the detectors "
                                                 "(adbench only)."),
        out: Path = typer.Option(Path("benchmarks/results/generation.csv"), help="Long-format CSV to write."),
        resume: bool = typer.Option(False, help="Append to OUT and skip rows it already holds."),
        threads: Optional[int] = typer.Option(None, help="Torch CPU threads (default: torch's choice)."),
    ):
        """Fidelity of generated normals and the detection-generation cycle (semi protocol).

        Example: adgdm bench generation --data ../shared/data/adbench/Classical --seeds 3 --shots 0,5,20

        Series: adgdm bench generation --suite skab --data ../shared/data/skab --out generation_skab.csv
        """
        from .bench.generation import run_generation
        from .bench.generation_series import run_generation_series
        from .bench.generation_summary import summarize_generation

        if threads:
            import torch

            torch.set_num_threads(threads)
        try:
            if suite == "skab":
                csv_path = run_generation_series(data, _split(datasets), seeds, out, resume)
            elif suite == "adbench":
                k = [int(v) for v in shots.split(",") if v.strip()]
                csv_path = run_generation(data, _split(datasets), seeds, k, out, resume)
            else:
                raise ValueError(f"--suite must be adbench or skab, got {suite!r}")
        except (ValueError, ImportError, FileNotFoundError) as e:
            typer.secho(f"error: {e}", fg="red", err=True)
            raise typer.Exit(2)
        command = "adgdm " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        md = summarize_generation(csv_path, csv_path.with_suffix(".md"), command=command)
        typer.echo(md.split("### ")[0])
        typer.echo(f"wrote {csv_path} and {csv_path.with_suffix('.md')}")

    @bench.command("image")
    def bench_image(
        suite: str = typer.Option(..., "--suite", help="mtd, mnist, mvtec-emb or folder (any MVTec-style folder)."),
        data: Path = typer.Option(..., "--data", help="The suite's folder, e.g. ../shared/data/mtd."),
        datasets: Optional[str] = typer.Option(None, help="Comma-separated defect classes, digits or categories."),
        detectors: Optional[str] = typer.Option(None, help="Detector specs separated by ';' or ','."),
        seeds: int = typer.Option(3, help="Number of seeds (0 .. N-1)."),
        size: int = typer.Option(128, help="Images are resized to SIZE x SIZE pixels (mtd, folder)."),
        out: Path = typer.Option(Path("benchmarks/results/image.csv"), help="Long-format CSV to write."),
        resume: bool = typer.Option(False, help="Append to OUT and skip rows it already holds."),
        save_maps: Optional[Path] = typer.Option(None, "--save-maps", help="Write PNG overlays of seed 0's maps here."),
        threads: Optional[int] = typer.Option(None, help="Torch CPU threads (default: torch's choice)."),
    ):
        """Image detection with localisation (image AUROC/AUPRC, pixel AUROC, AUPRO).

        Example: adgdm bench image --suite mtd --data ../shared/data/mtd --seeds 3 --size 128 --out mtd.csv
        """
        from .bench.image import run_image
        from .bench.image_summary import summarize_image

        if threads:
            import torch

            torch.set_num_threads(threads)
        try:
            csv_path = run_image(suite, data, _split(datasets), _split(detectors), seeds, size, out, resume,
                                 save_maps=save_maps)
        except (ValueError, ImportError, FileNotFoundError) as e:
            typer.secho(f"error: {e}", fg="red", err=True)
            raise typer.Exit(2)
        command = "adgdm " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        md = summarize_image(csv_path, csv_path.with_suffix(".md"), command=command)
        typer.echo(md.split("### ")[0])
        typer.echo(f"wrote {csv_path} and {csv_path.with_suffix('.md')}")

    @app.command()
    def generate(
        model_dir: Path = typer.Argument(..., help="A saved model folder (detector.save / adgdm fit)."),
        kind: str = typer.Option("normal", help="'normal' (samples of the model), a table kind (local, global, "
                                 "dependency, clustered, masked) or a series kind (spike, level_shift, pattern, "
                                 "frequency, trend, noise, channel_break)."),
        n: int = typer.Option(100, "--n", help="Rows (tables) or injected anomalies (series) to generate."),
        out: Path = typer.Option(..., "--out", help="CSV to write (tables: one row per sample; series: the "
                                 "series with a 'label' column)."),
        data: Optional[Path] = typer.Option(None, help="Normal data (CSV or NPZ) the anomaly kinds start from."),
        severity: float = typer.Option(1.0, help="How far from normal (>= 0)."),
        seed: int = typer.Option(0, help="Random seed."),
    ):
        """Generate normal samples or synthetic anomalies with a saved diffusion model.

        Examples:
          adgdm generate model/ --kind normal --n 500 --out samples.csv
          adgdm generate model/ --kind local --severity 1.5 --n 200 --data normal.csv --out anomalies.csv
          adgdm generate series_model/ --kind spike --n 5 --data clean.csv --out injected.csv
        """
        from .generate_cmd import run_generate

        try:
            msg = run_generate(model_dir, kind, n, out, data, severity, seed)
        except (ValueError, TypeError, FileNotFoundError, NotImplementedError) as e:
            typer.secho(f"error: {e}", fg="red", err=True)
            raise typer.Exit(2)
        except Exception as e:  # corrupted model files and the like: one line, no traceback
            typer.secho(f"error: {type(e).__name__}: {e}", fg="red", err=True)
            raise typer.Exit(2)
        typer.echo(msg)

    @app.command()
    def demo(seed: int = 0):
        """Breast-cancer demo (no download): adgdm detectors beside PyOD baselines."""
        from .demo import run

        run(seed)

    @app.command("list")
    def list_cmd():
        """List registered detectors."""
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
