"""Scoring data larger than one machine on Ray: ``adgdm score MODEL DATA --engine ray``.

The driver plans *parts* (a range of rows of one file, or a list of images) without reading the
data: files are taken in name order, Parquet row counts come from the file footers, CSV files get
one counting pass over their bytes. A Ray Data pipeline (``from_items(parts).map_batches``)
hands the parts to a pool of actors; each actor loads the model once (its files travel through
the object store, so workers need no shared model folder), reads its part itself (only the
model's columns; memory is bounded by the part, not by the data), scores it with the code of
``adgdm score`` (``commands/score.py``: columns by name, the encoder, blanks, explanations) and
writes ``part-NNNNNN.parquet`` with the same columns as the local scores, where ``row`` numbers
the rows across all the input files in name order. A part is written atomically (temporary
file, then rename), so a retried part replaces itself: rows are neither lost nor duplicated.

Fitting stays local (``adgdm fit`` on a sample; see the README's Ray section for the cap).

>>> from adgdm.distributed import score_dataset                                # doctest: +SKIP
>>> summary = score_dataset("model/", "transactions/*.parquet", out="scores/")  # doctest: +SKIP
>>> summary["rows"], summary["failed"]                                          # doctest: +SKIP
(10000000, [])
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .modalities.notes import CountNote, from_jsonable, to_jsonable, total

ROWS_PER_PART = 100_000          # rows a worker reads, scores and writes at once
IMAGES_PER_PART = 64
TABLE_SUFFIXES = (".parquet", ".pq", ".csv", ".tsv", ".txt")
MANIFEST = "_manifest.json"  # "_": pandas/pyarrow skip it when reading the folder as one table
TRIES_PREFIX = ".tries-part-"  # attempts per part while scoring ("."; removed with the manifest written)
RETRIES = 2                      # extra attempts of a part after an unexpected error in the worker
_BAD_INPUT = (ValueError, FileNotFoundError, KeyError)  # the data's fault: reported, not retried

__all__ = ["score_dataset", "sample_rows", "plan_parts", "image_parts", "read_part", "read_scores", "list_files",
           "PartScorer"]
FIT_CAP = 200_000  # rows :func:`sample_rows` draws at most: `diffusion` keeps and compares its training rows


# --- planning (driver) ----------------------------------------------------------------------------
def list_files(source, suffixes=TABLE_SUFFIXES) -> list[Path]:
    """The files of ``source`` in name order: a file, a folder (its files with a table suffix, not
    recursive) or a glob pattern."""
    s = str(source)
    if any(c in s for c in "*?["):
        files = sorted(Path(f) for f in glob.glob(s) if Path(f).is_file())
        where = f"the pattern {s!r}"
    elif Path(s).is_dir():
        files = sorted(f for f in Path(s).iterdir() if f.is_file() and not f.name.startswith("."))
        where = f"the folder {s}"
    elif Path(s).is_file():
        files, where = [Path(s)], s
    else:
        raise FileNotFoundError(f"no such data file, folder or pattern: {s}")
    files = [f for f in files if f.suffix.lower() in suffixes]
    if not files:
        raise ValueError(f"no data files ({', '.join(suffixes)}) in {where}")
    return files


def _csv_parts(path: Path, rows: int, block: int = 1 << 24):
    """``(header_end, [(row_start, row_stop, byte_start, byte_stop), ...])`` of a CSV file, one
    record per line (a cell with a line break inside quotes is caught when the part is read)."""
    parts, starts = [], []
    with open(path, "rb") as fh:
        header = fh.readline()
        if not header.strip():
            raise ValueError(f"{path}: empty file (no header line)")
        pos, n, last_byte = len(header), 0, b"\n"
        starts.append(pos)
        while chunk := fh.read(block):
            nl = np.flatnonzero(np.frombuffer(chunk, np.uint8) == 10)
            for k in nl:  # the line after each newline starts a row; a part every `rows` rows
                n += 1
                if n % rows == 0:
                    starts.append(pos + int(k) + 1)
            pos += len(chunk)
            last_byte = chunk[-1:]
        total = n + (last_byte != b"\n" and pos > len(header))  # a last line without a newline
        if starts[-1] >= pos:
            starts.pop()
    bounds = starts + [pos]
    for i in range(len(starts)):
        parts.append((i * rows, min((i + 1) * rows, total), bounds[i], bounds[i + 1]))
    return len(header), [p for p in parts if p[1] > p[0]]


def plan_parts(files, rows_per_part: int = ROWS_PER_PART) -> list[dict]:
    """One dict per part: ``shard`` (its index, the output file's number), ``path``, ``start`` and
    ``stop`` (rows of the file), ``offset`` (the global ``row`` of its first row); CSV parts carry
    their byte range."""
    if rows_per_part < 1:
        raise ValueError(f"--batch-size must be >= 1 row, got {rows_per_part}")
    parts, offset = [], 0
    for f in files:
        f = Path(f)
        if f.suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            try:
                n = pq.ParquetFile(f).metadata.num_rows
            except Exception as e:  # pyarrow raises several types on a damaged footer
                raise ValueError(f"{f}: not a readable Parquet file ({str(e).splitlines()[0]})") from None
            ranges = [(s, min(s + rows_per_part, n), -1, -1) for s in range(0, n, rows_per_part)]
            header = -1
        else:
            header, ranges = _csv_parts(f, rows_per_part)
        for start, stop, b0, b1 in ranges:
            parts.append({"shard": len(parts), "path": str(f), "start": start, "stop": stop, "offset": offset + start,
                          "byte_start": b0, "byte_stop": b1, "header": header})
        offset += ranges[-1][1] if ranges else 0
    return parts


def image_parts(folder, per_part: int = IMAGES_PER_PART) -> list[dict]:
    """Parts of an image folder, in the order ``adgdm score`` uses: an MVTec-style folder's test
    images (``good`` first, then each defect type; labels from the folder), else its image files."""
    from .data.images import _image_files

    root = Path(folder)
    if (root / "train" / "good").is_dir() and (root / "test").is_dir():
        kinds = sorted((d for d in (root / "test").iterdir() if d.is_dir() and not d.name.startswith(".")),
                       key=lambda d: (d.name != "good", d.name))
        units = [(str(f), f"{k.name}/{f.stem}", int(k.name != "good")) for k in kinds for f in _image_files(k)]
    else:
        units = [(str(f), f.name, -1) for f in _image_files(root)]
    if not units:
        raise ValueError(f"no image files in {root}")
    return [{"shard": i, "path": str(root), "start": s, "stop": min(s + per_part, len(units)), "offset": s,
             "files": [u[0] for u in units[s:s + per_part]], "ids": [u[1] for u in units[s:s + per_part]],
             "labels": [u[2] for u in units[s:s + per_part]]}
            for i, s in enumerate(range(0, len(units), per_part))]


def part_name(part: dict) -> str:
    """How messages name a part: its file and rows."""
    if "files" in part:
        return f"part {part['shard']} ({part['path']}, images {part['start']}-{part['stop'] - 1})"
    return f"part {part['shard']} ({part['path']}, rows {part['start']}-{part['stop'] - 1})"


# --- reading and scoring (workers) ----------------------------------------------------------------
def read_part(part: dict, columns=None, label=None, time=None, reader=None):
    """The rows of one part as a pandas frame (only ``columns`` + ``label``/``time`` when present),
    a CSV part read with the model's ``reader`` options. A column the model needs that the file
    lacks is an error naming the part."""
    import pandas as pd

    path = Path(part["path"])
    where = part_name(part)
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        have = pf.schema_arrow.names
        _check_columns(columns, have, where)
        keep = None if columns is None else [c for c in have if c in set(columns) | {label, time}]
        md, groups, first, row = pf.metadata, [], None, 0
        for g in range(md.num_row_groups):
            n = md.row_group(g).num_rows
            if row + n > part["start"] and row < part["stop"]:
                groups.append(g)
                first = row if first is None else first
            row += n
        table = pf.read_row_groups(groups, columns=keep)
        df = table.slice(part["start"] - first, part["stop"] - part["start"]).to_pandas()
    else:
        with open(path, "rb") as fh:
            head = fh.read(part["header"])
            fh.seek(part["byte_start"])
            body = fh.read(part["byte_stop"] - part["byte_start"])
        import io

        from .modalities.readers import read_text_table

        df = read_text_table(io.BytesIO(head + body), path, reader, where)
        df.columns = [str(c) for c in df.columns]
        _check_columns(columns, list(df.columns), where)
        if len(df) != part["stop"] - part["start"]:
            raise ValueError(f"{where}: read {len(df)} rows where its lines hold {part['stop'] - part['start']}; "
                             "a cell with a line break inside quotes, or blank lines, cannot be split by lines: "
                             "convert the file to Parquet")
    df.columns = [str(c) for c in df.columns]
    return df


def _check_columns(columns, have, where):
    missing = [c for c in (columns or []) if c not in set(have)]
    if missing:
        raise ValueError(f"{where}: no column(s) {missing} that the model was fitted on; its columns are "
                         f"{list(have)[:20]}")


class PartScorer:
    """A Ray actor: the model loaded once, then one part per call (``batch_size=1``)."""

    def __init__(self, model_files: dict, opts: dict):
        threads = int(opts.get("threads") or 1)
        # before torch and scikit-learn load their OpenMP runtimes: each reads this once, and a
        # worker with a pool of 2 threads on a 1-CPU budget spins against the next worker
        os.environ["OMP_NUM_THREADS"] = str(threads)
        import torch

        from .pipeline import Pipeline

        torch.set_num_threads(threads)
        if not isinstance(model_files, dict):  # an object reference: the files are fetched once per actor
            import ray

            model_files = ray.get(model_files)
        self.opts = opts
        self.model_dir = tempfile.mkdtemp(prefix="adgdm-model-")
        for rel, blob in model_files.items():
            target = Path(self.model_dir) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(blob)
        self.pipe = Pipeline.load(self.model_dir)
        try:  # and the BLAS/OpenMP pools loaded by now
            from threadpoolctl import threadpool_limits

            threadpool_limits(threads)
        except ImportError:
            pass

    def __call__(self, batch):
        rows = [dict(zip(batch.keys(), vals)) for vals in zip(*batch.values())]
        if self.opts.get("out") is None:  # Dataset mode: the scores themselves
            import pandas as pd

            return pd.concat([self.score_part(_plain(p)) for p in rows], ignore_index=True)
        return _frame_of([self.run_part(_plain(p)) for p in rows])

    def run_part(self, part: dict) -> dict:
        """Score one part and write its shard; a status dict (``error`` is "" when it went well)."""
        status = {"shard": part["shard"], "path": part["path"], "start": part["start"], "stop": part["stop"],
                  "rows": 0, "flagged": 0, "row_min": -1, "row_max": -1, "attempts": 0, "error": "", "notes": "",
                  "seconds": 0.0, "pid": os.getpid()}
        t0 = time.perf_counter()
        before = self._tries(part["shard"])  # attempts that died with their worker (Ray re-ran the part)
        for attempt in range(1 + RETRIES):
            status["attempts"] = before + attempt + 1
            self._tries(part["shard"], status["attempts"])
            try:
                frame = self.score_part(part)
                target = Path(self.opts["out"]) / f"part-{part['shard']:06d}.parquet"
                tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
                frame.to_parquet(tmp, index=False)
                os.replace(tmp, target)  # a retried part replaces itself: no duplicate rows
                ids = frame["row"].to_numpy() if "row" in frame else np.arange(len(frame)) + part["offset"]
                status.update(rows=len(frame), flagged=int(frame["flagged"].sum()), row_min=int(ids.min()),
                              row_max=int(ids.max()), error="", notes=json.dumps(to_jsonable(self._notes)),
                              seconds=round(time.perf_counter() - t0, 3), pid=os.getpid())
                return status
            except _BAD_INPUT as e:
                status["error"] = _one_line(e, part)
                return status
            except Exception as e:  # the worker's fault (memory, a lost file system): try again
                status["error"] = _one_line(e, part)
        return status

    def _tries(self, shard: int, count: int | None = None) -> int:
        """The attempts at part ``shard`` so far, kept in a marker beside the parts (``count``: set
        it): an attempt whose worker dies leaves it behind, so the re-run counts as a retry."""
        marker = Path(self.opts["out"]) / f"{TRIES_PREFIX}{shard:06d}"
        if count is not None:
            marker.write_text(str(count))
            return count
        try:
            return int(marker.read_text())
        except (FileNotFoundError, ValueError):
            return 0

    def score_part(self, part: dict):
        """The local ``adgdm score`` columns for one part, with ``row`` numbered across files."""
        card, opts = self.pipe.card_, self.opts
        where = part_name(part)
        if "files" in part:
            frame = self._score_images(part, where)
        else:
            df = read_part(part, card.input_columns(), card.label, card.time, card.reader)
            res = self.pipe.score(df, name=where, explain=opts.get("explain", True), top_k=opts.get("top_k", 3))
            frame = res.to_frame()
            self._notes = list(res.notes)  # count notes (blank, unseen cells) keep their counts: summed over parts
            rows = part["offset"] + np.arange(len(frame), dtype=np.int64)
            if card.time is not None:  # the id column keeps its values under its own name
                frame.insert(1, card.time, frame["row"].to_numpy())
            frame["row"] = rows
        return frame

    def _score_images(self, part, where):
        from .data.images import load_image_files
        from .modalities.image_io import image_prep

        imgs = load_image_files([Path(f) for f in part["files"]], **image_prep(self.pipe.detector_))
        labels = np.asarray(part["labels"], dtype=np.int64)
        d = self.pipe.io.as_data(imgs, part["ids"], where, None if (labels < 0).all() else labels)
        frame = self.pipe.score(d, name=where).to_frame()
        self._notes = []
        return frame

    _notes: list = []


def _plain(part: dict) -> dict:
    """A part as Ray Data hands it back (numpy scalars and arrays) as plain Python values."""
    out = {}
    for k, v in part.items():
        if isinstance(v, np.ndarray):
            v = v.tolist()
        elif isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out


def _frame_of(rows: list[dict]):
    import pandas as pd

    return pd.DataFrame(rows)


def _one_line(e: Exception, part: dict) -> str:
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    name = part_name(part)
    return msg if msg.startswith(name) else f"{name}: {msg}"


# --- a sample to fit on ---------------------------------------------------------------------------
def sample_rows(source, n: int = 50_000, random_state: int = 0, rows_per_part: int = ROWS_PER_PART):
    """``n`` rows drawn uniformly without replacement from all the files of ``source`` (a pandas
    frame, rows in their global order, with a ``row`` column), read part by part: memory holds
    one part and the sample, never the data. Fit on it locally (``adgdm fit sample.parquet``).
    At most :data:`FIT_CAP` rows: the default ``diffusion`` keeps its training rows and compares
    every scored row with them, so more rows cost scoring time for little gain.

    >>> sample = sample_rows("transactions/*.parquet", 50_000)   # doctest: +SKIP
    >>> sample.drop(columns="row").to_parquet("fit_sample.parquet")  # doctest: +SKIP
    """
    import pandas as pd

    if not 1 <= n <= FIT_CAP:
        raise ValueError(f"a fitting sample is 1..{FIT_CAP} rows, got {n}")
    parts = plan_parts(list_files(source), rows_per_part)
    total = sum(p["stop"] - p["start"] for p in parts)
    if total == 0:
        raise ValueError(f"{source}: no rows")
    pick = np.sort(np.random.default_rng(random_state).choice(total, size=min(n, total), replace=False))
    out = []
    for p in parts:
        lo, hi = np.searchsorted(pick, [p["offset"], p["offset"] + p["stop"] - p["start"]])
        if hi > lo:
            local = pick[lo:hi] - p["offset"]
            df = read_part(p).iloc[local].reset_index(drop=True)
            df.insert(0, "row", pick[lo:hi])
            out.append(df)
    return pd.concat(out, ignore_index=True)


# --- the driver -----------------------------------------------------------------------------------
def _model_files(model_dir) -> dict:
    root = Path(model_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"no such model folder: {root}")
    return {str(f.relative_to(root)): f.read_bytes() for f in sorted(root.rglob("*")) if f.is_file()}


def _prepare_out(out, force: bool, data_paths, model_dir=None) -> Path:
    from ._atomic import check_not_input

    out = Path(out)
    for p in data_paths:
        if out.resolve() == Path(p).resolve():
            raise ValueError(f"--out {out} is the data itself")
    check_not_input(out, [*data_paths, model_dir])  # not in (nor holding) the data or model folder, even with --force
    if out.exists():
        if not out.is_dir():
            raise ValueError(f"--out {out} is a file; with --engine ray --out is a folder of Parquet parts")
        ours = (out / MANIFEST).is_file()
        if any(out.iterdir()):
            if not force:
                raise ValueError(f"{out} exists and is not empty; pass --force to replace the scores in it")
            if not ours:
                raise ValueError(f"{out} holds files adgdm did not write (no {MANIFEST}); choose another --out")
            for f in [*out.glob("part-*.parquet"), *out.glob(f"{TRIES_PREFIX}*")]:
                f.unlink()
            (out / MANIFEST).unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


def score_dataset(model_dir, source, out=None, workers: int | None = None, rows_per_part: int = ROWS_PER_PART,
                  address: str | None = None, explain: bool = True, top_k: int = 3, threads: int = 1,
                  force: bool = False, progress: bool = True, _scorer=PartScorer):
    """Score ``source`` (a table file, a folder or glob of CSV/Parquet files, or an image folder)
    with the model in ``model_dir`` on Ray.

    With ``out`` (a folder): write ``part-NNNNNN.parquet`` files and ``_manifest.json`` there and
    return a summary (``rows``, ``rows_in``, ``flagged``, ``failed``: the parts that could not be
    scored, each with its file, rows and error). Without ``out``: return the lazy Ray Dataset of
    the scores (``ds.write_parquet(...)``, ``ds.iter_batches()``); errors then raise.

    ``workers``: actors in the pool (default: the cluster's CPUs // ``threads``), each loading the
    model once; ``rows_per_part``: rows each actor reads, scores and writes at once (its memory is
    about this many rows x (columns + explanation columns) x 8 bytes, a few times over).
    """
    from ._ray import start
    from .pipeline import Pipeline

    t0 = time.perf_counter()
    pipe = Pipeline.load(model_dir)
    card, how = pipe.card_, pipe.io.ray_parts
    if how == "images":
        if not Path(source).is_dir():
            raise ValueError(f"{source}: an image model scores a folder of images")
        parts, files = image_parts(source, min(rows_per_part, IMAGES_PER_PART)), [source]
    elif how == "rows":
        files = list_files(source)
        parts = plan_parts(files, rows_per_part)
    else:
        raise ValueError(f"--engine ray scores tables and image folders; a {card.modality} model scores its data as a "
                         "whole (windows and clips cross part borders): score it without --engine ray")
    if not parts:
        raise ValueError(f"{source}: no rows to score")
    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    if out is not None:
        out = _prepare_out(out, force, [*files, *([source] if Path(str(source)).is_dir() else [])], model_dir)
    ray, started = start(address)
    try:
        return _run(ray, model_dir, parts, out, workers, explain, top_k, threads, progress, _scorer, card, t0)
    finally:
        if started and out is not None:  # a lazy Dataset (no out) needs the session after this returns
            ray.shutdown()


def _run(ray, model_dir, parts, out, workers, explain, top_k, threads, progress, _scorer, card, t0):
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = bool(progress)
    from ._ray import cluster_cpus, default_workers

    cpus = cluster_cpus(ray)
    workers = min(int(workers or default_workers(ray, threads)), len(parts))  # an idle actor only costs
    opts = {"out": None if out is None else str(out), "explain": explain, "top_k": top_k, "threads": threads}
    model_files = ray.put(_model_files(model_dir))
    # an actor needs a whole CPU of the cluster only when the cluster has room for the pool and
    # the driver's own tasks; on a small machine a fraction keeps the pipeline from starving
    per_actor = min(float(threads), max(0.25, (cpus - 0.5) / workers))
    ds = ray.data.from_items(parts, override_num_blocks=len(parts)).map_batches(
        _scorer, fn_constructor_args=(model_files, opts), batch_size=1, batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=per_actor)  # Ray Data restarts a dead actor
    # and retries its part (max_restarts=-1, max_task_retries=-1 are its defaults for actor pools)
    if out is None:
        return ds
    status = ds.to_pandas().sort_values("shard").reset_index(drop=True)
    return _summary(status, parts, out, workers, time.perf_counter() - t0, card)


def _summary(status, parts, out: Path, workers: int, seconds: float, card) -> dict:
    failed = status[status["error"] != ""]
    ok = status[status["error"] == ""]
    rows_in = int(sum(p["stop"] - p["start"] for p in parts))
    rows = int(ok["rows"].sum())
    expected = {p["shard"]: p["stop"] - p["start"] for p in parts}
    bad_counts = [int(s) for s, n in zip(ok["shard"], ok["rows"]) if expected[int(s)] != n]
    if bad_counts:  # a part that came back short or long is a bug, never a silent loss
        raise RuntimeError(f"parts {bad_counts} wrote a different number of rows than they hold")
    # the notes of every part once, count notes (blank cells, unseen categories) with their totals
    notes = total(n for ns in status["notes"] if ns for n in from_jsonable(json.loads(ns)))
    counted = {n.kind: dict(n.counts) for n in notes if isinstance(n, CountNote)}
    summary = {"out": str(out), "parts": len(parts), "rows_in": rows_in, "rows": rows,
               "worker_seconds": round(float(status["seconds"].sum()), 2),
               "flagged": int(ok["flagged"].sum()), "workers": workers, "seconds": round(seconds, 2),
               "modality": card.modality, "detector": card.detector,
               "failed": [{"part": int(r.shard), "file": r.path, "rows": f"{int(r.start)}-{int(r.stop) - 1}",
                           "error": r.error} for r in failed.itertuples()],
               "retried": int((status["attempts"] > 1).sum()),
               "retried_parts": [int(x) for x in status.loc[status["attempts"] > 1, "shard"]],
               "notes": [str(n) for n in notes]}
    for kind, key in (("blank", "blank_cells"), ("unseen", "unseen_categories")):  # as local score's summary
        if kind in counted:
            summary[key] = int(sum(counted[kind].values()))
            summary[f"{kind}_by_column"] = counted[kind]
    manifest = {"format": "adgdm-scores-parts", "version": 1, **summary,
                "parts_plan": [{k: p[k] for k in ("shard", "path", "start", "stop", "offset")} for p in parts]}
    tmp = out / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, out / MANIFEST)
    for f in out.glob(f"{TRIES_PREFIX}*"):
        f.unlink(missing_ok=True)
    return summary


def read_scores(out):
    """All the parts of a scores folder as one pandas frame, in ``row`` order (small outputs only)."""
    import pandas as pd

    files = sorted(Path(out).glob("part-*.parquet"))
    if not files:
        raise ValueError(f"no part-*.parquet in {out}")
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)

