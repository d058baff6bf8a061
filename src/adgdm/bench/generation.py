"""``adgdm bench generation``: fidelity of generated normals and the detection-generation cycle on
ADBench-style tables, with the semi-supervised protocol.

Per dataset and seed: split first (a random half of the normal rows train; the rest and the
anomalies test), then draw ``max(shots)`` anomalies out of the test part as the labelled pool
(k-shot uses its first k; the pool never returns to the test set, so every row of one seed is
scored on the same test rows). Standardise with the training normals. Rows:

* ``tabddpm-sample`` (``generator="tabddpm"``): the mixed-type ``tabddpm`` generator (its
  defaults: Gaussian numeric columns, EMA weights), fitted on the raw training rows,
  its samples standardised like the rest; ``kept`` holds its number of categorical columns;
* ``ddpm-sample``: the ``ddpm`` generator's samples (its default sampler, the full ancestral chain)
  vs the held-out test normals: ``c2st_auc``, ``mmd``, ``density``, ``coverage``, ``dcr_ratio``
  (no detection columns); ``ddim50-sample``: the same generator with 50 DDIM steps;
* ``diffusion`` (shots 0), ``cycle`` (every shot count), ``supervised`` (a gradient-boosted
  classifier on the training normals and the k real anomalies) and ``xgbod`` (PyOD's XGBOD,
  semi-supervised, same k; its unsupervised TOS detectors are KNN, LOF, IForest and HBOS): test
  AUROC/AUPRC.

Classifiers see at most ``max_classifier_rows`` normal rows (a random subset), as ``cycle`` does.
Shot counts larger than half a dataset's anomalies are skipped for that dataset.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable

import numpy as np

from ..data import load_npz, semi_supervised_split, standardize
from ..metrics import auprc, auroc
from ._results import open_results
from .tabular import _bar, select_datasets

COLUMNS = ["suite", "dataset", "detector", "shots", "seed", "auroc", "auprc", "c2st_auc", "mmd", "density",
           "coverage", "dcr_ratio", "kept", "generated", "fit_s", "score_s", "n_train", "n_test", "d"]
MAX_CLASSIFIER_ROWS = 10_000
KEY = ("dataset", "detector", "shots", "seed")  # what a resumed run skips
# fidelity rows: the default sampler (the full ancestral DDPM chain) and the fast one it replaced
SAMPLERS = (("ddpm-sample", {}), ("ddim50-sample", {"sampler": "ddim", "steps": 50}))


def _cap(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return X if len(X) <= MAX_CLASSIFIER_ROWS else X[rng.choice(len(X), MAX_CLASSIFIER_ROWS, replace=False)]


def _supervised(Xn, Xa, seed):
    from sklearn.ensemble import HistGradientBoostingClassifier

    X = np.vstack([Xn, Xa])
    y = np.r_[np.zeros(len(Xn)), np.ones(len(Xa))]
    w = np.where(y == 1, len(Xn) / max(1, len(Xa)), 1.0)  # classes balanced
    clf = HistGradientBoostingClassifier(max_iter=200, l2_regularization=1.0, random_state=seed).fit(X, y, sample_weight=w)
    return lambda Z: clf.predict_proba(Z)[:, 1]


def _xgbod(Xn, Xa, seed):
    from pyod.models.hbos import HBOS
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN
    from pyod.models.lof import LOF
    from pyod.models.xgbod import XGBOD

    tos = [KNN(n_neighbors=k) for k in (5, 10, 20)] + [LOF(n_neighbors=k) for k in (10, 20)] + \
          [IForest(random_state=seed), HBOS()]
    det = XGBOD(estimator_list=tos, random_state=seed, n_jobs=1)
    det.fit(np.vstack([Xn, Xa]), np.r_[np.zeros(len(Xn)), np.ones(len(Xa))])
    return det.decision_function


def _tabddpm_fidelity(X_raw_tr, X_raw_te_normal, mu, sd, ref, held, seed, emit, generator_steps):
    """The ``tabddpm`` generator, fitted on the raw training rows (its integer columns with few
    levels are categorical; standardising would hide them), sampled with the full ancestral
    chain, its samples put in the training rows' standard units like the other rows."""
    from ..detectors import TabDDPMDetector
    from ..metrics.fidelity import fidelity_report

    t0 = time.perf_counter()
    # one noise level and draw for the training scores the contract computes (not used here)
    gen = TabDDPMDetector(max_steps=generator_steps, noise_levels=(0.1,), n_repeats=1, random_state=seed).fit(X_raw_tr)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    S = gen.sample(min(len(held), 2000), random_state=seed)
    sample_s = time.perf_counter() - t0
    rep = fidelity_report(ref, held, (S - mu) / sd, random_state=seed)
    emit("tabddpm-sample", 0, fit_s=round(fit_s, 3), score_s=round(sample_s, 3),
         kept=sum(k == "categorical" for k in gen.kinds_), **{k: round(float(v), 4) for k, v in rep.items()})


