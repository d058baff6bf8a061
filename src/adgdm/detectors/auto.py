"""``auto``: choose the detector per dataset from anomalies generated out of the user's own normal
data (issue 32).

No detector is best on every dataset (the ordering of ``diffusion``, ``dte-np`` and PyOD's KNN
flips from one table to the next), and a user has no labels to tell. What adgdm can do without
labels is generate anomalies. ``fit``:

1. splits the normal units: a fit part (``1 - holdout``) and an evaluation part;
2. fits every candidate on the fit part;
3. per anomaly kind of the modality, generates anomalies out of the evaluation part and scores
   them and the clean evaluation units with every candidate: one AUROC per candidate and kind;
4. adds a fused candidate: the sum of the robust z-scores (against the clean evaluation units)
   of the ``fuse_top`` best candidates;
5. chooses by the rule below and refits the choice on all the normal data.

Rule (fixed before any benchmark ran): the candidate with the smallest **mean regret** over
kinds, the regret of a candidate on a kind being the best AUROC on that kind minus its own; a
candidate within 0.005 of the smallest is preferred if it comes earlier in ``candidates`` (the
modality's default first), and the fused one only if it beats every single candidate by 0.005.
With fewer than ``min_units`` normal units there is nothing to split: the first candidate is
fitted, with an :class:`AutoFallbackWarning`.

``selection_`` holds the table (AUROC per candidate and kind, mean regret, the choice and why);
:meth:`selection_table` prints it; the model card keeps it.
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import roc_auc_score

from .._params import store_params
from .._progress import iterate
from .._torch import seed_of
from ..scores.fusion import RobustZ
from .base import BaseDetector, Fitted, nested_state, restore_nested

__all__ = ["AutoBase", "AutoFallbackWarning", "choose"]

TIE = 0.005


class AutoFallbackWarning(UserWarning):
    """``auto`` had too little normal data to choose and fitted the modality's default."""


def choose(table: dict, order: list[str], fused: str | None = None) -> tuple[str, dict]:
    """The rule: ``table`` maps candidate -> {kind: AUROC}. Returns the choice and each
    candidate's mean regret.

    Example
    -------
    >>> t = {"a": {"k1": 0.9, "k2": 0.8}, "b": {"k1": 0.7, "k2": 0.99}}
    >>> choose(t, ["a", "b"])[0], {k: round(v, 3) for k, v in choose(t, ["a", "b"])[1].items()}
    ('b', {'a': 0.095, 'b': 0.1})
    """
    kinds = sorted({k for row in table.values() for k in row})
    best = {k: max(table[c].get(k, -np.inf) for c in table) for k in kinds}
    regret = {c: float(np.mean([best[k] - table[c].get(k, 0.5) for k in kinds])) for c in table}
    singles = [c for c in order if c in table]
    low = min(regret[c] for c in singles)
    pick = next(c for c in singles if regret[c] <= low + TIE)
    if fused is not None and fused in table and regret[fused] < low - TIE:
        pick = fused
    return pick, regret


