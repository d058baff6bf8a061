"""I/O of multimodal records: a manifest (CSV/Parquet) whose columns are image paths, texts and
numbers; a score per record and per-modality parts."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .io import FitInput, ModalityIO, ReadSpec, ScoreResult, register_io
from .readers import read_data

__all__ = ["MultimodalIO"]


class MultimodalIO(ModalityIO):
    name = "multimodal"
    id_column = "record"
    takes_manifest = True

    def fit_input(self, source, det, spec: ReadSpec, params: dict) -> FitInput:
        opts = spec.reader
        if opts.size is None and "image_size" in det.get_params():
            opts = replace(opts, size=int(det.get_params()["image_size"]))
        d = read_data(source, "multimodal", list(spec.columns) if spec.columns else None, spec.label, spec.time,
                      **opts.to_dict())
        keep = np.ones(len(d.ids), bool) if d.labels is None else d.labels == 0
        if not keep.any():
            raise ValueError(f"{source}: every record is labelled anomalous (label 1); nothing normal to fit on")
        X = {k: (v[keep] if isinstance(v, np.ndarray) else [t for t, m in zip(v, keep) if m])
             for k, v in d.records.items()}
        n = int(keep.sum())
        notes = d.notes + ([f"fitted on the {n} records labelled 0 (of {len(keep)})"] if d.labels is not None else [])
        # scoring reads new manifests the same way: the kinds found here, not inferred again
        opts = replace(opts, image_cols=tuple(c for c, v in d.records.items() if isinstance(v, np.ndarray) and v.ndim == 4),
                       text_cols=tuple(c for c, v in d.records.items() if isinstance(v, list)))
        return FitInput(X, n, d.names, notes, None, opts)

    def score(self, det, card, source, *, spec: ReadSpec, explain=True, top_k=3, progress=None, given=None):
        columns = list(spec.columns) if spec.columns else None
        reader = spec.reader.to_dict()
        try:
            d = read_data(source, "multimodal", columns, spec.label, None, **reader)
        except ValueError as e:  # a label column named at fit may be absent from new data
            if spec.label is not None and "no column(s)" in str(e) and spec.label in str(e):
                d = read_data(source, "multimodal", columns, None, None, **reader)
            else:
                raise
        result = det.predict_result(d.records)
        return ScoreResult(result, {self.id_column: d.ids}, d.labels, top_k=top_k, notes=list(d.notes))


register_io(MultimodalIO())
