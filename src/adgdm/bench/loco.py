"""Leave-one-group-out ("loco") protocol for design choices of series detectors (issue 18).

A design choice chosen on the labels it is then reported on fits to them: the best of a grid of
specs, scored on every file, is an optimistic number. Here the files of a suite fall into groups
(NAB: its categories, ``realKnownCause`` ...; SKAB: its folders, ``valve1``, ``other``), the first
part of each file's name ``"group/file"``. For each held-out group ``g``: the candidate spec with
the best mean metric over the files of the *other* groups is chosen, and its mean metric on the
files of ``g`` is reported. The mean of these held-out values over groups is a number that has not
seen the labels it reports; beside it, the "oracle" (the spec best on all files, what a grid search
on the labels reports) and each fixed spec.

``thr_f1`` (the label-free thresholded F1, SKAB's protocol) is pooled, not averaged: per held-out
group, the candidate with the best pooled F1 ``2TP / (2TP + FP + FN)`` over the points of the other
groups' files is chosen, among those whose pooled false-alarm rate there is at most ``far_max``
(all candidates when none is), and its pooled F1 / FAR / MAR over the group's files reported
(:func:`choose_pooled_per_group`); seeds are pooled too.

Per-file values come from :func:`adgdm.bench.series.run_series` (its long CSV and score cache), so
each (file, spec, seed) is scored once; files without both labels in their test part (no metric)
are left out, and so are groups with no such file.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Iterable

METRICS = ("vus_pr", "vus_roc", "auroc", "auprc", "f1", "pa_f1")  # higher is better for all
POOLED = ("thr_f1",)   # pooled over the points of the files (tp, fp, fn, tn), see choose_pooled_per_group
FAR_MAX = 20.0         # thr_f1: largest pooled false-alarm rate (%) of a candidate on the other groups
LOCO_COLUMNS = ["suite", "held_out_group", "chosen_spec", "metric", "held_out_value", "in_sample_best_value",
                "in_sample_best_spec", "train_value", "n_files", "n_train_files"]


def group_of_name(name: str) -> str:
    """A suite file's group: the part of its name before the first ``/`` (NAB's category, SKAB's folder)."""
    return str(name).split("/", 1)[0]


def _mean(vals) -> float:
    vals = list(vals)
    return sum(vals) / len(vals) if vals else float("nan")


def per_file_values(rows, metric: str, specs: Iterable[str] | None = None) -> dict:
    """``{spec: {dataset: value}}`` from long rows (dicts with ``dataset``, ``detector``, ``metric``;
    several seeds are averaged). Missing or NaN values are left out; with ``specs``, only files that
    every spec scored are kept (a fair comparison)."""
    acc: dict = {}
    for r in rows:
        v = r.get(metric)
        try:
            v = float(v)
        except (TypeError, ValueError):
            continue
        if math.isnan(v):
            continue
        acc.setdefault(str(r["detector"]), {}).setdefault(str(r["dataset"]), []).append(v)
    table = {s: {d: _mean(vs) for d, vs in files.items()} for s, files in acc.items()}
    return _common_files(table, specs, f"{metric} values")


def _common_files(table: dict, specs, what: str) -> dict:
    """``table`` (``{spec: {dataset: value}}``) cut to ``specs`` and the files every one of them has
    (a fair comparison); all of it when ``specs`` is None."""
    if specs is None:
        return table
    specs = list(specs)
    missing = [s for s in specs if s not in table]
    if missing:
        raise ValueError(f"no {what} for spec(s) {missing}")
    common = set.intersection(*(set(table[s]) for s in specs))
    return {s: {d: v for d, v in table[s].items() if d in common} for s in specs}


def loco_splits(files: Iterable[str], group_of: Callable[[str], str] = group_of_name) -> list:
    """``[(group, choice files, report files)]``, one per group: the group's files are reported on,
    every other group's files choose; no file (and no group) is on both sides."""
    files = sorted(files)
    return [(g, [d for d in files if group_of(d) != g], [d for d in files if group_of(d) == g])
            for g in sorted({group_of(d) for d in files})]


