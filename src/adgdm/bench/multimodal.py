"""``adgdm bench multimodal``: image + caption records.

Suite ``digits-captions``: MNIST digits (the ``t10k`` idx files under ``--data``) with captions from
templates per digit ("a handwritten seven", "the number 7 written by hand", ...); the training
templates and the test templates are disjoint. Training: ``n_train`` matching pairs. Test:
``n_test`` matching pairs (normal) and ``n_test`` records of each anomaly type, every one scored
against the same normal records (``dataset`` in the CSV):

* ``mismatched``: the image of digit d with a caption of a digit d' != d;
* ``corrupted``: a correct caption with an image heavily noised (half) or inverted (half);
* ``off-topic``: the image with a caption about something else ("a photo of a red car");
* ``pooled``: all three types together.

Detectors: the multimodal ones and two unimodal baselines, ``diffusion[image]`` and
``diffusion[text]`` (the tabular ``diffusion`` detector on one modality's embedding: ``mm-late``
fitted on that modality alone). ``records_per_s``: test records embedded and scored per second.

The default of the ``multimodal`` detector is selected without test labels
(:func:`select_strategy`): candidates are fitted on 80% of the training pairs and scored on the
other 20% plus synthetic anomalies built from them (captions shuffled among them; images noised);
the strategy with the highest mean AUROC wins.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable

import numpy as np

from ..metrics import auprc, auroc
from ._results import open_results
from .tabular import _bar

MODALITY = "multimodal"  # the modality this bench is about
DEFAULT = "multimodal"   # the recommended detector of it (its name)

COLUMNS = ["suite", "dataset", "detector", "seed", "auroc", "auprc", "fit_s", "score_s", "records_per_s",
           "n_train", "n_test"]
KEY = ("dataset", "detector", "seed")
SUITES = ("digits-captions", "ped2-motion")
DEFAULT_DETECTORS = ["mm-cross", "mm-late", "mm-early", "multimodal", "diffusion[image]", "diffusion[text]"]
TYPES = ("mismatched", "corrupted", "off-topic")
CANDIDATES = ("cross", "late", "early", "cross+late")

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TRAIN_TEMPLATES = ["a handwritten {w}", "the number {d} written by hand", "a digit: {d}", "an image of the digit {w}",
                   "a scanned handwritten {d}", "the numeral {w}"]
TEST_TEMPLATES = ["a picture showing the number {w}", "handwriting of the digit {d}", "someone wrote a {w}"]
OFF_TOPIC = ["a photo of a red car", "a bowl of fruit on a wooden table", "a dog running on the beach",
             "a city skyline at night", "two people playing tennis", "a cup of hot coffee", "a mountain lake at sunrise",
             "a cat sleeping on a sofa"]


def caption(d: int, templates, rng) -> str:
    return templates[int(rng.integers(len(templates)))].format(w=WORDS[d], d=d)


def load_digits_captions(data, n_train: int = 3000, n_test: int = 1000, seed: int = 0):
    """``(train records, {type: test records}, normal test records)``; records are dicts
    ``{"image": (n, 28, 28) float32, "text": [str]}``."""
    from ..data.images import _idx_path, _read_idx

    root = Path(data)
    if not root.is_dir():
        raise FileNotFoundError(f"MNIST folder {str(root)!r} does not exist")
    X = _read_idx(_idx_path(root, "t10k-images-idx3-ubyte"), 2051, 3).astype(np.float32) / 255.0
    y = _read_idx(_idx_path(root, "t10k-labels-idx1-ubyte"), 2049, 1).astype(int)
    need = n_train + 4 * n_test
    if need > len(X):
        raise ValueError(f"n_train + 4 n_test = {need} records; MNIST t10k has {len(X)} images")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(X))
    tr, rest = perm[:n_train], perm[n_train:]
    train = {"image": X[tr], "text": [caption(d, TRAIN_TEMPLATES, rng) for d in y[tr]]}
    blocks = [rest[i * n_test:(i + 1) * n_test] for i in range(4)]
    normal = {"image": X[blocks[0]], "text": [caption(d, TEST_TEMPLATES, rng) for d in y[blocks[0]]]}
    idx = blocks[1]
    other = (y[idx] + rng.integers(1, 10, len(idx))) % 10
    mism = {"image": X[idx], "text": [caption(d, TEST_TEMPLATES, rng) for d in other]}
    idx = blocks[2]
    img = X[idx].copy()
    half = len(idx) // 2
    img[:half] = np.clip(img[:half] + rng.normal(0, 0.5, img[:half].shape), 0, 1)
    img[half:] = 1.0 - img[half:]
    corr = {"image": img.astype(np.float32), "text": [caption(d, TEST_TEMPLATES, rng) for d in y[idx]]}
    idx = blocks[3]
    off = {"image": X[idx], "text": [OFF_TOPIC[int(rng.integers(len(OFF_TOPIC)))] for _ in idx]}
    return train, {"mismatched": mism, "corrupted": corr, "off-topic": off}, normal


def _concat(*recs) -> dict:
    return {"image": np.concatenate([r["image"] for r in recs]), "text": [t for r in recs for t in r["text"]]}


def _make(spec: str, seed: int, image_size: int):
    from ..detectors import make_detector

    if spec.startswith("diffusion[") and spec.endswith("]"):
        return make_detector("mm-late", random_state=seed, image_size=image_size), spec[len("diffusion["):-1]
    det = make_detector(spec, random_state=seed, image_size=image_size)
    if getattr(det, "modality", None) != MODALITY:
        raise ValueError(f"{spec!r} is not a multimodal detector (nor diffusion[image] / diffusion[text])")
    return det, None


def _only(rec: dict, modality: str | None) -> dict:
    return rec if modality is None else {modality: rec[modality]}


def _fit_score(spec: str, seed: int, image_size: int, train: dict, test: dict, strategy: str | None = None):
    """``(test scores, fit seconds, score seconds)`` of one detector spec."""
    det, only = _make(spec, seed, image_size)
    if spec == DEFAULT and strategy:
        det.set_params(strategy=strategy)
    t0 = time.perf_counter()
    det.fit(_only(train, only))
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores = det.predict_result(_only(test, only)).score
    return scores, fit_s, time.perf_counter() - t0


def select_strategy(train: dict, seed: int = 0, image_size: int = 32, candidates=CANDIDATES,
                    params: dict | None = None) -> list[dict]:
    """Label-free choice of the ``multimodal`` strategy: fit on 80% of the training pairs, score the
    other 20% (normal) against synthetic anomalies made of them: captions shuffled among them
    (mismatches) and images with Gaussian noise (sd 0.5) under their own captions. Rows of
    ``{strategy, auroc_shuffled, auroc_noised, mean}``, best first. ``params``: other settings of
    the ``multimodal`` detector, the same for every candidate (e.g. ``{"max_steps": 1500}``)."""
    from ..detectors import make_detector

    rng = np.random.default_rng(1000 + seed)
    n = len(train["text"])
    perm = rng.permutation(n)
    k = n // 5
    ho, fit = perm[:k], perm[k:]
    fit_rec = {"image": train["image"][fit], "text": [train["text"][i] for i in fit]}
    held = {"image": train["image"][ho], "text": [train["text"][i] for i in ho]}
    shuffled = {"image": held["image"], "text": [held["text"][i] for i in rng.permutation(k)]}
    noised = {"image": np.clip(held["image"] + rng.normal(0, 0.5, held["image"].shape), 0, 1).astype(np.float32),
              "text": held["text"]}
    rows = []
    for strategy in candidates:
        det = make_detector("multimodal", strategy=strategy, random_state=seed, image_size=image_size,
                            **(params or {})).fit(fit_rec)
        s0 = det.decision_function(held)
        row = {"strategy": strategy}
        for name, rec in (("shuffled", shuffled), ("noised", noised)):
            s1 = det.decision_function(rec)
            row[f"auroc_{name}"] = round(100 * auroc(np.r_[np.zeros(k), np.ones(k)], np.r_[s0, s1]), 2)
        row["mean"] = round((row["auroc_shuffled"] + row["auroc_noised"]) / 2, 2)
        rows.append(row)
    return sorted(rows, key=lambda r: -r["mean"])


def run_multimodal(suite: str, data, detectors: Iterable[str] | None = None, seeds: int = 1, n_train: int = 3000,
                   n_test: int = 1000, image_size: int = 32, out="benchmarks/results/multimodal.csv",
                   resume: bool = False, progress: bool = True, default_strategy: str | None = None) -> Path:
    """Fit each detector on the training pairs, score the normal and anomalous test records, per seed.
    ``default_strategy``: the strategy the spec ``multimodal`` runs with (the label-free selection's)."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; choose one of {', '.join(SUITES)}")
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    if suite == "ped2-motion":
        return _run_ped2(data, detectors, seeds, image_size, out, resume, progress)
    specs = list(detectors or DEFAULT_DETECTORS)
    bar = _bar(seeds * len(specs), progress)
    with open_results(out, COLUMNS, resume, KEY) as (write, done):
        for seed in range(seeds):
            train, anomalies, normal = load_digits_captions(data, n_train, n_test, seed)
            test = _concat(normal, *anomalies.values())
            n_all = len(test["text"])
            for spec in specs:
                bar.set_postfix_str(f"seed {seed} {spec}"[:60])
                if all((t, spec, seed) in done for t in (*TYPES, "pooled")):
                    bar.update(1)
                    continue
                scores, fit_s, score_s = _fit_score(spec, seed, image_size, train, test, default_strategy)
                s_norm = scores[:n_test]
                offsets = {t: (n_test * (i + 1), n_test * (i + 2)) for i, t in enumerate(TYPES)}
                groups = {t: scores[a:b] for t, (a, b) in offsets.items()}
                groups["pooled"] = scores[n_test:]
                for t, s_anom in groups.items():
                    yy = np.r_[np.zeros(len(s_norm)), np.ones(len(s_anom))]
                    ss = np.r_[s_norm, s_anom]
                    write({"suite": suite, "dataset": t, "detector": spec, "seed": seed,
                           "auroc": round(100 * auroc(yy, ss), 2), "auprc": round(100 * auprc(yy, ss), 2),
                           "fit_s": round(fit_s, 2), "score_s": round(score_s, 2),
                           "records_per_s": round(n_all / score_s, 1), "n_train": n_train, "n_test": len(ss)})
                bar.update(1)
    bar.close()
    return Path(out)


def summarize_multimodal(csv_path, md_path, command: str = "", selection: list[dict] | None = None,
                         machine: str = "") -> str:
    """Markdown: mean AUROC (AUPRC) per detector and anomaly type over seeds, speed, the selection."""
    import pandas as pd

    df = pd.read_csv(csv_path)
    suite = str(df["suite"].iloc[0]) if len(df) else "digits-captions"
    lines = [f"# Multimodal benchmark: {suite}", ""]
    if command:
        lines += [f"Command: `{command}`", ""]
    if machine:
        lines += [f"Machine: {machine}", ""]
    seeds = sorted(df["seed"].unique())
    what = ("each anomaly type against the same normal (matching) test pairs" if suite == "digits-captions" else
            "test frames pooled (frame labels), the first frame of each clip left out (no motion)")
    lines += [f"Seeds: {len(seeds)}. AUROC (AUPRC) in points, mean over seeds; {what}.", ""]
    types = [t for t in (*TYPES, "pooled", "ped2") if t in set(df["dataset"])]
    lines.append("| detector | " + " | ".join(types) + " | fit s | records/s |")
    lines.append("|---" * (len(types) + 3) + "|")
    for det, g in df.groupby("detector", sort=False):
        cells = []
        for t in types:
            h = g[g["dataset"] == t]
            cells.append(f"{h['auroc'].mean():.2f} ({h['auprc'].mean():.2f})" if len(h) else "")
        lines.append(f"| {det} | " + " | ".join(cells) + f" | {g['fit_s'].mean():.1f} | {g['records_per_s'].mean():.0f} |")
    if selection:
        lines += ["", "### Label-free selection of the `multimodal` default", "",
                  "Fitted on 80% of the training pairs; normal = the other 20%; synthetic anomalies: their captions "
                  "shuffled among them, their images noised (sd 0.5). No test label is used.", "",
                  "| strategy | AUROC shuffled | AUROC noised | mean |", "|---|---|---|---|"]
        for r in selection:
            lines.append(f"| {r['strategy']} | {r['auroc_shuffled']:.2f} | {r['auroc_noised']:.2f} | {r['mean']:.2f} |")
        lines += ["", f"Selected: `{selection[0]['strategy']}`."]
    text = "\n".join(lines) + "\n"
    Path(md_path).write_text(text)
    return text


PED2_DETECTORS = ["mm-cross", "mm-late", "mm-early", "multimodal", "diffusion[appearance]", "diffusion[motion]"]


def motion_vectors(frames: np.ndarray, grid=(6, 9)) -> np.ndarray:
    """``(T - 1, 2 * g1 * g2)``: the mean and the max absolute frame difference over a coarse grid."""
    import torch

    d = torch.from_numpy(np.abs(np.diff(frames[..., 0], axis=0)).astype(np.float32))[:, None]
    mean = torch.nn.functional.adaptive_avg_pool2d(d, grid).flatten(1)
    peak = torch.nn.functional.adaptive_max_pool2d(d, grid).flatten(1)
    return torch.cat([mean, peak], 1).numpy().astype(np.float64)


def load_ped2_motion(data, size=(60, 90)):
    """UCSD Ped2 frames as records of two modalities: ``appearance`` (the frame) and ``motion`` (the
    grid of its absolute difference to the previous frame). The first frame of each clip has no
    motion and is left out. ``(train records, test records, test frame labels)``."""
    from ..data.video import load_ped2

    train, test = load_ped2(data, size=size)

    def records(clips):
        return {"appearance": np.concatenate([c.frames[1:] for c in clips]),
                "motion": np.concatenate([motion_vectors(c.frames) for c in clips])}

    return records(train), records(test), np.concatenate([c.labels[1:] for c in test])


def _run_ped2(data, detectors, seeds, image_size, out, resume, progress) -> Path:
    """Ped2 appearance + motion: fit on the training clips' frames, pooled frame AUROC on the test clips."""
    specs = list(detectors or PED2_DETECTORS)
    train, test, y = load_ped2_motion(data)
    bar = _bar(seeds * len(specs), progress)
    with open_results(out, COLUMNS, resume, KEY) as (write, done):
        for seed in range(seeds):
            for spec in specs:
                bar.set_postfix_str(f"seed {seed} {spec}"[:60])
                if ("ped2", spec, seed) in done:
                    bar.update(1)
                    continue
                scores, fit_s, score_s = _fit_score(spec, seed, image_size, train, test)
                write({"suite": "ped2-motion", "dataset": "ped2", "detector": spec, "seed": seed,
                       "auroc": round(100 * auroc(y, scores), 2), "auprc": round(100 * auprc(y, scores), 2),
                       "fit_s": round(fit_s, 2), "score_s": round(score_s, 2),
                       "records_per_s": round(len(y) / score_s, 1), "n_train": len(train["motion"]),
                       "n_test": len(y)})
                bar.update(1)
    bar.close()
    return Path(out)
