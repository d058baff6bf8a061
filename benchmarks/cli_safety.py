"""A scripted run of the newcomer mistakes of issue 14 through the installed ``adgdm`` command:
silent column drops, files overwritten without --force, and the start-up time of ``--help`` and
``info``. Writes a CSV and a markdown summary.

    python benchmarks/cli_safety.py --out benchmarks/results/cli_safety.csv
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ADGDM = [str(Path(sys.executable).with_name("adgdm"))]


def run(*args):
    p = subprocess.run(ADGDM + [str(a) for a in args], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def digest(path: Path) -> bytes:
    return path.read_bytes() if path.is_file() else b"".join(f.read_bytes() for f in sorted(path.rglob("*")) if f.is_file())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="benchmarks/results/cli_safety.csv")
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    out = Path(a.out)
    if out.exists() and not a.force:
        sys.exit(f"{out} exists; pass --force to replace it")
    rows = []
    d = Path(tempfile.mkdtemp())
    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    df.insert(0, "Unnamed: 0", np.arange(n))
    df["anomaly"] = (rng.random(n) < 0.05).astype(int)
    df["changepoint"] = 0
    df["label"] = df["anomaly"]
    df["is_fraud"] = df["anomaly"]
    df["const"] = 3.0
    df["comment"] = "ok"
    df.to_csv(d / "t.csv", index=False)
    dropped_cols = ["Unnamed: 0", "anomaly", "changepoint", "label", "is_fraud", "const", "comment"]
    code, text = run("fit", d / "t.csv", "--out", d / "m", "--json")
    r = json.loads(text) if code == 0 else {"notes": [], "columns": []}
    said = " ".join(r["notes"])
    for c in dropped_cols:
        rows.append({"case": "column left out", "item": c, "said": f"'{c}'" in said and c not in r["columns"]})
    dirty = df.copy()
    dirty["a"] = dirty["a"].astype(str)
    dirty.loc[17, "a"] = "oops"
    dirty.to_csv(d / "dirty.csv", index=False)
    code, text = run("fit", d / "dirty.csv", "--out", d / "m_dirty")
    rows.append({"case": "dirty cell", "item": "a/row 17", "said": code == 2 and "'a'" in text and "row 17" in text})
    semi = d / "semi.csv"
    df[["a", "b"]].to_csv(semi, index=False, sep=";")
    code, text = run("fit", semi, "--out", d / "m_semi", "--json")
    rows.append({"case": "';' separator", "item": "columns a,b", "said": code == 0 and json.loads(text)["columns"] == ["a", "b"]})
    # overwrites
    run("score", d / "m", d / "t.csv", "--out", d / "s.csv")
    (d / "important.txt").write_text("keep")
    (d / "page.html").write_text("keep")
    cases = [("score onto an existing file", ["score", d / "m", d / "t.csv", "--out", d / "important.txt"], d / "important.txt"),
             ("score onto its input", ["score", d / "m", d / "t.csv", "--out", d / "t.csv", "--force"], d / "t.csv"),
             ("report onto an existing file", ["report", d / "s.csv", "--out", d / "page.html"], d / "page.html"),
             ("fit onto an existing model", ["fit", d / "t.csv", "--out", d / "m"], d / "m"),
             ("bench onto an existing CSV", ["bench", "tabular", "--data", d, "--out", d / "s.csv"], d / "s.csv")]
    for name, args, target in cases:
        before = digest(target)
        code, text = run(*args)
        rows.append({"case": "not overwritten", "item": name, "said": code != 0 and digest(target) == before})
    for args in (["--help"], ["info"]):
        best = min(_wall(args) for _ in range(5))
        rows.append({"case": "start-up seconds", "item": "adgdm " + " ".join(args), "said": best < 1.0, "seconds": round(best, 3)})
    shutil.rmtree(d, ignore_errors=True)
    res = pd.DataFrame(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    res.to_csv(out, index=False)
    md = ["# CLI safety: scripted newcomer mistakes (issue 14)", "",
          f"Command: `python {' '.join(sys.argv)}`; machine: {os.cpu_count()} cores, no GPU, {platform.platform()}.", "",
          "| case | item | handled | seconds |", "|---|---|---|---|"]
    md += [f"| {r['case']} | {r['item']} | {'yes' if r['said'] else 'NO'} | "
           f"{'' if pd.isna(r.get('seconds', np.nan)) else r['seconds']} |" for r in rows]
    silent = int((~res[res.case == "column left out"].said).sum())
    over = int((~res[res.case == "not overwritten"].said).sum())
    md += ["", f"Silent column drops: {silent}. Overwrites without --force: {over}."]
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


def _wall(args) -> float:
    t = time.perf_counter()
    subprocess.run(ADGDM + args, capture_output=True)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
