"""Issue 29's speed check: ``adgdm serve`` single-row throughput and Ray rows/s, one checkout against
another, alternated (A B A B ...) in one run on the same machine.

Each measurement runs in a fresh process with the checkout's ``src`` first on ``PYTHONPATH``:

- ``serve``: a model (``diffusion``, 2,000 x 8 synthetic rows) is fitted and served on 127.0.0.1;
  one keep-alive connection sends single-row JSON requests back to back for ``--seconds`` (closed
  loop: the next request leaves when the answer is in) -> requests/s.
- ``inproc``: the server's own scoring call for one row (``score_records``), back to back -> calls/s.
- ``ray``: ``adgdm.distributed.score_dataset`` over ``--ray-rows`` rows in 4 Parquet files, 2 workers
  -> rows/s (Ray start-up included, as a user sees it).

    python benchmarks/refactor_speed.py --before /path/to/old/checkout --after . \\
        --out benchmarks/results/refactor_speed.csv
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

CHILD = r'''
import json, os, sys, time, socket, subprocess, http.client
from pathlib import Path
import numpy as np, pandas as pd
kind, work, seconds, ray_rows = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
work.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(0)
cols = [f"x{j}" for j in range(8)]
train = pd.DataFrame(rng.normal(size=(2000, 8)), columns=cols)
train.to_csv(work / "train.csv", index=False)
from adgdm.commands.fit import run_fit
model = work / "model"
if not model.exists():
    try:
        run_fit(work / "train.csv", out=model, detector="diffusion")
    except TypeError:  # the code before the refactor took positional arguments
        run_fit(work / "train.csv", None, "diffusion", model)
row = {c: float(v) for c, v in zip(cols, rng.normal(size=8))}
if kind == "inproc":
    from adgdm.serve.model import load_verified, score_records
    m = load_verified(model)
    for _ in range(50):
        score_records(m, [row])
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        score_records(m, [row]); n += 1
    print(json.dumps({"rate": n / (time.perf_counter() - t0), "n": n}))
elif kind == "serve":
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    (work / "keys").write_text("speed-key-" + "x" * 30 + "\n")
    env = dict(os.environ)
    srv = subprocess.Popen([sys.executable, "-c", "from adgdm.cli import main; main()", "serve", str(model),
                            "--port", str(port), "--api-key-file", str(work / "keys")],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        body = json.dumps({"records": [row]}).encode()
        head = {"Content-Type": "application/json", "X-API-Key": "speed-key-" + "x" * 30}
        for _ in range(600):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10); c.request("GET", "/v1/health")
                if c.getresponse().status == 200: break
            except OSError:
                time.sleep(0.1)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(50):
            c.request("POST", "/v1/score", body, head); r = c.getresponse(); r.read(); assert r.status == 200, r.status
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            c.request("POST", "/v1/score", body, head); r = c.getresponse(); r.read(); n += 1
        print(json.dumps({"rate": n / (time.perf_counter() - t0), "n": n}))
    finally:
        srv.terminate(); srv.wait(10)
elif kind == "ray":
    data = work / "parts"
    if not data.exists():
        data.mkdir()
        for i in range(4):
            pd.DataFrame(rng.normal(size=(ray_rows // 4, 8)), columns=cols).to_parquet(data / f"p{i}.parquet")
    from adgdm.distributed import score_dataset
    import shutil
    out = work / "scores"; shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    s = score_dataset(model, data, out=out, workers=2, rows_per_part=ray_rows // 8, progress=False)
    dt = time.perf_counter() - t0
    assert s["rows"] == ray_rows and not s["failed"], s
    print(json.dumps({"rate": ray_rows / dt, "n": ray_rows}))
'''


def measure(checkout: Path, kind: str, work: Path, seconds: float, ray_rows: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(checkout.resolve() / "src"), OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", CHILD, kind, str(work), str(seconds), str(ray_rows)], env=env,
                         capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"{checkout} {kind}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, required=True)
    ap.add_argument("--after", type=Path, default=Path("."))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--ray-rows", type=int, default=400_000)
    ap.add_argument("--kinds", default="inproc,serve,ray")
    ap.add_argument("--work", type=Path, default=Path("/tmp/adgdm_refactor_speed"))
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/refactor_speed.csv"))
    a = ap.parse_args()
    rows = []
    for r in range(a.rounds):
        for kind in a.kinds.split(","):
            for label, co in (("before", a.before), ("after", a.after)) if r % 2 == 0 else \
                    (("after", a.after), ("before", a.before)):
                res = measure(co, kind, a.work / label, a.seconds, a.ray_rows)
                rows.append({"round": r, "kind": kind, "code": label, "rate": round(res["rate"], 3), "n": res["n"]})
                print(rows[-1], flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with open(a.out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    import statistics as st

    lines = ["# Issue 29: speed before and after the refactor", "",
             f"Command: `python {' '.join(sys.argv)}`", "",
             f"Machine: {os.cpu_count()} CPU cores, no GPU, {platform.platform()}, Python {platform.python_version()}. "
             "Each figure the mean over the rounds (before and after alternated in one run).", "",
             "| measure | unit | before | after | after / before |", "|---|---|---|---|---|"]
    units = {"inproc": "single-row scoring calls/s (serve's code path)", "serve": "single-row requests/s (live "
             "server, one connection)", "ray": "rows/s (score_dataset, 2 workers)"}
    for kind in a.kinds.split(","):
        b = st.mean(x["rate"] for x in rows if x["kind"] == kind and x["code"] == "before")
        f = st.mean(x["rate"] for x in rows if x["kind"] == kind and x["code"] == "after")
        lines.append(f"| {kind} | {units[kind]} | {b:,.1f} | {f:,.1f} | {f / b:.3f} |")
    a.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
