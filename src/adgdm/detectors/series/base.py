"""What every adgdm series detector shares beyond the base contract: the trailing-mean smoothing,
rank-based probabilities (a series' scores are per step, so ranks among the training steps
read well) and the choice of alarm rule (``alarm="static"`` or ``"drift"``)."""
from __future__ import annotations

import numpy as np

from ...thresholds import DriftAlarm
from ..base import BaseDetector

ALARMS = ("static", "drift")


class SeriesBase(BaseDetector):
    """Base of the series detectors: ``fit(series)``, ``decision_function(series)`` -> ``(T,)``."""

    modality = "series"
    _proba_method = "rank"

    # --- the alarm rule -----------------------------------------------------------------------------
    # Detectors that take the parameters ``alarm`` ("static" | "drift"), ``alarm_depth`` and
    # ``alarm_absorb`` get the drift-aware rule; the others keep the static threshold.
    def _drift_rule(self) -> DriftAlarm | None:
        """The unfitted drift-aware rule the parameters ask for (None: ``alarm="static"``)."""
        alarm = getattr(self, "alarm", "static")
        if alarm not in ALARMS:
            raise ValueError(f"alarm must be one of {', '.join(map(repr, ALARMS))}, got {alarm!r}")
        if alarm == "static":
            return None
        rule = DriftAlarm(q=float(self.contamination), depth=getattr(self, "alarm_depth", 100),
                          absorb=getattr(self, "alarm_absorb", None))
        try:
            rule._check_params()
        except ValueError as e:
            raise ValueError(f"alarm='drift': {e}".replace(" q must", " contamination (the rule's q) must")) from None
        return rule

    def _finish_fit(self, scores, calibration=None, calibration_scores=None) -> None:
        """The base's ``threshold_``; with ``alarm="drift"`` also ``alarm_rule_``, the drift-aware
        rule fitted on the calibration scores, and ``labels_`` from it."""
        super()._finish_fit(scores, calibration, calibration_scores)
        self._fit_alarm()

    def _fit_alarm(self) -> None:
        """(Re)fit the alarm rule the parameters ask for on ``calibration_scores_`` (cheap: after
        ``set_params(alarm=..., alarm_depth=...)`` on a fitted detector, no refit of the model is
        needed; the benchmark compares rules this way)."""
        self.__dict__.pop("alarm_rule_", None)
        rule = self._drift_rule()
        if rule is not None:
            self.alarm_rule_ = rule.fit(self.calibration_scores_)
        self.labels_ = self._flags(self.decision_scores_).astype(int)

    def _recalibrated(self) -> None:
        """The drift-aware rule (``alarm="drift"``) refitted on the new calibration scores: its
        reference and scale from the new normal data (else ``calibrate`` would change only
        ``threshold_``, which such a rule does not flag with)."""
        self._fit_alarm()

    def _flags(self, scores: np.ndarray) -> np.ndarray:
        """Static: scores above ``threshold_``. Drift: :class:`adgdm.thresholds.DriftAlarm` run over
        the scores of the series from its starting reference (``threshold_`` is then kept for the
        probabilities only)."""
        rule = getattr(self, "alarm_rule_", None)
        if rule is None:
            return super()._flags(scores)
        return DriftAlarm.from_state(rule.state()).run(scores)  # a copy: predict leaves the rule as fitted

    def _state(self) -> tuple[dict, dict]:
        meta, arrays = super()._state()
        rule = getattr(self, "alarm_rule_", None)
        if rule is not None:
            meta["alarm_rule_"] = rule.state()
        return meta, arrays

    @classmethod
    def _from_state(cls, params: dict, meta: dict, arrays: dict):
        from ...io import ModelFileError

        det = super()._from_state(params, meta, arrays)
        if "alarm_rule_" in meta:
            try:
                det.alarm_rule_ = DriftAlarm.from_state(meta["alarm_rule_"])
            except (KeyError, TypeError, ValueError) as e:
                raise ModelFileError(f"saved {cls.__name__} has a bad alarm rule: {type(e).__name__}: {e}") from None
            det.labels_ = det._flags(det.decision_scores_).astype(int)
        elif getattr(det, "alarm", "static") == "drift":
            raise ModelFileError(f"saved {cls.__name__} has alarm='drift' but no fitted alarm rule")
        return det

    def _smooth(self, scores: np.ndarray, history: np.ndarray | None = None) -> np.ndarray:
        """Trailing mean over ``smooth`` steps (fewer at the start of the series); ``history`` holds
        the unsmoothed scores just before ``scores`` (streaming)."""
        k = int(getattr(self, "smooth", 1))
        if k == 1:
            return scores
        prev = np.zeros(0) if history is None else history[max(0, len(history) - (k - 1)):]
        full = np.concatenate([prev, scores])
        c = np.concatenate([[0.0], np.cumsum(full)])
        i = np.arange(len(prev), len(full))
        lo = np.maximum(i - k + 1, 0)
        return (c[i + 1] - c[lo]) / (i + 1 - lo)

    def _per_channel_smooth(self, per: np.ndarray) -> np.ndarray:
        """The trailing mean per channel (it is linear, so the sum over channels is kept)."""
        if int(getattr(self, "smooth", 1)) == 1:
            return per
        return np.column_stack([self._smooth(per[:, c]) for c in range(per.shape[1])])

    def _series(self, X, fitting: bool, min_length: int = 1) -> np.ndarray:
        """The validated series ``(T, C)`` (the modality's check, with the detector's minimum length)."""
        from ...modalities import get_modality

        return get_modality("series").check(self, X, fitting, min_length=min_length)
