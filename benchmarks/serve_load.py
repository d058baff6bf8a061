"""Issue 21's load test: ``adgdm serve`` on 127.0.0.1 under a paced, bounded load.

A small HTTP/1.1 client on asyncio (keep-alive connections, prebuilt requests, so the client costs
little of the 2 cores it shares with the server) sends requests at a fixed rate for a fixed time
and stops by itself. Latency is measured from each request's scheduled time (a request that waits
for a free connection counts its wait), so a slow server cannot hide behind a slow client.

Phases (each a row of the CSV): single-row table requests at ``--rate`` for ``--duration`` s;
100-row requests at 20/s; the overload phase at 3x ``--rate`` (429 expected for the excess; the
p99 of the admitted requests is reported; health checked after); 64x64 image requests at
``--image-rate`` to an image model.

    PYTHONPATH=src python benchmarks/serve_load.py --out benchmarks/results/serve_load.csv
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

KEY = "load-test-key-" + "x" * 24


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request_bytes(port: int, path: str, body: bytes, ctype: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-API-Key: {KEY}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def _read_response(reader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length, server_ms = 0, float("nan")
    for ln in lines[1:]:
        low = ln.lower()
        if low.startswith(b"content-length:"):
            length = int(ln[15:].strip())
        elif low.startswith(b"server-timing:") and b"dur=" in low:
            server_ms = float(low.split(b"dur=")[1].split(b";")[0].split(b",")[0])
    body = await reader.readexactly(length) if length else b""
    return status, body, server_ms


async def run_phase(port: int, req: bytes, rate: float, duration: float, connections: int, timeout: float = 10.0):
    """Send ``rate x duration`` requests on schedule over ``connections`` keep-alive sockets."""
    n = int(rate * duration)
    queue: asyncio.Queue = asyncio.Queue()
    results = []  # (status, latency_s)
    t0 = time.perf_counter() + 0.2

    async def pacer():
        for i in range(n):
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait(due)
        for _ in range(connections):
            queue.put_nowait(None)

    async def conn():
        reader = writer = None
        while True:
            due = await queue.get()
            if due is None:
                break
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(req)
                status, body, server_ms = await asyncio.wait_for(_read_response(reader), timeout)
                results.append((status, time.perf_counter() - due, body if status >= 500 else b"", time.perf_counter(),
                                server_ms))
            except Exception as e:  # a refused or broken connection counts as an error
                results.append((-1, time.perf_counter() - due, repr(e).encode(), time.perf_counter(), float("nan")))
                if writer is not None:
                    writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(pacer(), *[conn() for _ in range(connections)])
    wall = max(r[3] for r in results) - t0  # from the first scheduled request to the last answer
    return results, wall


def summarize(name, results, wall, rate, duration, extra=None) -> dict:
    st = np.array([r[0] for r in results])
    lat = np.array([r[1] for r in results]) * 1000
    ok = st == 200
    lat_ok = lat[ok] if ok.any() else np.array([np.nan])
    bodies = [r[2] for r in results if r[0] >= 500 or r[0] == -1]
    row = {"phase": name, "offered_rps": rate, "duration_s": duration, "sent": len(results),
           "ok_200": int(ok.sum()), "rejected_429": int((st == 429).sum()), "other_4xx": int(((st >= 400) & (st < 500) & (st != 429)).sum()),
           "server_5xx": int((st >= 500).sum()), "client_errors": int((st == -1).sum()),
           "ok_rps": round(ok.sum() / wall, 1), "p50_ms": round(float(np.percentile(lat_ok, 50)), 2),
           "p95_ms": round(float(np.percentile(lat_ok, 95)), 2), "p99_ms": round(float(np.percentile(lat_ok, 99)), 2),
           "max_ms": round(float(lat_ok.max()), 2),
           "server_p99_ms": round(float(np.nanpercentile(np.array([r[4] for r in results])[ok], 99)), 2) if ok.any() else float("nan"),
           "tracebacks": sum(b"Traceback" in b for b in bodies),
           "first_error": (bodies[0][:200].decode(errors="replace") if bodies else "")}
    row.update(extra or {})
    print(json.dumps(row), flush=True)
    return row


def start_server(model: Path, port: int, *extra) -> subprocess.Popen:
    env = dict(os.environ, ADGDM_API_KEYS=KEY, ADGDM_ADMIN_KEYS="admin-" + KEY)
    p = subprocess.Popen([sys.executable, "-m", "adgdm.cli", "serve", str(model), "--port", str(port), *extra],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    import urllib.request

    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=1)
            return p
        except Exception:
            if p.poll() is not None:
                raise RuntimeError("the server did not start: " + p.stderr.read().decode()[-2000:])
            time.sleep(0.1)
    p.kill()
    raise RuntimeError("the server did not answer /v1/health in 30 s")


def healthy(port: int) -> bool:
    import urllib.request

    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=2).status == 200
    except Exception:
        return False


def fit_models(work: Path) -> tuple[Path, Path]:
    """A default tabular model (``diffusion`` on 5,000 rows x 10 columns) and a small image model."""
    import pandas as pd

    work.mkdir(parents=True, exist_ok=True)
    tab, img = work / "tab_model", work / "img_model"
    if not (tab / "cli.json").is_file():
        rng = np.random.default_rng(0)
        X = rng.normal(size=(5000, 10)) @ rng.normal(size=(10, 10))
        pd.DataFrame(X, columns=[f"x{j}" for j in range(10)]).to_parquet(work / "train.parquet")
        subprocess.run([sys.executable, "-m", "adgdm.cli", "fit", str(work / "train.parquet"), "--out", str(tab),
                        "--force"], check=True, stdout=subprocess.DEVNULL)
    if not (img / "cli.json").is_file():
        from PIL import Image

        good = work / "images" / "train" / "good"
        good.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(1)
        for i in range(32):
            a = 0.5 + 0.05 * rng.normal(size=(64, 64))
            Image.fromarray((np.clip(a, 0, 1) * 255).astype(np.uint8)).save(good / f"{i:03d}.png")
        (work / "images" / "test" / "good").mkdir(parents=True, exist_ok=True)
        Image.fromarray((np.full((64, 64), 0.5) * 255).astype(np.uint8)).save(work / "images" / "test" / "good" / "a.png")
        subprocess.run([sys.executable, "-m", "adgdm.cli", "fit", str(work / "images"), "--modality", "image",
                        "--detector", "image-patchknn", "--out", str(img), "--force"], check=True,
                       stdout=subprocess.DEVNULL)
    return tab, img


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/adgdm_serve_load"))
    ap.add_argument("--rate", type=float, default=500.0)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--overload-connections", type=int, default=256)
    ap.add_argument("--phases", default="single,hundred,overload,image")
    ap.add_argument("--image-rate", type=float, default=5.0)
    ap.add_argument("--server-args", default="", help="extra adgdm serve options, space-separated")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/serve_load.csv"))
    args = ap.parse_args(argv)
    tab, img = fit_models(args.work)
    rows = []
    cols = json.loads((tab / "cli.json").read_text())["columns"]
    rng = np.random.default_rng(2)

    def body(n):
        return json.dumps({"records": [dict(zip(cols, map(float, r))) for r in rng.normal(size=(n, len(cols)))]}).encode()

    phases = args.phases.split(",")
    port = free_port()
    server = start_server(tab, port, *args.server_args.split())
    try:
        if "single" in phases:
            req = request_bytes(port, "/v1/score", body(1), "application/json")
            res, wall = asyncio.run(run_phase(port, req, args.rate, args.duration, args.connections))
            rows.append(summarize("single_row", res, wall, args.rate, args.duration))
        if "hundred" in phases:
            req = request_bytes(port, "/v1/score", body(100), "application/json")
            res, wall = asyncio.run(run_phase(port, req, 20.0, min(args.duration, 30.0), 8))
            rows.append(summarize("hundred_rows", res, wall, 20.0, min(args.duration, 30.0)))
        if "overload" in phases:
            req = request_bytes(port, "/v1/score", body(1), "application/json")
            rate = 3 * args.rate
            res, wall = asyncio.run(run_phase(port, req, rate, min(args.duration, 30.0), args.overload_connections))
            rows.append(summarize("overload_3x", res, wall, rate, min(args.duration, 30.0),
                                  {"healthy_after": healthy(port)}))
    finally:
        server.terminate()
        server.wait(10)
    if "image" in phases:
        from PIL import Image
        import io

        port = free_port()
        server = start_server(img, port, *args.server_args.split())
        try:
            buf = io.BytesIO()
            Image.fromarray((np.clip(0.5 + 0.05 * rng.normal(size=(64, 64)), 0, 1) * 255).astype(np.uint8)).save(buf, "PNG")
            req = request_bytes(port, "/v1/score", buf.getvalue(), "image/png")
            res, wall = asyncio.run(run_phase(port, req, args.image_rate, min(args.duration, 20.0), 8))
            rows.append(summarize("image_64px", res, wall, args.image_rate, min(args.duration, 20.0)))
        finally:
            server.terminate()
            server.wait(10)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(args.out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    md = ["# adgdm serve load test (issue 21)", "", f"Command: `python {' '.join(sys.argv)}`", "",
          f"Machine: {os.cpu_count()} cores, no GPU, loopback only; the client shares the cores with the server. "
          "Tabular model: default `diffusion` on 5,000 x 10; image model: `image-patchknn` on 32 64x64 images.", "",
          "| phase | offered rps | sent | 200 | 429 | 5xx | client errors | 200/s | p50 ms | p99 ms | max ms | p99 in server ms |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        md.append(f"| {r['phase']} | {r['offered_rps']:g} | {r['sent']} | {r['ok_200']} | {r['rejected_429']} | "
                  f"{r['server_5xx']} | {r['client_errors']} | {r['ok_rps']} | {r['p50_ms']} | {r['p99_ms']} | "
                  f"{r['max_ms']} | {r['server_p99_ms']} |")
    md += ["", f"Python {platform.python_version()}."]
    args.out.with_suffix(".md").write_text("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
