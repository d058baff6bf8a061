"""``image-auto`` (issue 32) against fixed image detectors, leave-one-dataset-out.

Datasets: the magnetic-tile defect classes (MTD: Blowhole, Break, Crack; one normal training set,
MT_Free, so one auto choice serves the three) and a few MNIST digits (one-vs-rest). Per dataset:
image AUROC (and pixel AUROC where masks exist) of ``image-auto``, of each fixed candidate, of the
oracle (the best candidate on the real test labels: for the report only, never for choosing), and
of the leave-one-dataset-out fixed choice (the candidate with the best mean AUROC on the *other*
datasets; the MTD classes are left out together, they share the training set). Regret = oracle - method (worst and mean over datasets). ``image-auto`` never sees a
test label: it chooses on anomalies it generates out of the training images.

Small and subsampled to fit ~20 minutes on one thread: MTD at 64 px with ``max_per_class`` images
per class; MNIST at 28 px with ``n_train`` training images and a seeded subsample of the test set;
candidates with reduced budgets (``image:max_steps=500``, feature detectors at ``size=128``).

Example::

    OMP_NUM_THREADS=1 python benchmarks/auto_image.py --out benchmarks/results/auto_image.csv
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
import pandas as pd
import torch

from adgdm.data.images import load_mnist, load_mtd
from adgdm.detectors import ImageAuto, make_detector
from adgdm.metrics import auroc
from adgdm.metrics.images import pixel_auroc

CANDIDATES = ["image:max_steps=500", "image-patchcore:size=128", "image-feat-ideal:size=128", "image-feat:size=128"]


def _subsample_test(test, max_normal: int, max_anomalous: int, seed: int):
    rng = np.random.default_rng(seed)
    lab = np.asarray(test.labels)
    keep = []
    for v, cap in ((0, max_normal), (1, max_anomalous)):
        idx = np.flatnonzero(lab == v)
        keep.append(np.sort(rng.choice(idx, min(cap, len(idx)), replace=False)))
    idx = np.sort(np.concatenate(keep))
    return test.images[idx], lab[idx], None if test.masks is None else test.masks[idx], np.asarray(test.kinds)[idx]


def _jobs(args):
    """``(name, train images, test images, labels, masks, {dataset: index})``."""
    tr, te = load_mtd(os.path.join(args.data, "mtd"), size=args.mtd_size, seed=args.seed,
                      max_per_class=args.max_per_class or None)
    kinds = np.asarray(te.kinds)
    groups = {k: np.flatnonzero(np.isin(kinds, ["good", k])) for k in dict.fromkeys(kinds) if k != "good"}
    yield "mtd", tr.images, te.images, np.asarray(te.labels), te.masks, groups
    for d in args.digits:
        tr, te = load_mnist(os.path.join(args.data, "mnist"), int(d), n_train=args.n_train, seed=args.seed)
        X, y, _, _ = _subsample_test(te, args.mnist_normal, args.mnist_anomalous, args.seed)
        yield f"mnist-{d}", tr.images, X, y, None, {f"mnist-{d}": np.arange(len(y))}


def _evaluate(det, X, y, masks, groups):
    t0 = time.perf_counter()
    s, maps = det.score_maps(X)
    score_s = time.perf_counter() - t0
    out = {}
    for g, idx in groups.items():
        out[g] = {"auroc": 100 * auroc(y[idx], s[idx]),
                  "pixel_auroc": 100 * pixel_auroc(masks[idx], maps[idx]) if masks is not None else np.nan}
    return out, score_s, s


def run(args) -> pd.DataFrame:
    rows, selections = [], {}
    for name, train, X, y, masks, groups in _jobs(args):
        print(f"[{time.strftime('%H:%M:%S')}] {name}: {len(train)} train, {len(y)} test", flush=True)
        t0 = time.perf_counter()
        auto = ImageAuto(candidates="+".join(CANDIDATES), n_anomalies=args.n_anomalies, random_state=args.seed).fit(train)
        auto_fit = time.perf_counter() - t0
        selections[name] = auto.selection_table()
        choice, maps_choice = auto.selection_["choice"], auto.selection_.get("maps_choice", auto.selection_["choice"])
        res, score_s, auto_scores = _evaluate(auto, X, y, masks, groups)
        for g, m in res.items():
            rows.append({"train_set": name, "dataset": g, "method": "auto", "chosen": choice, "maps_from": maps_choice,
                         **m, "fit_s": auto_fit,
                         "score_s": score_s, "n_train": len(train), "n_test": len(groups[g]), "size": train.shape[1]})
        print(f"  auto -> {auto.chosen_} ({auto_fit:.0f} s)", flush=True)
        for spec in CANDIDATES:
            t0 = time.perf_counter()
            det = make_detector(spec, random_state=args.seed).fit(train)
            fit_s = time.perf_counter() - t0
            res, score_s, s = _evaluate(det, X, y, masks, groups)
            same = bool(np.array_equal(s, auto_scores)) if spec == choice else None
            for g, m in res.items():
                rows.append({"train_set": name, "dataset": g, "method": spec, "chosen": "", **m, "fit_s": fit_s, "score_s": score_s,
                             "n_train": len(train), "n_test": len(groups[g]), "size": train.shape[1],
                             "auto_scores_identical": same})
            print(f"  {spec}: fit {fit_s:.0f} s, AUROC " + ", ".join(f"{g} {m['auroc']:.1f}" for g, m in res.items()),
                  flush=True)
    df = pd.DataFrame(rows)
    df.attrs["selections"] = selections
    return df


def _summary(df: pd.DataFrame, command: str) -> str:
    fixed = df[~df.method.isin(["auto"])]
    au = fixed.pivot(index="dataset", columns="method", values="auroc")[CANDIDATES]
    px = fixed.pivot(index="dataset", columns="method", values="pixel_auroc")[CANDIDATES]
    auto = df[df.method == "auto"].set_index("dataset")
    oracle = au.max(axis=1)
    group = df.drop_duplicates("dataset").set_index("dataset").train_set
    lodo = pd.Series({d: au[group.reindex(au.index) != group[d]].mean().idxmax() for d in au.index})
    lodo_auc = pd.Series({d: au.loc[d, lodo[d]] for d in au.index})
    tab = pd.DataFrame({"auto": auto.auroc, "auto chose": auto.chosen.str.split(":").str[0]})
    # without split maps, auto's maps are its image-level choice's (fitted alone with the same seed:
    # its scores are identical, checked below); with them, the maps of ``maps_from``
    single_px = pd.Series({d: px.loc[d, auto.chosen[d]] for d in auto.index})
    for c in CANDIDATES:
        tab[c.split(":")[0]] = au[c]
    tab["LODO fixed"], tab["LODO chose"], tab["oracle"] = lodo_auc, lodo.str.split(":").str[0], oracle
    lines = ["# image-auto vs fixed image detectors, leave-one-dataset-out (issue 32)", "",
             f"Command: `{command}`", "",
             f"Machine: 2 CPU cores (shared with other jobs), no GPU, 1 thread, {platform.machine()}, Python "
             f"{platform.python_version()}, torch {torch.__version__}.", "",
             "Small and subsampled (see the script): MTD at 64 px, at most `max_per_class` images per class; MNIST "
             "28 px with `n_train` training images and a seeded test subsample; candidates with reduced budgets "
             f"({', '.join(f'`{c}`' for c in CANDIDATES)}). The three MTD classes share one training set, so one auto "
             "choice. Oracle: best candidate on the real test labels (report only). LODO fixed: the candidate with the "
             "best mean AUROC on the other datasets (all MTD classes left out together: they share the training set). Regret = oracle - method, in AUROC points.", "",
             "## Image AUROC per dataset", "", _md(tab), ""]
    methods = {"auto": tab["auto"], "LODO fixed": tab["LODO fixed"],
               **{c.split(":")[0]: au[c] for c in CANDIDATES}}
    reg = pd.DataFrame({k: {"mean AUROC": v.mean(), "mean regret": (oracle - v).mean(),
                            "worst regret": (oracle - v).max()} for k, v in methods.items()}).T
    lines += ["## Mean and regret over datasets", "", _md(reg), ""]
    if px.notna().any().any():
        pxt = px.dropna(how="all").copy()
        pxt.columns = [c.split(":")[0] for c in pxt.columns]
        pxt.insert(0, "auto", single_px.reindex(pxt.index))
        pxt.insert(1, "auto (split maps)", auto.pixel_auroc.reindex(pxt.index))
        pxt.insert(2, "maps from", auto.maps_from.reindex(pxt.index).str.split(":").str[0])
        pxt["oracle"] = px.dropna(how="all").max(axis=1)
        lines += ["## Pixel AUROC (MTD, masks)", "", "`auto`: the maps of its image-level choice (`split_maps=False`); "
                  "`auto (split maps)`: the default, maps from the candidate whose maps score best on the generated "
                  "local defects (same rule, pixel AUROC; `maps from`).", "", _md(pxt), ""]
    cost = []
    for ts, grp in df.drop_duplicates(["train_set", "method"]).groupby("train_set", sort=False):
        f = grp.set_index("method").fit_s
        cost.append({"training set": ts, "auto fit s": f["auto"], "default fit s": f[CANDIDATES[0]],
                     "ratio": f["auto"] / f[CANDIDATES[0]]})
    lines += ["## Fit cost: auto / the default", "", _md(pd.DataFrame(cost).set_index("training set")), ""]
    same = df.auto_scores_identical.dropna()
    lines += [f"Auto's test scores equal those of its image-level choice fitted alone: {bool(same.all())} "
              f"({len(same)} rows).", "", "## Auto's selection tables (image AUROC, then pixel AUROC, on generated anomalies)", ""]
    for name, t in df.attrs["selections"].items():
        lines += [f"### {name}", "", "```", t, "```", ""]
    return "\n".join(lines)


def _md(t: pd.DataFrame) -> str:
    cols = [t.index.name or ""] + [str(c) for c in t.columns]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for i, r in t.iterrows():
        out.append("| " + " | ".join([str(i)] + [f"{v:.1f}" if isinstance(v, (float, np.floating)) else str(v)
                                                  for v in r.values]) + " |")
    return "\n".join(out)


def cost_ratio(args) -> str:
    """Fit time of ``image-auto`` with its defaults against the default ``image``'s, on MTD."""
    tr, _ = load_mtd(os.path.join(args.data, "mtd"), size=args.mtd_size, seed=args.seed,
                     max_per_class=args.max_per_class or None)
    times = {}
    for spec in ("image", "image-auto"):
        t0 = time.perf_counter()
        det = make_detector(spec, random_state=args.seed).fit(tr.images)
        times[spec] = time.perf_counter() - t0
        print(f"  {spec}: fit {times[spec]:.0f} s", flush=True)
    return (f"MTD (MT_Free training images: {len(tr)}, {args.mtd_size} px), defaults: `image` fit "
            f"{times['image']:.0f} s, `image-auto` fit {times['image-auto']:.0f} s (chose `{det.chosen_}`): ratio "
            f"{times['image-auto'] / times['image']:.2f}.\n\n```\n{det.selection_table()}\n```\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="/work/shared/data")
    p.add_argument("--digits", nargs="+", default=["0", "4", "7"])
    p.add_argument("--mtd-size", type=int, default=64)
    p.add_argument("--max-per-class", type=int, default=300)
    p.add_argument("--n-train", type=int, default=300)
    p.add_argument("--mnist-normal", type=int, default=300)
    p.add_argument("--mnist-anomalous", type=int, default=600)
    p.add_argument("--n-anomalies", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--candidates", default="+".join(CANDIDATES), help="specs joined by '+', the default first")
    p.add_argument("--cost-ratio", action="store_true",
                   help="only measure image-auto's fit time against image's, both with defaults, on MTD")
    p.add_argument("--out", default="benchmarks/results/auto_image.csv")
    args = p.parse_args(argv)
    CANDIDATES[:] = args.candidates.split("+")
    torch.set_num_threads(args.threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    t0 = time.perf_counter()
    command = "OMP_NUM_THREADS=1 python benchmarks/auto_image.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.cost_ratio:
        md = (f"# image-auto fit cost against image (issue 32)\n\nCommand: `{command}`\n\nMachine: 2 CPU cores "
              f"(shared with other jobs), no GPU, {args.threads} thread(s).\n\n" + cost_ratio(args))
        with open(args.out, "w") as f:
            f.write(md)
        print(md)
        return
    df = run(args)
    df.to_csv(args.out, index=False, float_format="%.4f")
    md = _summary(df, command) + f"\nTotal run time: {time.perf_counter() - t0:.0f} s.\n"
    with open(os.path.splitext(args.out)[0] + ".md", "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
