"""The typed result of scoring: what ``detector.predict_result(X)`` returns for every modality."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Prediction", "frame_records"]


@dataclass
class Prediction:
    """Scores and what goes with them, one entry per unit (row, step, image, frame, record).

    ``score`` (higher = more anomalous), ``label`` (0/1, ``score > threshold``), ``probability``
    (calibrated: 0.5 at the threshold), ``threshold``, ``unit``; where they apply:
    ``anomaly_map`` ``(N, H, W)`` per image or frame, ``parts`` per branch, mode or modality
    (z-scores that the score fuses), ``contributions`` ``(n, d)`` per feature or channel.

    Example
    -------
    >>> r = det.predict_result(X_test)          # doctest: +SKIP
    >>> r.score[:3], r.label[:3], r.unit        # doctest: +SKIP
    """

    score: np.ndarray
    label: np.ndarray
    probability: np.ndarray
    threshold: float
    unit: str
    anomaly_map: np.ndarray | None = None
    parts: dict[str, np.ndarray] = field(default_factory=dict)
    contributions: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.score)

    @classmethod
    def concat(cls, parts: list["Prediction"]) -> "Prediction":
        """One result from those of consecutive batches: every field joined in order, the parts
        and anomaly maps too (one threshold: the batches come from one model)."""
        if not parts:
            raise ValueError("nothing to concatenate: no results")
        first = parts[0]
        cat = lambda name: np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
        maps = None
        if first.anomaly_map is not None:
            if any(p.anomaly_map is None for p in parts):
                raise ValueError("some batches have anomaly maps and some do not")
            if isinstance(first.anomaly_map, list):  # video: one (T, H, W) map per clip
                maps = [m for p in parts for m in p.anomaly_map]
            else:
                maps = cat("anomaly_map")
        names = list(first.parts)
        if any(list(p.parts) != names for p in parts):
            raise ValueError("batches have different parts: " + ", ".join(sorted({str(list(p.parts)) for p in parts})))
        return cls(score=cat("score"), label=cat("label"), probability=cat("probability"),
                   threshold=first.threshold, unit=first.unit, anomaly_map=maps,
                   parts={k: np.concatenate([p.parts[k] for p in parts]) for k in names},
                   contributions=None if first.contributions is None else cat("contributions"))

    def columns(self) -> dict:
        """The per-unit columns of a scores table, in order: ``score``, ``flagged``, ``probability``
        (calibrated; 6 decimals: 3.6e-254 is just 0), ``threshold`` and ``part:*``. A part with
        several values per unit (a box: ``(n, 4)``) gives one column each, ``part:NAME:0``, ..."""
        out = {"score": self.score, "flagged": np.asarray(self.label, dtype=np.int64),
               "probability": np.round(self.probability, 6), "threshold": self.threshold}
        for name, part in self.parts.items():  # e.g. an image's global and local branch z-scores
            part = np.asarray(part)
            if part.ndim == 1:
                out[f"part:{name}"] = part
                continue
            flat = part.reshape(len(part), -1)
            for j in range(flat.shape[1]):
                out[f"part:{name}:{j}"] = flat[:, j]
        return out

    def to_frame(self, feature_names=None):
        """One row per unit: :meth:`columns` and, with contributions, ``contrib:*`` (named by
        ``feature_names``, else ``x0``, ``x1``, ...)."""
        import pandas as pd

        out = self.columns()
        frame = pd.DataFrame(out)
        if self.contributions is not None:
            c = np.asarray(self.contributions, dtype=np.float64)
            names = list(feature_names) if feature_names is not None else [f"x{j}" for j in range(c.shape[1])]
            if len(names) != c.shape[1]:
                raise ValueError(f"{len(names)} feature names for {c.shape[1]} contribution columns")
            for j, n in enumerate(names):
                frame[f"contrib:{n}"] = c[:, j]
        return frame

    def to_records(self, feature_names=None) -> list[dict]:
        """:meth:`to_frame` as JSON-ready dicts (``contributions`` and ``parts`` nested)."""
        return frame_records(self.to_frame(feature_names))


def frame_records(frame) -> list[dict]:
    """A scores table as JSON-ready dicts: ``contrib:*`` columns under ``contributions``,
    ``part:*`` under ``parts``, non-finite numbers as None (what ``adgdm serve`` answers)."""
    contrib = [c for c in frame.columns if c.startswith("contrib:")]
    parts = [c for c in frame.columns if c.startswith("part:")]
    plain = [c for c in frame.columns if c not in contrib and c not in parts]
    cols = {c: frame[c].to_numpy() for c in frame.columns}
    out = []
    for i in range(len(frame)):
        rec = {c: _py(cols[c][i]) for c in plain}
        if contrib:
            rec["contributions"] = {c[len("contrib:"):]: _py(cols[c][i]) for c in contrib}
        if parts:
            rec["parts"] = {c[len("part:"):]: _py(cols[c][i]) for c in parts}
        out.append(rec)
    return out


def _py(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v
