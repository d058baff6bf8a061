"""I/O of tables and series: CSV, Parquet and NPZ files or frames in memory; the table encoder for
mixed tables; in-sample fingerprints; explanations per column."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .._validation import _SINK, collect_extremes, extreme_note
from .fingerprint import apply as apply_insample, fingerprint_of
from .io import FitInput, ModalityIO, ReadSpec, ScoreResult, register_io, with_fallback_label
from .notes import CountNote
from .readers import read_data, table_from_frame

__all__ = ["TableIO", "check_finite", "encode_for_fit", "by_column"]


class TableIO(ModalityIO):
    """Rows of a table (``tabular``) or steps of a series (``series``)."""

    def __init__(self, name: str, id_column: str, drops_labelled: bool):
        self.name, self.id_column = name, id_column
        self.drops_labelled = drops_labelled  # rows are exchangeable: fit on the normal ones
        self.takes_kinds = name == "tabular"
        self.serve_types = ("json", "csv", "parquet")
        self.independent_units = drops_labelled
        self.ray_parts = "rows" if name == "tabular" else None
        self.batch_rows = 4096 if name == "tabular" else None
        self.frame_features = name == "tabular"   # the detector records the feature names
        self.values_lead = not drops_labelled      # a series' values go into its scores table
        self.plot = "channels" if self.values_lead else None  # the report plots a series with its scores

    # --- fit ---------------------------------------------------------------------------------------
    def fit_input(self, source, det, spec: ReadSpec, params: dict) -> FitInput:
        opts = spec.reader
        kinds = {k: list(v) for k, v in (("categorical", opts.categorical), ("numeric", opts.numeric)) if v}
        keep = opts.without_fit_options()
        cols = list(spec.columns) if spec.columns else None
        if isinstance(source, (str, Path)):
            d = read_data(source, self.name, cols, spec.label, spec.time, **keep.to_dict(), **kinds)
        else:  # a frame in memory (Python)
            import pandas as pd

            df = source.copy() if isinstance(source, pd.DataFrame) else pd.DataFrame(np.asarray(source))
            d = table_from_frame(df, "the data", self.name, cols, spec.label, spec.time, keep.strict, **kinds)
        X, names, notes, encoder = d.X, d.names, list(d.notes), None
        if d.labels is not None:
            normal = d.labels == 0
            if not normal.any():
                raise ValueError(f"{source}: every row is labelled anomalous (label 1); nothing normal to fit on")
            if self.drops_labelled:
                notes.append(f"fitted on the {int(normal.sum())} rows labelled 0 (of {len(normal)})")
                if d.frame is not None:
                    d.frame = d.frame[normal]
                else:
                    X = X[normal]
            else:
                notes.append(f"{self.name}: the label column is ignored when fitting (the detector sees the whole "
                             f"{self.name})")
        if d.frame is not None:  # text, true/false or blank cells: the table encoder
            X, encoder = encode_for_fit(d.frame, kinds, det, params, str(source), notes)
        else:
            check_finite(X, names, source, getattr(det, "fill", None))
        n = len(X)
        fp_X = X
        if self.frame_features:
            import pandas as pd

            # the detector records the feature names (the encoded ones: "service=ftp", "x:missing")
            X = pd.DataFrame(X, columns=encoder.feature_names_ if encoder is not None else names)
        return FitInput(X, n, names, notes, encoder, keep, fingerprint_X=fp_X)

    def fingerprint(self, X):
        return fingerprint_of(X, self.name)

    # --- score -------------------------------------------------------------------------------------
    def score(self, det, card, source, *, spec: ReadSpec, explain=True, top_k=3, progress=None, given=None):
        encoder = card.table_encoder()
        columns = list(spec.columns) if spec.columns else None
        if given is None and Path(source).is_dir():
            raise ValueError(f"{source} is a folder, but this is a {self.name} model: give a CSV, Parquet or NPZ file")
        # a label column named at fit time may be absent from new data: score without labels then
        if spec.label is not None and spec.label in (columns or []):
            raise ValueError(f"--label {spec.label!r} was a feature of this model at fit; a label cannot be a feature "
                             "(refit with --label, or score without it)")
        reader = spec.reader.to_dict()
        if encoder is not None:  # a mixed table at fit: the same columns, by name, encoded alike
            columns = encoder.input_names_
        reader["mixed"] = encoder is not None  # a numeric model reads numbers only, as at its fit
        if given is not None:
            reader = {k: v for k, v in reader.items() if k not in ("sep", "encoding")}
            read = lambda lab: table_from_frame(given, source, self.name, columns, lab, spec.time, **reader)  # noqa: E731
        else:
            read = lambda lab: read_data(source, self.name, columns, lab, spec.time, **reader)  # noqa: E731
        d = with_fallback_label(read, spec.label, card.label)
        extras, notes, frame_in = {}, [], None
        if encoder is not None:
            enc = encoder.encode(d.frame, str(source))
            d.X, frame_in = enc.X, d.frame
            d.names = enc.names
            extras["unseen"] = enc.unseen
            if enc.unseen:
                notes.append(CountNote("unseen", enc.unseen, examples=enc.unseen_values))
        # a detector that handles blank cells (diffusion) gets them as NaN: only infinities are errors
        check_finite(d.X, d.names, source, getattr(det, "fill", None)
                     or ("model" if getattr(det, "_takes_nan", lambda: False)() else None))
        blank = np.isnan(d.X).sum(axis=0)
        if blank.any():  # only a detector that takes NaN gets here with blanks; counts per column add up
            extras["blank"] = {str(d.names[j]): int(blank[j]) for j in np.flatnonzero(blank)}
            notes.append(CountNote("blank", extras["blank"], who=det.name))
        with collect_extremes() as extreme:
            result = self._predict(det, d, card, explain, progress)
        if extreme:  # cells too large for the model's arithmetic, clipped where they enter it
            notes.append(extreme_note(extreme, d.names))
        # the fitted data, or part of it, scored again: its training scores (fingerprint.py)
        result, in_sample, found = apply_insample(det, card.fingerprint_dict(), d.X, result, _unit(det))
        lead = {self.id_column: d.ids}
        if self.values_lead:  # the series' own values lead its rows (plot, report)
            for j, n in enumerate(d.names):
                lead[n] = d.X[:, j]
        out = ScoreResult(result, lead, d.labels, in_sample, top_k=top_k, notes=list(found or []) + notes,
                          extras=extras)
        if result.contributions is not None:
            contrib, names = np.asarray(result.contributions, dtype=np.float64), d.names
            if extras.get("unseen") is not None:
                # per table column, a categorical one named by the row's value ("service=ftp_data")
                contrib, names, out.contrib_labels = by_column(encoder, contrib, frame_in)
            out.contrib, out.contrib_names = contrib, names
        return out

    def _predict(self, det, d, card, explain, progress):
        import pandas as pd

        from ..results import Prediction

        X = pd.DataFrame(d.X, columns=d.names) if self.frame_features and card.columns else d.X
        n, step = len(d.X), self.batch_rows
        if step is None or n <= step:
            return det.predict_result(X, explain=explain)
        parts, outer = [], _current_extremes()
        with (progress(n, "scoring") if progress else _null()) as advance:
            for i in range(0, n, step):
                with collect_extremes() as found:
                    parts.append(det.predict_result(X[i:i + step], explain=explain))
                if outer is not None:  # rows numbered in the whole source, not in the batch
                    outer.extend(f.shifted(i) for f in found)
                advance(min(step, n - i))
        return Prediction.concat(parts)

    # --- serve -------------------------------------------------------------------------------------
    def probe(self, det, card):
        if self.values_lead:  # a series needs a window of steps: no made-up probe
            return None
        enc = card.encoder
        if enc is not None:
            return [{c["name"]: (c.get("center", 0.0) if c["kind"] == "numeric" else
                                 (c["categories"][0] if c.get("categories") else None)) for c in enc["columns"]}]
        cols = card.input_columns()
        n = int(getattr(det, "n_features_in_", 0) or len(cols or []))
        return [{c: 0.0 for c in (cols or [f"x{j}" for j in range(n)])}]


def _current_extremes():
    return _SINK.get()


def _unit(det) -> str:
    from .base import get_modality

    return get_modality(getattr(det, "modality", "tabular")).unit


class _null:
    def __enter__(self):
        return lambda n: None

    def __exit__(self, *a):
        return False


def check_finite(X, names, data, fill=None) -> None:
    """Missing or infinite cells are an error naming the first one, unless the detector fills
    missing steps itself (``fill``, e.g. ``--param fill=ffill``): then only infinities are."""
    bad = np.isinf(X) if fill is not None else ~np.isfinite(X)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        what = "infinite" if fill is not None else "missing or infinite"
        hint = "" if fill is not None else "; clean or impute them first (series detectors: --param fill=ffill)"
        raise ValueError(f"{data}: {int(bad.sum())} {what} values (first at row {int(r)}, column {names[c]!r}){hint}")


def encode_for_fit(frame, kinds: dict, det, params: dict, where: str, notes: list):
    """A mixed table's feature columns -> ``(encoded matrix, fitted TableEncoder)``; the inferred
    kinds go into ``notes``. The encoder already puts every column on one scale (numbers
    standardised, a category mismatch ~1.4 standard deviations), so a detector's own
    ``standardize`` is turned off unless ``--param standardize=...`` says otherwise."""
    from ..data.encoder import TableEncoder

    model_blanks = bool(getattr(det, "_takes_nan", lambda: False)())
    encoder = TableEncoder(kinds.get("categorical", ()), kinds.get("numeric", ()),
                           blanks="nan" if model_blanks else "fill").fit(frame, where)
    X = encoder.transform(frame, where)
    notes += encoder.describe()
    numeric_blanks = any(c.get("has_blanks") for c in encoder.columns_ if c["kind"] == "numeric")
    notes.append(f"encoded to {X.shape[1]} columns (numbers standardised, categories one-hot, category blanks as "
                 f"their own level); override kinds with --categorical / --numeric")
    if model_blanks:
        notes.append(f"blank numeric cells: left to {det.name}, which imputes each from the nearest training rows "
                     f"on the row's observed cells (missing={det.get_params().get('missing')!r}), no indicator column"
                     + ("" if numeric_blanks else "; none in the training rows"))
    elif numeric_blanks:
        notes.append(f"blank numeric cells: {det.name} does not take them here, so each is filled with the column mean "
                     "plus a name:missing indicator column")
    if getattr(det, "reads_tables", False):
        notes.append(f"{det.name} sees the encoder's columns here (categories one-hot, Gaussian diffusion); from Python "
                     "it reads a DataFrame itself: multinomial diffusion for categories, blank cells masked in training")
    if "standardize" in det.get_params() and "standardize" not in params and det.get_params()["standardize"]:
        det.set_params(standardize=False)
        notes.append("standardize=false: the encoder already scaled the columns")
    return X, encoder


def by_column(encoder, contrib: np.ndarray, frame):
    """Encoded contributions summed per table column: ``(contrib (n, columns), column names,
    {categorical column: each row's "name=value"})``."""
    index = {n: j for j, n in enumerate(encoder.feature_names_)}
    groups = encoder.groups()
    out = np.column_stack([contrib[:, [index[e] for e in enc]].sum(axis=1) for _, enc in groups])
    return out, [g for g, _ in groups], encoder.value_labels(frame)


register_io(TableIO("tabular", "row", drops_labelled=True))
register_io(TableIO("series", "time", drops_labelled=False))
