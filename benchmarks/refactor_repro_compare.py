"""Compare two runs of ``benchmarks/refactor_repro.sh`` (before / after a refactor): per bench,
detector and metric, the mean over the rows and the largest absolute difference of one row.

    python benchmarks/refactor_repro_compare.py BEFORE_DIR AFTER_DIR --md OUT.md
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

METRICS = {"tabular": ["auroc", "auprc"], "series": ["auroc", "auprc", "vus_pr", "f1"],
           "image": ["auroc", "auprc", "pixel_auroc", "aupro"],
           "video": ["auroc", "auprc", "auroc_per_clip", "auroc_clipnorm"], "multimodal": ["auroc", "auprc"]}


def compare(before: Path, after: Path) -> list[str]:
    rows = ["| bench | detector | metric | rows | before | after | max abs diff |", "|---|---|---|---|---|---|---|"]
    for bench, metrics in METRICS.items():
        fb, fa = before / f"{bench}.csv", after / f"{bench}.csv"
        if not (fb.is_file() and fa.is_file()):
            continue
        b, a = pd.read_csv(fb), pd.read_csv(fa)
        key = [c for c in ("dataset", "detector", "seed") if c in b]
        m = b.merge(a, on=key, suffixes=("_b", "_a"))
        if len(m) != len(b) or len(m) != len(a):
            rows.append(f"| {bench} | (rows differ: {len(b)} before, {len(a)} after, {len(m)} matched) | | | | | |")
        for det, g in m.groupby("detector"):
            for met in metrics:
                if f"{met}_b" in g:
                    d = (g[f"{met}_b"] - g[f"{met}_a"]).abs().max()
                    rows.append(f"| {bench} | {det} | {met} | {len(g)} | {g[f'{met}_b'].mean():.3f} | "
                                f"{g[f'{met}_a'].mean():.3f} | {d:.4f} |")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--md", type=Path)
    a = ap.parse_args()
    text = "\n".join(compare(a.before, a.after)) + "\n"
    print(text)
    if a.md:
        a.md.write_text(text)


if __name__ == "__main__":
    main()