def run_generation(data_dir, datasets: Iterable[str] | None = None, seeds: int = 3, shots=(0, 5, 20),
                   out="benchmarks/results/generation.csv", resume: bool = False, progress: bool = True,
                   generator_steps: int = 1500, suite: str = "adbench", generator: str = "ddpm",
                   fidelity_only: bool = False, tabddpm_steps: int = 2000) -> Path:
    """Run the generation protocol (module docstring) and append long-format rows to ``out``.

    ``generator="tabddpm"`` adds ``tabddpm-sample`` fidelity rows (the mixed-type model; its
    ``kept`` column holds how many columns it treated as categorical) and ``"both"`` runs both
    generators' fidelity rows; ``fidelity_only`` skips the detection rows (``diffusion``,
    ``cycle``, ``supervised``, ``xgbod``)."""
    from ..detectors import CycleDetector, DiffusionDetector
    from ..detectors.tabular.cycle import make_generator
    from ..metrics.fidelity import fidelity_report

    if generator not in ("ddpm", "tabddpm", "both"):
        raise ValueError(f"generator must be ddpm, tabddpm or both, got {generator!r}")
    samplers = SAMPLERS if generator in ("ddpm", "both") else ()
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    shots = sorted({int(k) for k in shots})
    if not shots or shots[0] < 0:
        raise ValueError(f"shots must be counts >= 0, got {shots}")
    files, names = select_datasets(data_dir, datasets)
    out = Path(out)
    bar = _bar(len(names) * seeds, progress)
    with open_results(out, COLUMNS, resume, KEY) as (write, done):
        for name in names:
            X, y = load_npz(files[name])
            for seed in range(seeds):
                bar.set_postfix_str(f"{name} seed {seed}"[:60])
                rng = np.random.default_rng(10_000 + seed)
                tr, te = semi_supervised_split(y, seed)
                anom = te[y[te] == 1]
                ok = [k for k in shots if k == 0 or 2 * k <= len(anom)]
                pool = rng.choice(anom, max(ok), replace=False) if max(ok) else np.zeros(0, dtype=int)
                te = np.setdiff1d(te, pool)
                X_tr, X_te, X_pool = standardize(X[tr], X[te], X[pool])
                y_te = y[te]
                if fidelity_only:
                    ok = []
                base_info = {"suite": suite, "dataset": name, "seed": seed, "n_train": len(tr), "n_test": len(te),
                             "d": X.shape[1]}

                def emit(det_name, k, **vals):
                    write(base_info | {"detector": det_name, "shots": k} | vals)

                def todo(det_name, k):
                    return (name, det_name, k, seed) not in done

                need_cycle = any(todo("cycle", k) for k in ok)
                base = gen = None
                base_fit = gen_fit = 0.0
                if generator in ("tabddpm", "both") and todo("tabddpm-sample", 0):
                    mu, sd = X[tr].mean(axis=0), X[tr].std(axis=0)
                    sd = np.where(sd > 1e-12, sd, 1.0)
                    held = X_te[y_te == 0]
                    _tabddpm_fidelity(X[tr], None, mu, sd, _cap(X_tr, np.random.default_rng(20_000 + seed)), held,
                                      seed, emit, tabddpm_steps)
                if (need_cycle or todo("diffusion", 0)) and not fidelity_only:
                    t0 = time.perf_counter()
                    base = DiffusionDetector().fit(X_tr)
                    base_fit = time.perf_counter() - t0
                    if todo("diffusion", 0):
                        t0 = time.perf_counter()
                        s = base.decision_function(X_te)
                        emit("diffusion", 0, auroc=_pts(auroc(y_te, s)), auprc=_pts(auprc(y_te, s)),
                             fit_s=round(base_fit, 3), score_s=round(time.perf_counter() - t0, 3))
                if need_cycle or any(todo(name, 0) for name, _ in samplers):
                    t0 = time.perf_counter()
                    gen = make_generator(generator_steps, 128, seed).fit(X_tr)
                    gen_fit = time.perf_counter() - t0
                    held = X_te[y_te == 0]
                    ref = _cap(X_tr, rng) if any(todo(name, 0) for name, _ in samplers) else None
                    for det_name, kw in samplers:
                        if todo(det_name, 0):
                            t0 = time.perf_counter()
                            S = gen.sample(min(len(held), 2000), random_state=seed, **kw)
                            sample_s = time.perf_counter() - t0
                            rep = fidelity_report(ref, held, S, random_state=seed)
                            emit(det_name, 0, fit_s=round(gen_fit, 3), score_s=round(sample_s, 3),
                                 **{k: round(float(v), 4) for k, v in rep.items()})
                zero = None  # the zero-shot cycle lends its generic stage to the k-shot ones
                zero_fit = 0.0
                for k in ok:
                    Xa = X_pool[:k]
                    if todo("cycle", k):
                        if zero is None:
                            t0 = time.perf_counter()
                            zero = CycleDetector(random_state=seed, generator_steps=generator_steps)
                            zero.fit_reusing(X_tr, base=base, generator=gen)
                            zero_fit = time.perf_counter() - t0
                        t0 = time.perf_counter()
                        det = zero if k == 0 else CycleDetector(random_state=seed, generator_steps=generator_steps).fit_reusing(
                            np.vstack([X_tr, Xa]), np.r_[np.zeros(len(X_tr)), np.ones(k)], reuse=zero)
                        # each row's fit time counts everything its detector needed
                        fit_s = (time.perf_counter() - t0 if k else 0.0) + zero_fit + base_fit + gen_fit
                        t0 = time.perf_counter()
                        s = det.decision_function(X_te)
                        rep = det.generation_report_
                        emit("cycle", k, auroc=_pts(auroc(y_te, s)), auprc=_pts(auprc(y_te, s)), fit_s=round(fit_s, 3),
                             score_s=round(time.perf_counter() - t0, 3), kept=sum(r["kept"] for r in rep),
                             generated=sum(r["generated"] for r in rep))
                    if k == 0:
                        continue
                    for det_name, make in (("supervised", _supervised), ("xgbod", _xgbod)):
                        if todo(det_name, k):
                            t0 = time.perf_counter()
                            fn = make(_cap(X_tr, rng), Xa, seed)
                            fit_s = time.perf_counter() - t0
                            t0 = time.perf_counter()
                            s = fn(X_te)
                            emit(det_name, k, auroc=_pts(auroc(y_te, s)), auprc=_pts(auprc(y_te, s)),
                                 fit_s=round(fit_s, 3), score_s=round(time.perf_counter() - t0, 3))
                bar.update(1)
    bar.close()
    return out


