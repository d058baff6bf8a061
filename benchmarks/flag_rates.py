"""How often the default threshold flags normal data it has not seen (issue 14, item 5).

Each detector is fitted with ``contamination=0.1`` and its own ``threshold_``; the number reported
is the share of HELD-OUT NORMAL units above it (the target is 0.1: what ``contamination`` promises).
POT thresholds (``adgdm.thresholds.apply_threshold(det, "pot", q=...)``, from the same calibration
scores) are reported beside, as their own rows (target ``q``). Labels are used only to pick the
normal units; nothing is tuned on them.

* ADBench, semi protocol: every ``adbench/Classical/*.npz``; fit on a random half of the normal rows
  (seed 0, ``adgdm.data.semi_supervised_split``, features standardised on the training rows);
  held-out = the other half of the normals. Large sets are capped (``--max-train``, ``--max-heldout``:
  seeded random subsets of the training half and of the held-out half; the CSV records it).
* SKAB: each experiment file, fit on its first 400 rows (as ``adgdm bench series`` does);
  held-out normals = steps after 400 labelled 0, per file and pooled (``subset=all``); also those
  with no anomalous step within one window of the detector on either side (``clean``: their
  windows hold no anomalous data) and the normal steps before the file's first anomaly
  (``pre_anomaly``: no post-experiment regime). ``--slow`` detectors (trained networks) run on
  ``--slow-files`` files spread over the list.
* MTD: fit on the train good images at 128 px (``load_mtd(seed=0)``, as ``adgdm bench image --suite
  mtd`` does); held-out = the test good images.

Also written per row: ``score_sha`` (sha1 of the held-out scores' float64 bytes): two runs with the
same value scored the held-out data bit-identically.

    PYTHONPATH=src python benchmarks/flag_rates.py --threads 1 --out benchmarks/results/flag_rates.csv

Writes the long CSV and a markdown summary beside it (same stem, ``.md``); refuses to overwrite
either unless ``--force``.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np

COLUMNS = ["suite", "dataset", "subset", "detector", "threshold_method", "target", "n_train", "n_heldout",
           "n_flagged", "flag_rate", "ratio", "threshold", "above_cal_max", "fit_s", "capped", "score_sha", "error"]
TABULAR = ["diffusion", "dte-np", "pyod-knn"]
SERIES = ["series", "series-impute"]
IMAGE = ["image"]
POT_Q = (1e-2, 1e-3)


def _sha(scores: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(scores, dtype=np.float64).tobytes()).hexdigest()[:12]


SCORES_DIR = None  # --scores-dir: held-out and calibration scores per row group, for later analysis


def _rows(det, scores: np.ndarray, base: dict, contamination: float) -> list[dict]:
    """One row for the detector's own threshold and one per POT risk ``q``."""
    from adgdm.thresholds import apply_threshold

    out = []
    cal = np.asarray(getattr(det, "calibration_scores_", det.decision_scores_), dtype=np.float64)
    above_max = round(float(np.mean(scores > cal.max())), 5)  # no threshold from these scores avoids them
    if SCORES_DIR is not None:
        f = Path(SCORES_DIR) / "_".join(str(base[k]).replace("/", "-") for k in ("suite", "dataset", "subset", "detector"))
        f.parent.mkdir(parents=True, exist_ok=True)
        np.savez(f.with_suffix(".npz"), heldout=scores, calibration=cal, threshold=det.threshold_)

    def row(method, target, thr):
        flagged = int((scores > thr).sum())
        rate = flagged / max(len(scores), 1)
        out.append(dict(base, threshold_method=method, target=target, n_heldout=len(scores), n_flagged=flagged,
                        flag_rate=round(rate, 5), ratio=round(rate / target, 3), threshold=float(thr),
                        above_cal_max=above_max, score_sha=_sha(scores)))

    row("contamination", contamination, det.threshold_)
    own = det.threshold_
    for q in POT_Q:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                thr = apply_threshold(det, "pot", q=q).threshold_
            except ValueError as e:  # too few calibration scores for this q
                out.append(dict(base, threshold_method=f"pot_q{q:g}", target=q, n_heldout=len(scores),
                                error=f"{type(e).__name__}: {e}"[:120]))
                continue
        row(f"pot_q{q:g}", q, thr)
    det.threshold_ = own
    return out