class AutoBase(BaseDetector):
    """Shared by the modalities' ``auto`` detectors (module docstring). A subclass gives
    ``default_candidates``, ``kinds_all``, ``_n_units``, ``_take``, ``_anomalies`` and
    ``_fuse_spec``.

    Parameters: ``candidates`` (detector specs joined by ``+``; None: the modality's list, its
    default first), ``kinds`` (anomaly kinds joined by ``+``; None: all of the modality's),
    ``holdout`` (share of normal units the anomalies are made from), ``fuse_top`` (how many of the
    best candidates the fused candidate adds up; 0: none), ``n_anomalies`` (per kind),
    ``min_units``, ``contamination``, ``random_state``.
    """

    default_candidates: tuple[str, ...] = ()
    kinds_all: tuple[str, ...] = ()
    training_scores = "held-out"

    def __init__(self, candidates=None, kinds=None, holdout: float = 0.3, fuse_top: int = 2,
                 n_anomalies: int = 200, min_units: int = 50, contamination: float = 0.1, random_state=None):
        store_params(self, locals())

    # --- the modality's part -----------------------------------------------------------------------
    def _n_units(self, data) -> int:
        return len(data)

    def _take(self, data, idx):
        return data[idx]

    def _too_few(self, data) -> str | None:
        """Why ``data`` is too small to choose on (None: it is not): fewer than ``min_units`` units."""
        n = self._n_units(data)
        return f"{n} normal units are fewer than min_units={self.min_units}" if n < int(self.min_units) else None

    def _split(self, data, rng):
        """``(fit part, evaluation part)``: a random ``holdout`` share of the units held out."""
        n = self._n_units(data)
        perm = rng.permutation(n)
        k = max(1, int(round(float(self.holdout) * n)))
        return self._take(data, np.sort(perm[k:])), self._take(data, np.sort(perm[:k]))

    def _eval_scores(self, det, fit_part, X) -> np.ndarray:
        """Scores of the evaluation units ``X`` by the candidate ``det`` (fitted on ``fit_part``)."""
        return det.decision_function(X)

    def _anomalies(self, ref, base, kind: str, n: int, rng):
        """``n`` anomalies of ``kind`` made out of the units ``base`` (``ref``: the fit part, the
        reference of model-free kinds)."""
        raise NotImplementedError

    def _evaluation(self, clean, anomalies):
        """The units to score and their labels (clean units 0, anomalies 1)."""
        return np.concatenate([clean, anomalies]), np.r_[np.zeros(len(clean)), np.ones(len(anomalies))]

    def _fuse_spec(self, parts: list[str]) -> str | None:
        """The detector spec of the fusion of ``parts`` (None: the modality has no fused detector)."""
        return None

    def _judge(self, spec: str, det, X_eval, y: np.ndarray, kind: str, fit_part=None) -> np.ndarray:
        """Scores of the evaluation units by the candidate ``det`` (a modality may measure more on
        the way, e.g. the anomaly maps of images against the defects' masks)."""
        return self._eval_scores(det, fit_part, X_eval)

    # --- checks --------------------------------------------------------------------------------------
    def candidate_specs(self) -> list[str]:
        """The candidates' specs. Inside a spec string (``--detector 'auto:candidates=...'``) a
        candidate's own options are joined by ``&``, as a ``,`` would end ``candidates``."""
        specs = list(self.default_candidates) if self.candidates is None else \
            [s.strip() for s in (self.candidates.split("+") if isinstance(self.candidates, str) else self.candidates)]
        return [s.replace("&", ",") for s in specs if s]

    def kind_names(self) -> list[str]:
        kinds = list(self.kinds_all) if self.kinds is None else \
            [k.strip() for k in (self.kinds.split("+") if isinstance(self.kinds, str) else self.kinds)]
        return [k for k in kinds if k]

    def _check_params(self) -> None:
        super()._check_params()
        from .registry import detector_class, parse_spec

        specs = self.candidate_specs()
        if not specs:
            raise ValueError("candidates must name at least one detector spec (joined by '+')")
        for s in specs:
            cls = detector_class(parse_spec(s)[0])
            if getattr(cls, "modality", None) != self.modality:
                raise ValueError(f"candidate {s!r} is a {cls.modality} detector; {self.name} chooses among "
                                 f"{self.modality} detectors")
        bad = [k for k in self.kind_names() if k not in self.kinds_all]
        if bad or not self.kind_names():
            raise ValueError(f"unknown anomaly kind(s) {bad}; {self.name} generates {', '.join(self.kinds_all)}")
        if not 0.05 <= float(self.holdout) <= 0.7:
            raise ValueError(f"holdout must lie in [0.05, 0.7], got {self.holdout}")
        if int(self.fuse_top) < 0 or int(self.n_anomalies) < 10 or int(self.min_units) < 10:
            raise ValueError("fuse_top must be >= 0, n_anomalies >= 10 and min_units >= 10")

    # --- fit -----------------------------------------------------------------------------------------
    def _make(self, spec: str, seed: int):
        from .registry import make_detector

        return make_detector(spec, random_state=seed, contamination=float(self.contamination))

    def _fit(self, data):
        seed = seed_of(self.random_state)
        rng = np.random.default_rng(seed)
        specs = self.candidate_specs()
        short = self._too_few(data)
        if short:
            warnings.warn(f"auto: {short}, too few to split and judge candidates on generated anomalies; "
                          f"fitted the default {specs[0]!r}", AutoFallbackWarning, stacklevel=4)
            self.selection_ = {"choice": specs[0], "why": f"fallback: {short}", "table": {}, "regret": {}}
            return self._refit(specs[0], data, seed)
        fit_part, held = self._split(data, rng)
        dets, failed = {}, {}
        for s in iterate(specs, "auto: fitting candidates", len(specs)):
            try:
                dets[s] = self._make(s, seed).fit(fit_part)
            except ValueError as e:  # e.g. a window longer than the fit part: not a candidate here
                failed[s] = f"{type(e).__name__}: {e}"[:200]
        if not dets:
            raise ValueError(f"auto: no candidate could be fitted on the fit part: {failed}")
        specs = [s for s in specs if s in dets]
        table: dict = {s: {} for s in specs}
        fused_scores: dict = {}
        skipped = {}
        for kind in self.kind_names():
            try:
                anomalies = self._anomalies(fit_part, held, kind, int(self.n_anomalies), rng)
            except ValueError as e:  # a kind this data cannot give (e.g. no room outside it)
                skipped[kind] = str(e)
                continue
            X_eval, y = self._evaluation(held, anomalies)
            for s, d in dets.items():
                sc = self._judge(s, d, X_eval, y, kind, fit_part)
                table[s][kind] = float(roc_auc_score(y, np.nan_to_num(sc, nan=0.0, posinf=1e300, neginf=-1e300)))
                fused_scores.setdefault(kind, (y, {}))[1][s] = sc
        if not any(table[s] for s in specs):
            raise ValueError(f"auto could not generate any anomaly kind ({', '.join(self.kind_names())}) from this data")
        order = list(specs)
        fused = None
        if int(self.fuse_top) >= 2 and len(specs) >= 2:
            _, regret = choose(table, order)
            top = sorted(specs, key=lambda s: (regret[s], specs.index(s)))[: int(self.fuse_top)]
            fused = self._fuse_spec(top)
        if fused is not None:
            clean = {s: self._eval_scores(dets[s], fit_part, held) for s in top}
            z = {s: RobustZ.fit(clean[s], std_fallback=True) for s in top}
            table[fused] = {kind: float(roc_auc_score(y, sum(z[s](sc[s]) for s in top)))
                            for kind, (y, sc) in fused_scores.items()}
        choice, regret = choose(table, order, fused)
        self.selection_ = {"choice": choice, "table": table, "regret": regret,
                           "why": f"smallest mean regret over {len(fused_scores)} generated kinds", "skipped": skipped,
                           "failed": failed}
        return self._refit(choice, data, seed)

    def _refit(self, spec: str, data, seed: int):
        self.best_ = self._make(spec, seed).fit(data)
        self.chosen_ = spec
        return Fitted(self.best_.decision_scores_, None, getattr(self.best_, "calibration_scores_", None))

    # --- scoring -------------------------------------------------------------------------------------
    def _score(self, data) -> np.ndarray:
        return self.best_.decision_function(data)

    def selection_table(self) -> str:
        """The candidates' AUROC per generated kind and mean regret, as a small text table."""
        sel = getattr(self, "selection_", None) or {}
        table = sel.get("table") or {}
        if not table:
            return f"auto chose {sel.get('choice')}: {sel.get('why')}"
        kinds = sorted({k for row in table.values() for k in row})
        w = max(len(s) for s in table) + 2
        head = "candidate".ljust(w) + "".join(k[:10].rjust(11) for k in kinds) + "  regret"
        lines = [head]
        order = [s for s in self.candidate_specs() if s in table]  # a saved table's keys come back sorted
        for s in order + [s for s in table if s not in order]:
            row = table[s]
            mark = " <- chosen" if s == sel["choice"] else ""
            lines.append(s.ljust(w) + "".join(f"{row.get(k, float('nan')):11.3f}" for k in kinds)
                         + f"  {sel['regret'][s]:6.3f}{mark}")
        return "\n".join(lines)

    # --- persistence ---------------------------------------------------------------------------------
    def _get_state(self):
        meta, arrays = nested_state(self.best_, "best")
        return {"chosen_": self.chosen_, "selection_": self.selection_, "best": meta,
                "best_params": self.best_.get_params()}, arrays

    def _set_state(self, meta, arrays):
        from .registry import detector_class, parse_spec

        self.chosen_, self.selection_ = str(meta["chosen_"]), dict(meta["selection_"])
        cls = detector_class(parse_spec(self.chosen_)[0])
        self.best_ = restore_nested(cls, dict(meta["best_params"]), meta["best"], arrays, "best")