def _pts(v: float) -> float:
    return round(100 * float(v), 3)


# ------------------------------------------------------------------------------------------------
# NSL-KDD: a mixed table (text columns protocol_type, service, flag)
# ------------------------------------------------------------------------------------------------
NSL_NOT_FEATURES = ("attack", "difficulty")


def nsl_halves(normal, seed: int):
    """NSL-KDD's fidelity split of the normal rows for ``seed``: ``(train, held, encode, E_train,
    E_held, reference)``: two random halves, the encoder fitted on ``train`` and both halves through
    it, and the capped training rows a C2ST compares against."""
    perm = np.random.default_rng(seed).permutation(len(normal))
    half = len(normal) // 2
    train, held = normal.iloc[np.sort(perm[:half])], normal.iloc[np.sort(perm[half:])]
    encode = _nsl_encoder(train)
    E_tr, E_held = encode(train), encode(held)
    return train, held, encode, E_tr, E_held, _cap(E_tr, np.random.default_rng(20_000 + seed))


def _nsl_encoder(train):
    """Numbers standardised with the training rows, text columns one-hot over the training
    categories (an unseen one: all zeros): the space the fidelity metrics (and ``ddpm``) see."""
    import pandas as pd

    cats = [c for c in train.columns if not pd.api.types.is_numeric_dtype(train[c].dtype)]
    nums = [c for c in train.columns if c not in cats]
    mu, sd = train[nums].mean(), train[nums].std(ddof=0)
    sd = sd.where(sd > 1e-12, 1.0)
    levels = {c: sorted(train[c].astype(str).unique()) for c in cats}

    def encode(df) -> np.ndarray:
        blocks = [((df[nums].astype(float) - mu) / sd).to_numpy()]
        for c in cats:
            blocks.append((df[c].astype(str).to_numpy()[:, None] == np.array(levels[c])[None, :]).astype(float))
        return np.hstack(blocks)

    return encode


