"""``adgdm score``: a model folder + data -> one row per table row, time step or image with its
score, the model's 0/1 flag, a probability calibrated on the training scores (0.5 at the
threshold), the label when the data has one, and for tables and series the top contributing
features/channels (``explain``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .._atomic import write_frame
from ..modalities.readers import ID_COLUMN, read_data, table_from_frame
from .fit import check_finite, clip_hash, read_model
from ..modalities.fingerprint import apply as apply_insample, det_unit

SCORE_BATCH = 4096


def score_data(det, meta: dict, data, columns=None, label=None, time_col=None, explain: bool = True,
               top_k: int = 3, progress=None, reader: dict | None = None, frame=None, images=None):
    """``(frame, extras)``: the scores table, and for images ``{"images", "maps", "masks"}`` (for
    the report). ``frame``: a table already read (pandas; ``data`` is then only its name in
    messages): how ``adgdm.distributed`` scores a part of a file; ``images``: the same for images
    (a ``Data`` already read)."""
    import pandas as pd

    modality = meta["modality"]
    encoder = None
    columns = columns or meta.get("columns")
    label = label if label is not None else meta.get("label")
    time_col = time_col if time_col is not None else meta.get("time")
    extras, in_sample = {}, None
    if modality == "image":
        prep = {k: getattr(det, k, None) for k in ("size", "crop", "channels")}
        if images is None and Path(data).is_file():
            raise ValueError(f"{data} is a file, but this is an image model: give a folder of images")
        d = images if images is not None else read_data(data, "image", image_prep=prep)
        result = det.predict_result(d.images)
        extras = {"images": d.images, "maps": result.anomaly_map, "masks": d.masks}
    elif modality == "multimodal":
        reader = {**(meta.get("reader") or {}), **{k: v for k, v in (reader or {}).items() if v not in (None, False)}}
        try:
            d = read_data(data, "multimodal", columns, label, None, **reader)
        except ValueError as e:  # a label column named at fit may be absent from new data
            if label is not None and "no column(s)" in str(e) and label in str(e):
                d = read_data(data, "multimodal", columns, None, None, **reader)
            else:
                raise
        result = det.predict_result(d.records)
        extras = {"notes": d.notes}
    elif modality == "video":
        d = read_data(data, "video")
        result = det.predict_result([c.frames for c in d.clips])
        seen = meta.get("clip_hashes") or {}
        known = set(seen.values())
        again = [c.name for c in d.clips if known and clip_hash(c.frames) in known]
        notes = list(d.notes)
        if again:
            notes.append(f"clip(s) {', '.join(again)} are footage this model was fitted on: their scores are "
                         "in-sample (lower than new footage of the same scene would get); score held-out footage "
                         "to judge the model")
        extras = {"clips": d.clips, "maps": result.anomaly_map, "notes": notes}
    else:
        if frame is None and Path(data).is_dir():
            raise ValueError(f"{data} is a folder, but this is a {modality} model: give a CSV, Parquet or NPZ file")
        # a label column named at fit time may be absent from new data: score without labels then
        if label is not None and label in (columns or []):
            raise ValueError(f"--label {label!r} was a feature of this model at fit; a label cannot be a feature "
                             "(refit with --label, or score without it)")
        reader = {**(meta.get("reader") or {}), **{k: v for k, v in (reader or {}).items() if v not in (None, False)}}
        if meta.get("encoder") is not None:  # a mixed table at fit: the same columns, by name, encoded alike
            from ..data.encoder import TableEncoder

            encoder = TableEncoder.from_state(meta["encoder"])
            columns = encoder.input_names_
        reader["mixed"] = encoder is not None  # a numeric model reads numbers only, as at its fit
        if frame is not None:
            reader = {k: v for k, v in reader.items() if k not in ("sep", "encoding")}
            read = lambda lab: table_from_frame(frame, data, modality, columns, lab, time_col, **reader)  # noqa: E731
        else:
            read = lambda lab: read_data(data, modality, columns, lab, time_col, **reader)  # noqa: E731
        try:
            d = read(label)
        except ValueError as e:
            if label is not None and "--label column" in str(e) and label == meta.get("label"):
                d = read(None)
            else:
                raise
        if encoder is not None:
            enc = encoder.encode(d.frame, str(data))
            d.X, frame_in = enc.X, d.frame
            d.names = enc.names
            extras["unseen"] = enc.unseen
            if enc.unseen:
                extras["unseen_notes"] = [f"{enc.n_unseen} cells held categories never seen at fit (scored as "
                                          "evidence): " + "; ".join(f"{c}: {n} ({', '.join(enc.unseen_values[c])})"
                                                                     for c, n in enc.unseen.items())]
        # a detector that handles blank cells (diffusion) gets them as NaN: only infinities are errors
        check_finite(d.X, d.names, data, getattr(det, "fill", None)
                     or ("model" if getattr(det, "_takes_nan", lambda: False)() else None))
        if np.isnan(d.X).any():  # only a detector that takes NaN gets here with blanks
            extras.setdefault("unseen_notes", []).append(
                f"{int(np.isnan(d.X).sum())} blank numeric cells imputed by {det.name} from the nearest training rows "
                "on each row's observed cells")
        X = pd.DataFrame(d.X, columns=d.names) if modality == "tabular" and meta.get("columns") else d.X
        if modality == "tabular" and len(d.X) > SCORE_BATCH:
            parts = []
            with (progress(len(d.X), "scoring") if progress else _null()) as advance:
                for i in range(0, len(d.X), SCORE_BATCH):
                    parts.append(det.predict_result(X[i:i + SCORE_BATCH], explain=explain))
                    advance(min(SCORE_BATCH, len(d.X) - i))
            result = concat_results(parts)
        else:
            result = det.predict_result(X, explain=explain)
        # the fitted data, or part of it, scored again: its training scores (insample.py)
        result, in_sample, extras["notes"] = apply_insample(det, meta, d.X, result, det_unit(det))
        extras["notes"] = list(extras["notes"] or []) + extras.pop("unseen_notes", [])
    scores = result.score
    if not np.isfinite(scores).all():
        raise ValueError(f"the model gave {int((~np.isfinite(scores)).sum())} non-finite scores on {data}")
    out = {ID_COLUMN[modality]: d.ids}
    if modality == "video":
        out["frame"] = np.concatenate([np.arange(len(c)) for c in d.clips])
    if modality == "series":
        for j, n in enumerate(d.names):
            out[n] = d.X[:, j]
    out["score"] = scores
    out["flagged"] = result.label.astype(np.int64)
    # calibrated on the training scores (0.5 at the threshold); 6 decimals: 3.6e-254 is just 0
    out["probability"] = np.round(result.probability, 6)
    if d.labels is not None:
        out["label"] = d.labels
    out["threshold"] = result.threshold
    if in_sample is not None:
        out["in_sample"] = in_sample  # 1: a fitted row or step, scored by its training score
    for name, part in result.parts.items():  # e.g. an image's global and local branch z-scores
        out[f"part:{name}"] = part
    frame = pd.DataFrame(out)
    if result.contributions is not None:
        from ..explain import top_features

        contrib = np.asarray(result.contributions, dtype=np.float64)
        names = d.names
        if modality not in ("image", "multimodal", "video") and extras.get("unseen") is not None:
            # per table column, a categorical one named by the row's value ("service=ftp_data")
            contrib, names, labels = by_column(encoder, contrib, frame_in)
            tops = top_features(contrib, names, k=top_k)
            tops = [[(labels[n][i] if n in labels else n, v) for n, v in row] for i, row in enumerate(tops)]
        else:
            tops = top_features(contrib, names, k=top_k)
        frame["top_features"] = ["; ".join(f"{n} ({100 * s:.0f}%)" for n, s in row) for row in tops]
        for j, n in enumerate(names):
            frame[f"contrib:{n}"] = contrib[:, j]
    return frame, extras


def by_column(encoder, contrib: np.ndarray, frame):
    """Encoded contributions summed per table column: ``(contrib (n, columns), column names,
    {categorical column: each row's "name=value"})``."""
    index = {n: j for j, n in enumerate(encoder.feature_names_)}
    groups = encoder.groups()
    out = np.column_stack([contrib[:, [index[e] for e in enc]].sum(axis=1) for _, enc in groups])
    return out, [g for g, _ in groups], encoder.value_labels(frame)


def run_score(model_dir, data, out, columns=None, label=None, time_col=None, explain=True, top_k=3,
              progress=None, force: bool = False, reader: dict | None = None) -> dict:
    """Score ``data`` with the model in ``model_dir`` and write ``out``; an existing ``out`` is
    refused unless ``force``, and ``out`` is never the data or the model."""
    from .._atomic import check_output

    check_output(out, [data, model_dir], force)
    det, meta = read_model(model_dir)
    frame, extras = score_data(det, meta, data, columns, label, time_col, explain, top_k, progress, reader)
    write_frame(frame, out)
    summary = {"out": str(out), "rows": len(frame), "flagged": int(frame["flagged"].sum()),
               "threshold": float(det.threshold_), "modality": meta["modality"], "detector": meta.get("detector")}
    if "in_sample" in frame:
        summary["in_sample"] = int(frame["in_sample"].sum())
    if "in_sample" in frame or extras.get("notes"):
        summary["notes"] = extras.get("notes", [])
    if extras.get("unseen") is not None:
        summary["unseen_categories"] = int(sum(extras["unseen"].values()))
        summary["unseen_by_column"] = dict(extras["unseen"])
    if "label" in frame:
        from ..metrics import auroc

        y = frame["label"].to_numpy()
        if 0 < y.sum() < len(y):
            summary["auroc"] = round(float(auroc(y, frame["score"].to_numpy())), 4)
    return summary


def concat_results(parts):
    """One :class:`adgdm.results.Prediction` from those of consecutive batches."""
    from ..results import Prediction

    cat = lambda name: np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
    return Prediction(score=cat("score"), label=cat("label"), probability=cat("probability"),
                      threshold=parts[0].threshold, unit=parts[0].unit,
                      contributions=None if parts[0].contributions is None else cat("contributions"))


class _null:
    def __enter__(self):
        return lambda n: None

    def __exit__(self, *a):
        return False