def choose_per_group(rows, group_of: Callable[[str], str] = group_of_name, metric: str = "vus_pr",
                     specs: Iterable[str] | None = None) -> dict:
    """Leave-one-group-out choice among ``specs`` (default: every detector in ``rows``, in order of
    first appearance; ties go to the earlier spec).

    ``rows``: long per-file rows (dicts with ``dataset``, ``detector`` and ``metric``; seeds are
    averaged). Returns ``{group: {"chosen_spec", "held_out_value", "train_value",
    "in_sample_best_spec", "in_sample_best_value", "n_files", "n_train_files"}}``: the spec with
    the best mean over the files of the other groups, its mean on the group's files, its mean on the
    others, and the spec that is best on the group itself (what fitting to its labels gives).
    Raises ValueError when fewer than 2 groups have files with a value.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    rows = [dict(r) for r in rows]
    if specs is None:
        specs = list(dict.fromkeys(str(r["detector"]) for r in rows))
    specs = list(specs)
    if not specs:
        raise ValueError("no candidate specs")
    table = per_file_values(rows, metric, specs)
    files = sorted(table[specs[0]])
    groups = sorted({group_of(d) for d in files})
    if len(groups) < 2:
        raise ValueError(f"leave-one-group-out needs files with a {metric} value in at least 2 groups, got "
                         f"{groups or 'none'}")

    def best(on):
        means = [(_mean(table[s][d] for d in on), -i, s) for i, s in enumerate(specs)]
        m, _, s = max(means)
        return s, m

    out = {}
    for g, train, held in loco_splits(files, group_of):
        chosen, train_value = best(train)
        own, own_value = best(held)
        out[g] = {"chosen_spec": chosen, "held_out_value": _mean(table[chosen][d] for d in held),
                  "train_value": train_value, "in_sample_best_spec": own, "in_sample_best_value": own_value,
                  "n_files": len(held), "n_train_files": len(train)}
    return out


def pooled_counts(rows, specs: Iterable[str] | None = None) -> dict:
    """``{spec: {dataset: [tp, fp, fn, tn]}}`` from long rows, summed over seeds; with ``specs``,
    only the files every spec has."""
    acc: dict = {}
    for r in rows:
        try:
            c = [float(r[k]) for k in ("tp", "fp", "fn", "tn")]
        except (KeyError, TypeError, ValueError):
            continue
        if any(math.isnan(v) for v in c):
            continue
        prev = acc.setdefault(str(r["detector"]), {}).setdefault(str(r["dataset"]), [0.0] * 4)
        acc[str(r["detector"])][str(r["dataset"])] = [a + b for a, b in zip(prev, c)]
    return _common_files(acc, specs, "tp/fp/fn/tn counts")


def pooled_rates(counts: dict, files) -> dict:
    """Pooled ``{"f1", "far", "mar"}`` (FAR, MAR in %) of ``{dataset: [tp, fp, fn, tn]}`` over ``files``."""
    tp, fp, fn, tn = (sum(counts[d][i] for d in files) for i in range(4))
    return {"f1": 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else float("nan"),
            "far": 100 * fp / (fp + tn) if fp + tn else float("nan"),
            "mar": 100 * fn / (fn + tp) if fn + tp else float("nan")}


def choose_pooled_per_group(rows, group_of: Callable[[str], str] = group_of_name, specs: Iterable[str] | None = None,
                            far_max: float = FAR_MAX) -> dict:
    """Leave-one-group-out choice on the pooled thresholded F1 (SKAB's protocol).

    For each group: among ``specs`` whose pooled FAR over the other groups' files is at most
    ``far_max`` % (all of them when none is), the one with the best pooled F1 there (ties: the
    earlier spec); its pooled F1 / FAR / MAR over the group's own files are reported. Returns
    ``{group: {"chosen_spec", "held_out": rates, "train": rates, "n_files", "n_train_files"}}``.
    """
    rows = [dict(r) for r in rows]
    specs = list(specs) if specs is not None else list(dict.fromkeys(str(r["detector"]) for r in rows))
    if not specs:
        raise ValueError("no candidate specs")
    counts = pooled_counts(rows, specs)
    files = sorted(counts[specs[0]])
    groups = sorted({group_of(d) for d in files})
    if len(groups) < 2:
        raise ValueError(f"leave-one-group-out needs files in at least 2 groups, got {groups or 'none'}")
    out = {}
    for g, train, held in loco_splits(files, group_of):
        rates = [(pooled_rates(counts[s], train), i, s) for i, s in enumerate(specs)]
        ok = [r for r in rates if r[0]["far"] <= far_max] or rates
        best = max(ok, key=lambda r: (r[0]["f1"], -r[1]))
        out[g] = {"chosen_spec": best[2], "held_out": pooled_rates(counts[best[2]], held), "train": best[0],
                  "n_files": len(held), "n_train_files": len(train)}
    return out


def write_pooled_loco(rows, suite: str, candidates: Iterable[str], references: Iterable[str] = (),
                      far_max: float = FAR_MAX) -> tuple[list, list]:
    """Loco rows (``LOCO_COLUMNS``, metric ``thr_f1``) and markdown lines of the pooled choice."""
    from .summary import _table

    candidates, references = list(candidates), [s for s in references if s not in candidates]
    choice = choose_pooled_per_group(rows, group_of_name, candidates, far_max)
    counts = pooled_counts(rows, candidates + references)
    files = sorted(counts[candidates[0]])
    groups = sorted(choice)
    loco = [0.0] * 4
    for d in files:
        loco = [a + b for a, b in zip(loco, counts[choice[group_of_name(d)]["chosen_spec"]][d])]
    fmt = lambda r: [f"{r['f1']:.3f}", f"{r['far']:.2f}", f"{r['mar']:.2f}"]  # noqa: E731
    summary = [["loco (chosen on the other group(s), pooled over all held-out files)"]
               + fmt(pooled_rates({"all": loco}, ["all"]))]
    summary += [[f"`{s}`" + (" (reference)" if s in references else "")] + fmt(pooled_rates(counts[s], files))
                for s in candidates + references]
    out_rows = [{"suite": suite, "held_out_group": g, "chosen_spec": c["chosen_spec"], "metric": "thr_f1",
                 "held_out_value": round(c["held_out"]["f1"], 4), "train_value": round(c["train"]["f1"], 4),
                 "in_sample_best_value": "", "in_sample_best_spec": "", "n_files": c["n_files"],
                 "n_train_files": c["n_train_files"]} for g, c in choice.items()]
    parts = [f"## thr_f1 (pooled; chosen with FAR <= {far_max:g} % on the other groups): {len(groups)} groups, "
             f"{len(files)} files", "",
             _table(summary, ["", "pooled F1", "FAR %", "MAR %"]), "",
             _table([[g, f"`{c['chosen_spec']}`", *fmt(c["train"]), *fmt(c["held_out"]), c["n_files"]]
                     for g, c in choice.items()],
                    ["held-out group", "chosen (on the others)", "others' F1", "others' FAR %", "others' MAR %",
                     "held-out F1", "held-out FAR %", "held-out MAR %", "files"]), ""]
    return out_rows, parts


def loco_report(rows, suite: str, metric: str = "vus_pr", candidates: Iterable[str] | None = None,
                references: Iterable[str] = (), group_of: Callable[[str], str] = group_of_name) -> tuple:
    """Loco rows (``LOCO_COLUMNS``) and a summary table of ``candidates`` (chosen among) and
    ``references`` (fixed specs shown beside, never chosen). Summary: ``[(label, mean over groups,
    mean over files)]`` for the loco choice, the oracle and each fixed spec, on the files every spec
    scored."""
    rows = [dict(r) for r in rows]
    candidates = list(candidates) if candidates is not None else list(dict.fromkeys(str(r["detector"]) for r in rows))
    references = [s for s in references if s not in candidates]
    choice = choose_per_group(rows, group_of, metric, candidates)
    table = per_file_values(rows, metric, candidates + references)
    files = sorted(table[candidates[0]])
    groups = sorted(choice)
    held_files = [d for d in files if group_of(d) in choice]
    out_rows = [{"suite": suite, "held_out_group": g, "metric": metric, **{k: (round(v, 4) if isinstance(v, float)
                                                                                   else v) for k, v in c.items()}}
                for g, c in choice.items()]

    def both(spec):
        by_group = [_mean(table[spec][d] for d in held_files if group_of(d) == g) for g in groups]
        return _mean(by_group), _mean(table[spec][d] for d in held_files)

    loco_files = [table[choice[group_of(d)]["chosen_spec"]][d] for d in held_files]
    summary = [("loco (chosen on the other groups)", _mean(c["held_out_value"] for c in choice.values()),
                _mean(loco_files))]
    oracle = max(((both(s)[1], -i, s) for i, s in enumerate(candidates)))[2]
    summary.append((f"oracle: `{oracle}` (best on all files)",) + both(oracle))
    summary += [(f"`{s}`" + (" (reference)" if s in references else ""),) + both(s) for s in candidates + references]
    return out_rows, summary, {"groups": groups, "n_files": len(held_files), "oracle": oracle}


def write_loco(csv_path, suite: str, candidates: Iterable[str], references: Iterable[str] = (),
               metrics: Iterable[str] = ("vus_pr", "auroc"), out=None, command: str | None = None) -> tuple[Path, str]:
    """Read the per-file CSV of :func:`run_series`, write ``<out>_loco.csv`` (one row per held-out
    group and metric) and ``<out>_loco.md``; return the CSV path and the markdown."""
    import pandas as pd

    from .summary import _table, summary_header

    csv_path = Path(csv_path)
    base = Path(out) if out else csv_path
    loco_csv = base.with_name(base.stem + "_loco.csv")
    df = pd.read_csv(csv_path)
    df = df[df.suite == suite] if "suite" in df else df
    rows = df.to_dict("records")
    candidates, references = list(candidates), list(references)
    parts = summary_header(
        f"# Leave-one-group-out selection: `{csv_path.name}` ({suite})", command,
        "For each group (NAB: category; SKAB: folder) held out in turn: the candidate spec with the best mean "
        "metric over the files of the other groups is chosen and its mean on the held-out group's files reported "
        "(`held-out`); `in-sample best` is the spec best on that group itself (fits to its labels). "
        "Summary: the loco number (mean over groups of the held-out values; and over files) beside the oracle (the "
        "candidate best on all files: the usual grid-search number, which fits to the labels it reports) and each "
        "fixed spec. Files without both labels in the test part have no value and are left out; seeds are averaged.")
    parts += [f"Candidates: {', '.join(f'`{s}`' for s in candidates)}"
              + (f"; fixed references (not chosen): {', '.join(f'`{s}`' for s in references)}" if references else "")
              + ".", ""]
    all_rows = []
    for metric in metrics:
        if metric in POOLED:
            loco_rows, lines = write_pooled_loco(rows, suite, candidates, references)
            all_rows += loco_rows
            parts += lines
            continue
        loco_rows, summary, info = loco_report(rows, suite, metric, candidates, references)
        all_rows += loco_rows
        fmt = (lambda v: f"{v:.3f}") if metric in ("vus_pr", "vus_roc", "f1", "pa_f1") else (lambda v: f"{v:.2f}")
        parts += [f"## {metric}: {len(info['groups'])} groups, {info['n_files']} files", "",
                  _table([[lab, fmt(g), fmt(f)] for lab, g, f in summary], ["", "mean over groups", "mean over files"]),
                  "",
                  _table([[r["held_out_group"], f"`{r['chosen_spec']}`", fmt(r["train_value"]), fmt(r["held_out_value"]),
                           f"`{r['in_sample_best_spec']}`", fmt(r["in_sample_best_value"]), r["n_files"]]
                          for r in loco_rows],
                         ["held-out group", "chosen (on the others)", "others' mean", "held-out", "in-sample best",
                          "its value", "files"]), ""]
    pd.DataFrame(all_rows, columns=LOCO_COLUMNS).to_csv(loco_csv, index=False)
    md = "\n".join(parts)
    loco_csv.with_suffix(".md").write_text(md)
    return loco_csv, md


def run_loco(suite: str, data, candidates: Iterable[str], references: Iterable[str] = (), datasets=None,
             seeds: int = 1, out="benchmarks/results/series.csv", resume: bool = False, progress: bool = True,
             metrics: Iterable[str] = ("vus_pr", "auroc"), command: str | None = None) -> tuple[Path, Path, str]:
    """Score every candidate and reference on the suite with :func:`run_series` (per-file CSV
    ``out``, score cache), then the loco selection: ``<out>_loco.csv`` and ``.md``. Returns
    ``(out, loco_csv, markdown)``. Fails before any scoring when the suite has fewer than 2 groups."""
    from .series import load_suite, run_series

    candidates, references = list(candidates), [s for s in references if s not in candidates]
    if not candidates:
        raise ValueError("loco needs candidate specs (--detectors)")
    bad = [m for m in metrics if m not in METRICS + POOLED]
    if bad:
        raise ValueError(f"metric must be one of {METRICS + POOLED}, got {bad}")
    names = [r.name for r in load_suite(suite, data, list(datasets) if datasets else None)]
    groups = sorted({group_of_name(n) for n in names})
    if len(groups) < 2:
        raise ValueError(f"leave-one-group-out needs at least 2 groups of files, {suite} under {data} has "
                         f"{groups or 'none'}")
    out = run_series(suite, data, datasets, candidates + references, seeds, out, resume, progress)
    loco_csv, md = write_loco(out, suite, candidates, references, metrics, command=command)
    return out, loco_csv, md
