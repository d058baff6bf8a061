"""Leave-one-dataset-out report for ``auto`` (issue 32): per dataset, ``auto`` against each fixed
candidate and the per-dataset oracle (the best fixed candidate on that dataset's real labels, for
the report only).

Reported: mean metric; regret = oracle - detector per dataset (mean and worst); and the
leave-one-dataset-out fixed default: for each dataset, the fixed candidate with the best mean on
the *other* datasets (what a default chosen by the average over sets gives on a new one).

Rule (committed before the first run): ``auto`` becomes the modality's default if its mean is
>= the best fixed candidate's mean and its worst regret is at most half of that candidate's
worst regret (the issue's target); otherwise the default stays and ``auto`` is offered by name.

    python benchmarks/auto_summary.py benchmarks/results/auto_tables.csv --metric auroc \
        --candidates diffusion dte-np pyod-knn pyod-iforest --default diffusion \
        --out benchmarks/results/auto_tables.md
"""
from __future__ import annotations

import argparse
import sys

import pandas as pd


def markdown(d: pd.DataFrame, index: bool = False) -> str:
    """A markdown table without the optional ``tabulate`` package."""
    d = d.reset_index() if index else d
    cols = [str(c) for c in d.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    return "\n".join(lines + ["| " + " | ".join("" if pd.isna(v) else str(v) for v in r) + " |"
                              for r in d.itertuples(index=False)])


def summarise(df: pd.DataFrame, metric: str, candidates: list[str], default: str, auto: str = "auto",
              key: str = "dataset", detector: str = "detector", fit: str | None = "fit_s") -> tuple[pd.DataFrame, str]:
    per = df.groupby([key, detector])[metric].mean().unstack()
    per = per.dropna(subset=[c for c in candidates + [auto] if c in per.columns])
    oracle = per[candidates].max(axis=1)
    lodo = pd.Series({d: per.loc[d, per.drop(index=d)[candidates].mean().idxmax()] for d in per.index})
    rows = []
    for name, col in [(auto, per[auto])] + [(c, per[c]) for c in candidates] + [("LODO fixed default", lodo),
                                                                              ("oracle", oracle)]:
        reg = oracle - col
        rows.append({"detector": name, "mean": round(col.mean(), 3), "mean_regret": round(reg.mean(), 3),
                     "worst_regret": round(reg.max(), 3), "worst_dataset": reg.idxmax()})
    table = pd.DataFrame(rows)
    best = max(candidates, key=lambda c: per[c].mean())
    a, b = table.set_index("detector").loc[auto], table.set_index("detector").loc[best]
    ok = a["mean"] >= b["mean"] and a["worst_regret"] <= 0.5 * b["worst_regret"]
    verdict = (f"Rule: auto mean {a['mean']} vs best fixed ({best}) {b['mean']}; worst regret {a['worst_regret']} vs "
               f"half of {b['worst_regret']} = {0.5 * b['worst_regret']:.3f} -> "
               + (f"auto becomes the default (was {default})." if ok else f"the default stays {default}; auto is offered by name."))
    if fit and fit in df.columns:
        t = df.groupby([key, detector])[fit].mean().unstack()
        ratio = (t[auto] / t[default]).dropna()
        verdict += (f"\n\nFit cost of auto / {default} per dataset: median {ratio.median():.1f}x, max {ratio.max():.1f}x "
                    f"({ratio.idxmax()}); total {t[auto].sum():.0f} s against {t[default].sum():.0f} s.")
    return per.round(3), markdown(table) + "\n\n" + verdict


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--metric", default="auroc")
    ap.add_argument("--candidates", nargs="+", required=True)
    ap.add_argument("--default", required=True)
    ap.add_argument("--auto", default="auto")
    ap.add_argument("--key", default="dataset")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    df = pd.read_csv(a.csv)
    if "status" in df.columns:
        df = df[df["status"].fillna("ok") == "ok"]
    per, text = summarise(df, a.metric, a.candidates, a.default, a.auto, a.key)
    md = (f"# auto: leave-one-dataset-out report ({a.metric})\n\nCommand: `python {' '.join(sys.argv)}`  \n"
          f"Data: `{a.csv}`. Machine: 2 cores, no GPU.\n\n" + text + "\n\nPer dataset:\n\n" + markdown(per, index=True) + "\n")
    if a.out:
        open(a.out, "w").write(md)
    print(md)


if __name__ == "__main__":
    main()