def run_generation_nslkdd(data_dir, seeds: int = 1, out="benchmarks/results/generation_tabddpm_nslkdd.csv",
                          resume: bool = False, progress: bool = True, generator: str = "both",
                          generator_steps: int = 1500, tabddpm_steps: int = 2000) -> Path:
    """Fidelity on NSL-KDD's normal connections (``KDDTrain+.csv`` rows with ``attack == normal``;
    ``attack`` and ``difficulty`` are not features): per seed a random half trains the generator,
    the other half is the held-out reference. Rows in the one-hot / standardised space of
    :func:`_nsl_encoder`: ``tabddpm-sample`` fits the raw table (text columns categorical),
    ``ddpm-sample`` fits the encoded matrix (its one-hot columns snapped to 0/1 after sampling)."""
    import pandas as pd

    from ..detectors import TabDDPMDetector
    from ..detectors.tabular.cycle import make_generator
    from ..metrics.fidelity import fidelity_report

    if generator not in ("ddpm", "tabddpm", "both"):
        raise ValueError(f"generator must be ddpm, tabddpm or both, got {generator!r}")
    path = Path(data_dir) / "KDDTrain+.csv"
    if not path.is_file():
        raise ValueError(f"no KDDTrain+.csv in {str(data_dir)!r} (NSL-KDD's folder)")
    df = pd.read_csv(path)
    normal = df[df["attack"] == "normal"].drop(columns=list(NSL_NOT_FEATURES)).reset_index(drop=True)
    out = Path(out)
    with open_results(out, COLUMNS, resume, KEY) as (write, done):
        for seed in range(seeds):
            train, held, encode, E_tr, E_held, ref = nsl_halves(normal, seed)
            n = min(len(held), 2000)
            info = {"suite": "nsl-kdd", "dataset": "nsl-kdd", "seed": seed, "shots": 0, "n_train": len(train),
                    "n_test": len(held), "d": normal.shape[1]}
            runs = []
            if generator in ("tabddpm", "both"):
                runs.append(("tabddpm-sample", lambda: TabDDPMDetector(max_steps=tabddpm_steps, noise_levels=(0.1,),
                                                                        n_repeats=1, random_state=seed).fit(train),
                             lambda g: encode(g.sample(n, random_state=seed))))
            if generator in ("ddpm", "both"):
                runs.append(("ddpm-sample", lambda: make_generator(generator_steps, 128, seed).fit(E_tr),
                             lambda g: g.sample(n, random_state=seed)))
            for name, fit, draw in runs:
                if ("nsl-kdd", name, 0, seed) in done:
                    continue
                t0 = time.perf_counter()
                gen = fit()
                fit_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                S = draw(gen)
                sample_s = time.perf_counter() - t0
                rep = fidelity_report(ref, E_held, S, random_state=seed)
                extra = {"kept": sum(k == "categorical" for k in gen.kinds_)} if name == "tabddpm-sample" else {}
                write(info | {"detector": name, "fit_s": round(fit_s, 3), "score_s": round(sample_s, 3)} | extra
                      | {k: round(float(v), 4) for k, v in rep.items()})
                if progress:
                    print(f"nsl-kdd seed {seed} {name}: C2ST {rep['c2st_auc']:.3f}", flush=True)
    return out
