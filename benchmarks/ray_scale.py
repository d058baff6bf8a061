"""Issue 20's scale-out benchmark: ``adgdm score --engine ray`` on synthetic Parquet.

1. writes ``--rows`` x 20 synthetic rows (1% shifted) as ``--files`` Parquet files under ``--work``
   (not in the repository), and a 10,000-row training file; fits the default ``diffusion`` locally;
2. identity: a 100,000-row sample scored locally (``adgdm score``) and on Ray: every column equal;
3. throughput on ``--speed-rows`` rows: local ``adgdm score`` (1 thread, and the default threads),
   Ray with 1 worker and with 2 workers (1 thread each; each run starts its own actor pool);
4. the full data on Ray with 2 workers, sampling every 0.5 s the RSS of the driver and of each
   process under it (Ray's raylet, GCS and workers): peak of driver + scoring workers, and of all;
   rows out = rows in, each ``row`` id once.

Writes a long CSV (one row per measurement) and a markdown summary with the command and machine.

    PYTHONPATH=src python benchmarks/ray_scale.py --work /tmp/ray_scale --rows 10000000 \
        --out benchmarks/results/ray_scale.csv
"""
from __future__ import annotations

import argparse
import csv
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

D = 20


def write_data(folder: Path, rows: int, files: int, seed: int = 0, group: int = 65536) -> list[Path]:
    """``rows`` rows over ``files`` Parquet files, written in 1M-row slices (bounded memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    A = np.random.default_rng(123).normal(size=(D, D)) / np.sqrt(D)
    names = [f"f{j:02d}" for j in range(D)]
    per = -(-rows // files)
    paths = []
    for i in range(files):
        path = folder / f"part{i:03d}.parquet"
        n = min(per, rows - i * per)
        paths.append(path)
        if path.exists() and pq.ParquetFile(path).metadata.num_rows == n:
            continue
        rng = np.random.default_rng(seed * 1000 + i)
        with pq.ParquetWriter(path, pa.schema([(c, pa.float64()) for c in names])) as w:
            for s in range(0, n, 1_000_000):
                m = min(1_000_000, n - s)
                X = rng.normal(size=(m, D)) @ A
                X[rng.random(m) < 0.01] += 3.0
                w.write_table(pa.table({c: X[:, j] for j, c in enumerate(names)}), row_group_size=group)
    return paths


class RssSampler(threading.Thread):
    """Peak RSS (bytes) of this process + its Ray worker processes, and of every process under it."""

    def __init__(self, every: float = 0.5):
        super().__init__(daemon=True)
        self.every, self.stop_flag = every, threading.Event()
        self.peak_workers = self.peak_all = 0

    @staticmethod
    def _tree(root: int) -> dict:
        kids: dict[int, list[int]] = {}
        info = {}
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                stat = open(f"/proc/{p}/stat").read()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                cmd = open(f"/proc/{p}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
                rss = 0
                for line in open(f"/proc/{p}/status"):
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1]) * 1024
                info[int(p)] = (rss, cmd)
                kids.setdefault(ppid, []).append(int(p))
            except (OSError, IndexError, ValueError):
                continue
        out, todo = {}, [root]
        while todo:
            p = todo.pop()
            if p in info:
                out[p] = info[p]
            todo += kids.get(p, [])
        return out

    def run(self):
        me = os.getpid()
        while not self.stop_flag.is_set():
            tree = self._tree(me)
            scoring = sum(r for p, (r, c) in tree.items() if p == me or "MapWorker" in c)
            self.peak_workers = max(self.peak_workers, scoring)
            self.peak_all = max(self.peak_all, sum(r for r, _ in tree.values()))
            time.sleep(self.every)

    def stop(self):
        self.stop_flag.set()
        self.join()


def local_score(model, data, out, threads: int | None) -> float:
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "adgdm.cli", "score", str(model), str(data), "--out", str(out), "--force"],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/adgdm_ray_scale"))
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--files", type=int, default=10)
    ap.add_argument("--speed-rows", type=int, default=1_000_000)
    ap.add_argument("--batch-size", type=int, default=100_000)
    ap.add_argument("--skip-full", action="store_true")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/ray_scale.csv"))
    args = ap.parse_args(argv)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import pandas as pd

    from adgdm import distributed as Dist

    work = args.work
    rows_out: list[dict] = []

    def record(what, **vals):
        rows_out.append({"measure": what, **vals})
        print(what, vals, flush=True)

    train = write_data(work / "train", 10_000, 1, seed=7)[0]
    sample = write_data(work / "sample", 100_000, 1, seed=8)[0]
    speed = write_data(work / "speed", args.speed_rows, 1, seed=9)[0]
    model = work / "model"
    if not (model / "cli.json").is_file():
        subprocess.run([sys.executable, "-m", "adgdm.cli", "fit", str(train), "--out", str(model), "--force"],
                       check=True, stdout=subprocess.DEVNULL)
    from adgdm._ray import start

    start(num_cpus=os.cpu_count())

    # identity on a 100k sample
    local_score(model, sample, work / "sample_local.parquet", None)
    Dist.score_dataset(model, sample, out=work / "sample_ray", workers=2, rows_per_part=args.batch_size, force=True,
                       progress=False)
    a, b = Dist.read_scores(work / "sample_ray"), pd.read_parquet(work / "sample_local.parquet")
    same = a.equals(b)
    record("identity_100k", rows=len(a), identical=bool(same),
           max_abs_score_diff=float(np.abs(a["score"].to_numpy() - b["score"].to_numpy()).max()))

    # throughput
    n = args.speed_rows
    for threads in (1, None):
        sec = local_score(model, speed, work / "speed_local.parquet", threads)
        record("local", rows=n, threads=threads or os.cpu_count(), seconds=round(sec, 2), rows_per_s=round(n / sec))
    for workers in (1, 2):
        t = time.perf_counter()
        s = Dist.score_dataset(model, speed, out=work / f"speed_ray{workers}", workers=workers,
                               rows_per_part=args.batch_size, force=True, progress=False)
        sec = time.perf_counter() - t
        record("ray", rows=s["rows"], workers=workers, threads=1, seconds=round(sec, 2), rows_per_s=round(n / sec),
               worker_seconds=s["worker_seconds"], failed=len(s["failed"]))

    if not args.skip_full:
        files = write_data(work / "full", args.rows, args.files, seed=1)
        sampler = RssSampler()
        sampler.start()
        t = time.perf_counter()
        s = Dist.score_dataset(model, work / "full", out=work / "full_scores", workers=2,
                               rows_per_part=args.batch_size, force=True, progress=False)
        sec = time.perf_counter() - t
        sampler.stop()
        ids_ok = True
        seen = 0
        import pyarrow.parquet as pq

        for f in sorted((work / "full_scores").glob("part-*.parquet")):  # row ids: 0..N-1, each once, in order
            r = pq.read_table(f, columns=["row"]).column(0).to_numpy()
            ids_ok &= bool(np.array_equal(r, np.arange(seen, seen + len(r))))
            seen += len(r)
        record("full", rows_in=s["rows_in"], rows=s["rows"], rows_read_back=seen, row_ids_ok=ids_ok,
               files=len(files), parts=s["parts"], workers=2, seconds=round(sec, 2),
               rows_per_s=round(s["rows"] / sec), peak_rss_driver_workers_gb=round(sampler.peak_workers / 1e9, 3),
               peak_rss_all_ray_gb=round(sampler.peak_all / 1e9, 3), failed=len(s["failed"]))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    keys = sorted({k for r in rows_out for k in r}, key=lambda k: (k != "measure", k))
    with open(args.out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(rows_out)
    write_summary(rows_out, args.out.with_suffix(".md"), " ".join(["python"] + sys.argv))


def write_summary(rows, path: Path, command: str):
    by = {}
    for r in rows:
        by.setdefault(r["measure"], []).append(r)
    lines = ["# Ray scale-out (issue 20)", "", f"Command: `{command}`", "",
             f"Machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), no GPU; "
             f"Python {platform.python_version()}; model: default `diffusion` fitted on 10,000 rows x {D} columns.", ""]
    for r in by.get("identity_100k", []):
        lines.append(f"- 100k-row sample, Ray vs local `adgdm score`: identical = {r['identical']} "
                     f"(max |score diff| {r['max_abs_score_diff']:.3g})")
    loc = {r["threads"]: r for r in by.get("local", [])}
    ray = {r["workers"]: r for r in by.get("ray", [])}
    if loc and ray:
        lines += ["", "| run | rows | seconds | rows/s |", "|---|---:|---:|---:|"]
        for t, r in loc.items():
            lines.append(f"| local, {t} thread(s) | {r['rows']} | {r['seconds']} | {r['rows_per_s']} |")
        for w, r in ray.items():
            lines.append(f"| Ray, {w} worker(s) x 1 thread | {r['rows']} | {r['seconds']} | {r['rows_per_s']} |")
        if 1 in ray and 2 in ray and 1 in loc:
            lines += ["", f"- 2 workers / 1 worker: {ray[1]['seconds'] / ray[2]['seconds']:.2f}x (target >= 1.7x)",
                      f"- Ray overhead at 1 worker vs local 1 thread: "
                      f"{100 * (ray[1]['seconds'] / loc[1]['seconds'] - 1):+.1f}% (target <= 15%)"]
    for r in by.get("full", []):
        lines += ["", f"- Full run: {r['rows_in']} rows in {r['files']} files, {r['parts']} parts, 2 workers: "
                  f"{r['rows']} rows out, {r['rows_read_back']} read back, row ids 0..N-1 once each: {r['row_ids_ok']}; "
                  f"{r['seconds']} s ({r['rows_per_s']} rows/s); failed parts {r['failed']}",
                  f"- Peak RSS, driver + scoring workers: {r['peak_rss_driver_workers_gb']} GB (target <= 4 GB); "
                  f"all processes of the run (with Ray's raylet, GCS, object store, helpers): "
                  f"{r['peak_rss_all_ray_gb']} GB"]
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