def run_adbench(root: Path, dets, contamination, seed, max_train, max_heldout, write, log, only=None):
    from adgdm import make_detector
    from adgdm.data import semi_supervised_split, standardize

    files = sorted((root / "adbench" / "Classical").glob("*.npz"), key=lambda p: int(p.stem.split("_")[0]))
    files = [f for f in files if not only or f.stem in only]
    for f in files:
        d = np.load(f)
        X, y = np.asarray(d["X"], dtype=np.float64), np.asarray(d["y"]).astype(int)
        tr, te = semi_supervised_split(y, seed)
        ho = te[y[te] == 0]
        rng = np.random.default_rng(seed)
        capped = []
        if max_train and len(tr) > max_train:
            tr, capped = np.sort(rng.choice(tr, max_train, replace=False)), capped + [f"train {max_train}"]
        if max_heldout and len(ho) > max_heldout:
            ho, capped = np.sort(rng.choice(ho, max_heldout, replace=False)), capped + [f"heldout {max_heldout}"]
        Xtr, Xho = standardize(X[tr], X[ho])
        for name in dets:
            base = dict(suite="adbench", dataset=f.stem, subset="all", detector=name, n_train=len(tr),
                        capped="; ".join(capped))
            t0 = time.perf_counter()
            try:
                det = make_detector(name, contamination=contamination, random_state=seed).fit(Xtr)
                fit_s = time.perf_counter() - t0
                scores = det.decision_function(Xho)
            except (ValueError, MemoryError) as e:
                write(dict(base, threshold_method="contamination", target=contamination, error=f"{type(e).__name__}: {e}"[:120]))
                continue
            for r in _rows(det, scores, dict(base, fit_s=round(fit_s, 2)), contamination):
                write(r)
            log(f"adbench {f.stem} {name}: flag {np.mean(scores > det.threshold_):.3f} ({fit_s:.1f} s)")


def _spread_subset(items: list, k: int) -> list:
    """``k`` items spread evenly over ``items`` (all of them when ``k`` is 0 or too large)."""
    if not k or k >= len(items):
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, k).round().astype(int)]


def run_skab(root: Path, dets, contamination, seed, write, log, only=None, slow=(), slow_files=0):
    from adgdm import make_detector
    from adgdm.data.series import load_skab

    all_records = [r for r in load_skab(root / "skab") if not only or r.name in only]
    for name in dets:
        records = _spread_subset(all_records, slow_files) if name in slow else all_records
        capped = f"{len(records)} of {len(all_records)} files" if len(records) < len(all_records) else ""
        pooled = {"all": [], "clean": [], "pre_anomaly": []}
        fit_total = 0.0
        for rec in records:
            t0 = time.perf_counter()
            det = make_detector(name, contamination=contamination, random_state=seed).fit(rec.train_values)
            fit_s = time.perf_counter() - t0
            fit_total += fit_s
            s = det.decision_function(rec.values)
            te = np.arange(rec.train_end, rec.n_steps)
            y = rec.labels
            first = te[y[te] == 1][0] if y[te].any() else rec.n_steps
            # clean: no anomalous step within one window on either side (a window that holds
            # anomalous steps is not normal evidence, whatever the label of the step it scores)
            w = int(getattr(det, "window_", getattr(det, "window", 1)))
            near = np.convolve(y.astype(float), np.ones(2 * w - 1), mode="same") > 0
            subsets = {"all": te[y[te] == 0], "clean": te[~near[te]], "pre_anomaly": te[(te < first) & (y[te] == 0)]}
            for sub, idx in subsets.items():
                if not len(idx):
                    continue
                base = dict(suite="skab", dataset=rec.name, subset=sub, detector=name, n_train=rec.train_end,
                            fit_s=round(fit_s, 2), capped="")
                rows = _rows(det, s[idx], base, contamination)
                for r in rows:
                    write(r)
                pooled[sub].append(rows)
            log(f"skab {rec.name} {name}: flag {np.mean(s[subsets['all']] > det.threshold_):.3f} ({fit_s:.1f} s)")
        for sub, per_file in pooled.items():  # pooled over files: flagged steps / normal steps, per method
            for k in range(len(per_file[0]) if per_file else 0):
                rs = [rows[k] for rows in per_file if k < len(rows) and "n_flagged" in rows[k]]
                n, fl = sum(r["n_heldout"] for r in rs), sum(r["n_flagged"] for r in rs)
                above = sum(r["above_cal_max"] * r["n_heldout"] for r in rs) / n
                t = rs[0]["target"]
                write(dict(suite="skab", dataset="pooled", subset=sub, detector=name,
                           threshold_method=rs[0]["threshold_method"], target=t, n_train=sum(r["n_train"] for r in rs),
                           n_heldout=n, n_flagged=fl, flag_rate=round(fl / n, 5), ratio=round(fl / n / t, 3),
                           above_cal_max=round(above, 5),
                           fit_s=round(fit_total, 2), capped=capped,
                           score_sha=hashlib.sha1("".join(r["score_sha"] for r in rs).encode()).hexdigest()[:12]))


