"""Leave-one-dataset-out choice of the tabular default over the shared ADBench sets (issue 19,
item 6), from committed per-run CSVs (semi-supervised protocol).

For each dataset held out, the candidate with the best mean AUROC over the *other* datasets is
chosen and its AUROC on the held-out set reported; the mean of these held-out values is the
protocol's number (it has not seen the labels it reports), beside each fixed candidate and PyOD KNN.
Seeds: only those every candidate ran (means over them first). Cost: fit + score seconds per set,
as a ratio to PyOD KNN on the sets above 10,000 rows.

    python benchmarks/tabular_default_select.py --csv benchmarks/results/adbench_semi_diffusion.csv,\
benchmarks/results/adbench_semi_a.csv,benchmarks/results/adbench_semi_fineonly.csv \
        --candidates 'diffusion;diffusion:coarse_weight=0;dte-np;pyod-knn' --out benchmarks/results/tabular_default_select.md
"""
from __future__ import annotations

import argparse
import csv
import platform
import sys
from collections import defaultdict


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csv", required=True, help="comma-separated run CSVs (adgdm bench tabular --setting semi)")
    ap.add_argument("--candidates", required=True, help="detector specs separated by ';' (chosen among)")
    ap.add_argument("--reference", default="pyod-knn")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    cands = [c for c in a.candidates.split(";") if c]
    specs = cands + ([a.reference] if a.reference not in cands else [])
    rows = [r for p in a.csv.split(",") for r in csv.DictReader(open(p)) if r["setting"] == "semi"]
    seeds_of = defaultdict(set)
    for r in rows:
        seeds_of[r["detector"]].add(int(r["seed"]))
    missing = [s for s in specs if s not in seeds_of]
    if missing:
        sys.exit(f"no rows for {missing}")
    seeds = set.intersection(*(seeds_of[s] for s in specs))
    au, cost, n_test = defaultdict(lambda: defaultdict(list)), defaultdict(lambda: defaultdict(list)), {}
    for r in rows:
        if r["detector"] in specs and int(r["seed"]) in seeds:
            au[r["detector"]][r["dataset"]].append(float(r["auroc"]))
            cost[r["detector"]][r["dataset"]].append(float(r["fit_s"]) + float(r["score_s"]))
            n_test[r["dataset"]] = int(r["n_train"]) + int(r["n_test"])
    sets = sorted(set.intersection(*(set(au[s]) for s in specs)))
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    A = {s: {d: mean(au[s][d]) for d in sets} for s in specs}
    held, choice = {}, {}
    for d in sets:
        others = [e for e in sets if e != d]
        best = max(cands, key=lambda s: (mean([A[s][e] for e in others]), -cands.index(s)))
        choice[d], held[d] = best, A[best][d]
    loco = mean(list(held.values()))
    knn = mean([A[a.reference][d] for d in sets])
    big = [d for d in sets if n_test[d] > 10000]
    md = ["# Tabular default: leave-one-dataset-out choice (issue 19)", "",
          f"Command: `python {' '.join(repr(a) if ';' in a else a for a in sys.argv)}`", "",
          f"Machine: 2 CPU cores, no GPU used, {platform.machine()}, Python {platform.python_version()}.", "",
          f"ADBench Classical, semi-supervised; {len(sets)} datasets, seeds {sorted(seeds)} (the ones every candidate "
          "ran); AUROC in points. For each dataset held out, the candidate best on the other datasets is chosen and "
          "scored on it.", "",
          "| | mean AUROC | vs " + a.reference + " |", "|---|---|---|",
          f"| leave-one-dataset-out choice | **{loco:.2f}** | {loco - knn:+.2f} |"]
    md += [f"| `{s}` | {mean(list(A[s].values())):.2f} | {mean(list(A[s].values())) - knn:+.2f} |" for s in specs]
    md += ["", "Chosen per held-out dataset: " + ", ".join(f"{c} x{list(choice.values()).count(c)}"
                                                       for c in dict.fromkeys(choice.values())), ""]
    if big:
        md += [f"Cost (fit + score s, mean over seeds) relative to `{a.reference}` on the {len(big)} sets above 10,000 "
               "rows:", "", "| dataset | rows | " + " | ".join(f"`{s}`" for s in cands) + " |",
               "|---|---|" + "---|" * len(cands)]
        for d in big:
            k = mean(cost[a.reference][d])
            md.append(f"| {d} | {n_test[d]} | " + " | ".join(f"{mean(cost[s][d]) / k:.2f}x" for s in cands) + " |")
    open(a.out, "w").write("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
