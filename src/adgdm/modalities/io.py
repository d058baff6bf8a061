"""The I/O half of a modality: from a data source (a path, a DataFrame, records, images, clips) to a
checked input for the detector, and from a :class:`~adgdm.results.Prediction` back to rows.

Each modality registers one :class:`ModalityIO` (``register_io``, in ``<modality>_io.py`` beside its
adapter); :class:`adgdm.Pipeline`, the command line, ``adgdm serve`` and the Ray engine call these
methods and never branch on a modality's name.

Example
-------
>>> from adgdm.modalities.io import get_io
>>> get_io("tabular").id_column, get_io("series").id_column
('row', 'time')
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..results import frame_records
from .options import ReaderOptions
from .readers import Data

__all__ = ["ModalityIO", "ReadSpec", "FitInput", "ScoreResult", "register_io", "get_io", "Data"]


@dataclass(frozen=True)
class ReadSpec:
    """What to read: feature ``columns`` (None: inferred), the 0/1 ``label`` column and the id/time
    column, and the reader options."""

    columns: tuple[str, ...] | None = None
    label: str | None = None
    time: str | None = None
    reader: ReaderOptions = field(default_factory=ReaderOptions)


@dataclass
class FitInput:
    """What a fit reads: ``X`` for ``detector.fit``, how many units, the feature names, notes for
    the user, the fitted table encoder (mixed tables), the reader options to keep in the model
    card, and the data to fingerprint (to know it again at scoring)."""

    X: object
    n_units: int | None
    names: list
    notes: list = field(default_factory=list)
    encoder: object = None
    reader: ReaderOptions = field(default_factory=ReaderOptions)
    fingerprint_X: object = None   # the fitted data as fingerprinted (rows in fit order, clips); None: none


@dataclass
class ScoreResult:
    """Scores of one source, with what goes into each output row.

    ``prediction`` (the detector's typed result), ``lead`` (the id columns and, for series, the
    values: the first columns of a scores table), ``labels`` (when the data has them), ``in_sample``
    (1: a fitted unit given its training score; None: not checked), ``contrib`` / ``contrib_names``
    / ``contrib_labels`` (per feature or column; a categorical column named by each row's value),
    ``notes`` and ``extras`` (images, maps, masks, clips, unseen categories: for reports).

    Example
    -------
    >>> res = pipe.score("new.csv")                 # doctest: +SKIP
    >>> res.to_frame().columns[:4].tolist()          # doctest: +SKIP
    ['row', 'score', 'flagged', 'probability']
    """

    prediction: object
    lead: dict
    labels: np.ndarray | None = None
    in_sample: np.ndarray | None = None
    contrib: np.ndarray | None = None
    contrib_names: list | None = None
    contrib_labels: dict = field(default_factory=dict)
    top_k: int = 3
    notes: list = field(default_factory=list)
    extras: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.prediction.score)

    @property
    def score(self) -> np.ndarray:
        return self.prediction.score

    def to_frame(self):
        """One row per unit: the lead columns, ``score``, ``flagged``, ``probability``, ``label``,
        ``threshold``, ``in_sample``, ``part:*``, ``top_features`` and ``contrib:*``."""
        import pandas as pd

        from ..explain import top_features

        out = dict(self.lead)
        for name, values in self.prediction.columns().items():
            if name == "threshold" and self.labels is not None:
                out["label"] = self.labels
            out[name] = values
            if name == "threshold" and self.in_sample is not None:
                out["in_sample"] = self.in_sample  # 1: a fitted row or step, scored by its training score
        frame = pd.DataFrame(out)
        if self.contrib is not None:
            contrib, names = np.asarray(self.contrib, dtype=np.float64), self.contrib_names
            tops = top_features(contrib, names, k=self.top_k)
            if self.contrib_labels:
                lab = self.contrib_labels
                tops = [[(lab[n][i] if n in lab else n, v) for n, v in row] for i, row in enumerate(tops)]
            frame["top_features"] = ["; ".join(f"{n} ({100 * s:.0f}%)" for n, s in row) for row in tops]
            for j, n in enumerate(names):
                frame[f"contrib:{n}"] = contrib[:, j]
        return frame

    def to_records(self) -> list[dict]:
        """:meth:`to_frame` as JSON-ready dicts (``contrib:*`` under ``contributions``, ``part:*``
        under ``parts``; non-finite numbers as None): what ``adgdm serve`` answers."""
        return frame_records(self.to_frame())


class ModalityIO:
    """How one modality's data is read, fitted on, scored and written. Subclasses set the class
    attributes and implement :meth:`fit_input` and :meth:`score`."""

    name = "base"
    id_column = "id"             # the first column of a scores table
    source = "table"             # what a data argument is: "table" (a file) or "folder"
    takes_columns = True         # --columns / --label / --time apply
    takes_kinds = False          # --categorical / --numeric apply
    takes_manifest = False       # --image-cols / --text-cols apply
    takes_frames = False         # --frame-size / --frame-channels apply
    serve_types: tuple[str, ...] = ()   # request bodies ``adgdm serve`` takes ("json", "csv", "parquet", "image")
    ray_parts: str | None = None        # how the Ray engine cuts a source: "rows", "images" or None (not at all)
    batch_rows: int | None = None       # score in batches of this many units (None: at once)
    independent_units = False           # units score alone (rows): ``adgdm serve`` may gather requests
    plot: str | None = None             # how a report draws the scores: "channels", "clips" or None

    def fit_input(self, source, det, spec: ReadSpec, params: dict) -> FitInput:
        raise NotImplementedError

    def score(self, det, card, source, *, spec: ReadSpec, explain: bool = True, top_k: int = 3, progress=None,
              given=None) -> ScoreResult:
        """Read ``source`` (or take ``given``: a frame, records, images or clips already in memory)
        and score it with ``det``."""
        raise NotImplementedError

    holds_out = False                   # the detectors hold training units out to set the threshold

    def fit_notes(self, det) -> list:
        """Notes on the fitted detector for the user (how many units set the threshold)."""
        if not self.holds_out:
            return []
        from .base import get_modality

        return [f"{len(det.decision_scores_)} training {get_modality(self.name).unit}s were held out to set the "
                "threshold"]

    def fingerprint(self, X) -> dict | None:
        """What the fitted data looks like, to know it again at scoring (None: not recorded)."""
        return None

    # --- serve -------------------------------------------------------------------------------------
    def probe(self, det, card):
        """A made-up unit the served model must score (None: no probe)."""
        return None

    def describe(self, det) -> dict:
        return {}


def register_io(io: ModalityIO) -> ModalityIO:
    """Make ``io`` the I/O of the modality it names (an adapter registered before)."""
    from .base import get_modality

    get_modality(io.name).io = io
    return io


def get_io(name: str) -> ModalityIO:
    """The I/O of the modality ``name`` (an unknown name is an error listing the known ones)."""
    from .base import get_modality

    return get_modality(name).io


def with_fallback_label(read, label, meta_label):
    """``read(label)``, retried without the label when the label column named at fit is absent from
    new data (scores then carry no labels)."""
    try:
        return read(label)
    except ValueError as e:
        if label is not None and "--label column" in str(e) and label == meta_label:
            return read(None)
        raise