def run_mtd(root: Path, dets, contamination, seed, size, write, log):
    from adgdm import make_detector
    from adgdm.data.images import load_mtd

    tr, te = load_mtd(root / "mtd", size=size, seed=seed)
    good = np.asarray(te.kinds) == "good"
    for name in dets:
        t0 = time.perf_counter()
        det = make_detector(name, contamination=contamination, random_state=seed).fit(tr.images)
        fit_s = time.perf_counter() - t0
        s = det.decision_function(te.images[good])
        base = dict(suite="mtd", dataset="mtd", subset="test_good", detector=name, n_train=len(tr.images),
                    fit_s=round(fit_s, 2), capped="")
        for r in _rows(det, s, base, contamination):
            write(r)
        log(f"mtd {name}: flag {np.mean(s > det.threshold_):.3f} ({fit_s:.1f} s)")


def summarize(df, command: str, args, seconds: float) -> str:
    import pandas as pd

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from adgdm.bench.summary import machine

    c = args.contamination
    lines = [f"# Flag rates on held-out normal data: `{Path(args.out).name}`", "",
             f"Command: `{command}`", "", f"Machine: {machine()}. Wall time {seconds / 60:.1f} min.", "",
             f"Each detector fitted with `contamination={c:g}` (its own `threshold_`); POT rows use "
             f"`apply_threshold(det, 'pot', q=q)` on the same calibration scores (target `q`). The flag rate is "
             f"the share of held-out normal units above the threshold; `ratio` = flag rate / target (1 is right; "
             f"the target band is [0.5, 1.5]). ADBench: semi protocol, seed {args.seed}, held-out = the other half "
             f"of the normals; the median over sets. SKAB: fit on the first 400 rows of each file; held-out = steps "
             f"after 400 labelled 0 (`all`), those with no anomalous step within one window of the detector on either side "
             f"(`clean`), and those before the file's first anomaly (`pre_anomaly`); pooled = "
             f"flagged steps / normal steps over the files. MTD: fit on train good images at {args.size} px, "
             f"held-out = test good images. `score_sha` digests the held-out scores (equal digests = bit-identical "
             f"scores). `above max` = share of held-out units scoring above every calibration score (the scores "
             f"`threshold_` is a quantile of): a floor under the flag rate of any threshold taken from them.", ""]
    caps = df[(df.suite == "adbench") & (df.capped != "")].dataset.unique()
    if len(caps):
        lines += [f"Caps: training rows at most {args.max_train}, held-out rows at most {args.max_heldout} "
                  f"(seeded random subsets) on {len(caps)} sets: {', '.join(caps)}.", ""]
    ok = df[df.error == ""]
    lines += ["## Summary", "", "ADBench: the median over sets; in brackets the range and the number of sets whose "
              "flag rate lies in [0.5, 1.5] x target.", "",
              "| suite | measure | detector | threshold | target | flag rate | ratio | above max |",
              "|---|---|---|---|---|---|---|---|"]
    for (det, meth), g in ok[ok.suite == "adbench"].groupby(["detector", "threshold_method"], sort=False):
        t = g.target.iloc[0]
        band = int(((g.flag_rate >= 0.5 * t) & (g.flag_rate <= 1.5 * t)).sum())
        lines.append(f"| adbench | median over {len(g)} sets | `{det}` | {meth} | {t:g} | {g.flag_rate.median():.4f} "
                     f"[{g.flag_rate.min():.3f}, {g.flag_rate.max():.3f}; {band} in band] | "
                     f"{g.flag_rate.median() / t:.2f} | {g.above_cal_max.median():.4f} |")
    for _, r in ok[(ok.suite == "skab") & (ok.dataset == "pooled")].iterrows():
        files = f", {r.capped}" if r.capped else ""
        lines.append(f"| skab | pooled ({r.subset}, {int(r.n_heldout)} steps{files}) | `{r.detector}` | {r.threshold_method} | "
                     f"{r.target:g} | {r.flag_rate:.4f} | {r.ratio:.2f} | {r.above_cal_max:.4f} |")
    for _, r in ok[ok.suite == "mtd"].iterrows():
        lines.append(f"| mtd | {int(r.n_heldout)} good images | `{r.detector}` | {r.threshold_method} | {r.target:g} | "
                     f"{r.flag_rate:.4f} | {r.ratio:.2f} | {r.above_cal_max:.4f} |")
    ab = ok[(ok.suite == "adbench") & (ok.threshold_method == "contamination")]
    if len(ab):
        piv = ab.pivot_table(index="dataset", columns="detector", values="flag_rate", sort=False)
        lines += ["", f"## ADBench: flag rate per set (contamination {c:g})", "",
                  "| dataset | n_train | n_heldout | " + " | ".join(f"`{d}`" for d in piv.columns) + " |",
                  "|---|---|---|" + "---|" * len(piv.columns)]
        meta = ab.groupby("dataset", sort=False)[["n_train", "n_heldout"]].first()
        for ds, r in piv.iterrows():
            lines.append(f"| {ds} | {int(meta.loc[ds, 'n_train'])} | {int(meta.loc[ds, 'n_heldout'])} | "
                         + " | ".join(f"{v:.3f}" for v in r.values) + " |")
    sk = ok[(ok.suite == "skab") & (ok.threshold_method == "contamination") & (ok.dataset != "pooled")]
    if len(sk):
        piv = sk.pivot_table(index="dataset", columns=["detector", "subset"], values="flag_rate", sort=False)
        lines += ["", f"## SKAB: flag rate per file (contamination {c:g})", "",
                  "| file | " + " | ".join(f"`{d}` {s}" for d, s in piv.columns) + " |",
                  "|---|" + "---|" * len(piv.columns)]
        for ds, r in piv.iterrows():
            lines.append(f"| {ds} | " + " | ".join("" if pd.isna(v) else f"{v:.3f}" for v in r.values) + " |")
    err = df[df.error != ""]
    if len(err):
        lines += ["", "## Errors", ""] + [f"- {r.suite} {r.dataset} `{r.detector}` {r.threshold_method}: {r.error}"
                                          for _, r in err.iterrows()]
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("ADGDM_DATA", "../shared/data"))
    ap.add_argument("--out", default="benchmarks/results/flag_rates.csv")
    ap.add_argument("--force", action="store_true", help="overwrite --out and its .md")
    ap.add_argument("--suites", default="adbench,skab,mtd")
    ap.add_argument("--tabular", default=",".join(TABULAR), help="tabular detectors")
    ap.add_argument("--series", default=",".join(SERIES), help="series detectors")
    ap.add_argument("--image", default=",".join(IMAGE), help="image detectors")
    ap.add_argument("--datasets", default="", help="only these ADBench stems / SKAB files (comma list; quick checks)")
    ap.add_argument("--contamination", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=128, help="MTD image side")
    ap.add_argument("--max-train", type=int, default=10000, help="cap on ADBench training rows (0: none)")
    ap.add_argument("--max-heldout", type=int, default=10000, help="cap on ADBench held-out rows (0: none)")
    ap.add_argument("--slow", default="series-impute", help="detectors run on --slow-files SKAB files only")
    ap.add_argument("--slow-files", type=int, default=6, help="SKAB files (spread over the list) for --slow; 0: all")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--scores-dir", default=None, help="also save held-out and calibration scores (.npz) here")
    args = ap.parse_args(argv)
    global SCORES_DIR
    SCORES_DIR = args.scores_dir

    out, md = Path(args.out), Path(args.out).with_suffix(".md")
    for p in (out, md):
        if p.exists() and not args.force:
            ap.error(f"{p} exists; pass --force to overwrite it")
    import torch

    torch.set_num_threads(args.threads)
    import csv

    import pandas as pd

    root = Path(args.data)
    suites = [s for s in args.suites.split(",") if s]
    t_start = time.perf_counter()
    log = lambda msg: print(f"[{(time.perf_counter() - t_start) / 60:5.1f} min] {msg}", flush=True)  # noqa: E731
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, restval="", lineterminator="\n")
        writer.writeheader()

        def write(row):
            writer.writerow(row)
            fh.flush()

        names = lambda s: [d for d in s.split(",") if d]  # noqa: E731
        if "adbench" in suites:
            run_adbench(root, names(args.tabular), args.contamination, args.seed, args.max_train, args.max_heldout,
                        write, log, names(args.datasets))
        if "skab" in suites:
            run_skab(root, names(args.series), args.contamination, args.seed, write, log, names(args.datasets),
                     names(args.slow), args.slow_files)
        if "mtd" in suites:
            run_mtd(root, names(args.image), args.contamination, args.seed, args.size, write, log)
    seconds = time.perf_counter() - t_start
    command = "PYTHONPATH=src python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])])
    df = pd.read_csv(out, dtype={"dataset": str, "capped": str, "error": str, "score_sha": str})
    md.write_text(summarize(df.fillna({"capped": "", "error": ""}), command, args, seconds))
    log(f"wrote {out} and {md}")


if __name__ == "__main__":
    main()
