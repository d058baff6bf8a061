"""``adgdm bench image``: image protocols with localisation.

* ``mtd``: MT_Free split with the seed (80% train, 20% test); every defect class is test only. One
  row per defect class: the free test images plus that class (image AUROC/AUPRC, pixel AUROC,
  AUPRO from the masks).
* ``mnist``: one-vs-rest, one digit normal: half of its images train, the other half and every
  other digit test. One row per digit (no pixel metrics).
* ``mvtec-emb``: ADBench's MVTec ResNet-18 embeddings, scored by tabular detectors with the
  semi-supervised split (half the normals train). One row per category.
* ``folder``: any MVTec-style folder (``train/good``, ``test/<type>``, optional ``ground_truth``).
  One row per defect type.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable

import numpy as np

from ..metrics import auprc, auroc
from ._results import open_results
from .tabular import _bar

MODALITY = "image"  # the modality this bench is about

COLUMNS = ["suite", "dataset", "detector", "seed", "auroc", "auprc", "pixel_auroc", "aupro", "best_f1", "fit_s",
           "score_s", "images_per_s", "n_train", "n_test", "size"]
SUITES = ("mtd", "mnist", "mvtec-emb", "folder")
KEY = ("dataset", "detector", "seed")  # what a resumed run skips
DEFAULT_DETECTORS = {"mtd": ["image", "image-patchknn"], "mnist": ["image", "image-patchknn"],
                     "mvtec-emb": ["diffusion", "pyod-knn", "pyod-iforest"], "folder": ["image", "image-patchknn"]}


def _jobs(suite: str, data, seed: int, size: int, datasets):
    """Yield ``(name, train_images, test_set_or_split, evaluate_groups)`` for one seed."""
    from ..data import images as im

    if suite == "mtd":
        tr, te = im.load_mtd(data, size=size, seed=seed)
        kinds = np.asarray(te.kinds)
        classes = [k for k in dict.fromkeys(kinds) if k != "good"]
        groups = {k: np.flatnonzero(np.isin(kinds, ["good", k])) for k in classes if not datasets or k in datasets}
        yield "mtd", tr.images, te, groups
    elif suite == "mnist":
        for digit in range(10):
            if datasets and str(digit) not in datasets:
                continue
            tr, te = im.load_mnist(data, digit, seed=seed)
            yield str(digit), tr.images, te, {str(digit): np.arange(len(te.labels))}
    elif suite == "folder":
        tr, te = im.load_image_folder(data, size=size)
        kinds = np.asarray(te.kinds)
        types = [k for k in dict.fromkeys(kinds) if k != "good"]
        groups = {k: np.flatnonzero(np.isin(kinds, ["good", k])) for k in types if not datasets or k in datasets}
        yield Path(data).name, tr.images, te, groups
    else:
        raise ValueError(f"unknown suite {suite!r}; choose one of {', '.join(SUITES)}")


def run_image(suite: str, data, datasets: Iterable[str] | None = None, detectors: Iterable[str] | None = None,
              seeds: int = 3, size: int = 128, out="benchmarks/results/image.csv", resume: bool = False,
              progress: bool = True, save_maps=None) -> Path:
    """Run ``detectors`` on ``suite`` for ``seeds`` seeds; long-format rows to ``out``."""
    from ..detectors import make_detector
    from ..metrics.images import aupro, best_f1, pixel_auroc

    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; choose one of {', '.join(SUITES)}")
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    specs = list(detectors or DEFAULT_DETECTORS[suite])
    datasets = list(datasets) if datasets else None
    out = Path(out)
    if suite == "mvtec-emb":
        return _run_embeddings(data, datasets, specs, seeds, out, resume, progress)
    bar = _bar(seeds * len(specs) * (10 if suite == "mnist" and not datasets else 1), progress)
    with open_results(out, COLUMNS, resume, KEY) as (write, done):
        for seed in range(seeds):
            for name, train, test, groups in _jobs(suite, data, seed, size, datasets):
                for spec in specs:
                    bar.set_postfix_str(f"{name} seed {seed} {spec}"[:60])
                    if all((g, spec, seed) in done for g in groups):
                        bar.update(1)
                        continue
                    det = make_detector(spec, random_state=seed)
                    if getattr(det, "modality", None) != MODALITY:
                        raise ValueError(f"{spec!r} is not an image detector; image detectors: "
                                         f"{', '.join(image_detectors())}")
                    t0 = time.perf_counter()
                    det.fit(train)
                    fit_s = time.perf_counter() - t0
                    t0 = time.perf_counter()
                    result = det.predict_result(test.images)  # one pass: the maps cost most of the time
                    scores, maps = result.score, result.anomaly_map
                    score_s = time.perf_counter() - t0
                    if save_maps is not None and seed == 0:
                        _save_overlays(Path(save_maps) / suite / spec, test, maps)
                    for g, idx in groups.items():
                        y = test.labels[idx]
                        row = {"suite": suite, "dataset": g, "detector": spec, "seed": seed, "size": train.shape[1],
                               "auroc": round(100 * auroc(y, scores[idx]), 3),
                               "auprc": round(100 * auprc(y, scores[idx]), 3),
                               "best_f1": round(best_f1(y, scores[idx]), 4), "fit_s": round(fit_s, 3),
                               "score_s": round(score_s, 3), "images_per_s": round(len(test.labels) / score_s, 2),
                               "n_train": len(train), "n_test": len(idx)}
                        if test.masks is not None:
                            row["pixel_auroc"] = round(100 * pixel_auroc(test.masks[idx], maps[idx]), 3)
                            row["aupro"] = round(100 * aupro(test.masks[idx], maps[idx]), 3)
                        write(row)
                    bar.update(1)
    bar.close()
    return out


def image_detectors() -> list[str]:
    from ..detectors import list_detectors

    return list_detectors("image")


def _run_embeddings(data, datasets, specs, seeds, out, resume, progress) -> Path:
    from ..data import list_npz, load_npz, semi_supervised_split, standardize
    from ..detectors import make_detector

    files = list_npz(data)
    names = datasets or sorted(files)
    missing = [n for n in names if n not in files]
    if missing:
        raise ValueError(f"datasets not found in {data}: {missing}; available: {', '.join(files)}")
    with open_results(out, COLUMNS, resume, KEY) as (write, done):
        for name in names:
            X, y = load_npz(files[name])
            for seed in range(seeds):
                tr, te = semi_supervised_split(y, seed)
                X_tr, X_te = standardize(X[tr], X[te])
                for spec in specs:
                    if (name, spec, seed) in done:
                        continue
                    det = make_detector(spec, random_state=seed)
                    t0 = time.perf_counter()
                    det.fit(X_tr)
                    fit_s = time.perf_counter() - t0
                    t0 = time.perf_counter()
                    s = det.decision_function(X_te)
                    score_s = time.perf_counter() - t0
                    write({"suite": "mvtec-emb", "dataset": name, "detector": spec, "seed": seed,
                                     "auroc": round(100 * auroc(y[te], s), 3), "auprc": round(100 * auprc(y[te], s), 3),
                                     "fit_s": round(fit_s, 3), "score_s": round(score_s, 3),
                                     "n_train": len(tr), "n_test": len(te)})
                if progress:
                    print(f"[mvtec-emb] {name} seed {seed} done", flush=True)
    return out


def _save_overlays(folder: Path, test, maps: np.ndarray, per_kind: int = 4) -> None:
    """PNG overlays (image in grey, map in red where high) for the first images of each kind."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    kinds = np.asarray(test.kinds)
    lo, hi = np.percentile(maps, [50, 99.9])
    for kind in dict.fromkeys(kinds):
        for i in np.flatnonzero(kinds == kind)[:per_kind]:
            img = test.images[i].mean(axis=-1)
            heat = np.clip((maps[i] - lo) / max(hi - lo, 1e-12), 0, 1)
            rgb = np.stack([img * (1 - heat) + heat, img * (1 - heat), img * (1 - heat)], axis=-1)
            Image.fromarray((255 * np.clip(rgb, 0, 1)).astype(np.uint8)).save(folder / f"{kind}_{test.names[i]}.png")
