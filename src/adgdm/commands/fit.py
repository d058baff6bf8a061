"""``adgdm fit``: data + detector spec (+ TOML config, ``--param`` overrides, threshold rule) ->
a model folder written atomically by :class:`adgdm.Pipeline` (the detector's own files and the
model card ``cli.json``)."""
from __future__ import annotations

from pathlib import Path

from .._atomic import check_output
from ..pipeline import Pipeline, parse_params

__all__ = ["run_fit", "parse_params"]


def run_fit(data, *, out=None, modality=None, detector=None, config=None, params=None, columns=None, label=None,
            time_col=None, threshold=None, contamination=None, seed=None, status=None, force: bool = False,
            reader=None) -> dict:
    """Fit and save; returns a summary dict (what ``--json`` prints). An existing model folder at
    ``out`` is replaced only with ``force`` (and never a folder that is not an adgdm model).
    ``reader``: :class:`~adgdm.modalities.options.ReaderOptions` (or a dict), kept for scoring."""
    if out is None:
        raise ValueError("--out MODEL_DIR is required")
    check_output(out, [data, config], force)
    pipe = Pipeline(detector, modality=modality, params=params, columns=columns, label=label, time=time_col,
                    reader=reader, threshold=threshold, contamination=contamination, seed=seed, config=config)
    pipe.fit(data, status=status)
    pipe.save(out, force=True)  # check_output has guarded it
    card, det, notes = pipe.card_, pipe.detector_, list(pipe.fit_notes_)
    size_mb = sum(f.stat().st_size for f in Path(out).rglob("*") if f.is_file()) / 1e6
    if size_mb > 10:
        notes.append(f"the model folder holds {size_mb:.1f} MB: {card.detector} keeps its training data (or features "
                     "of it) as the reference it compares with; fit on a sample to make it smaller")
    names = card.columns or []
    summary = {"model": str(out), "detector": card.detector, "modality": card.modality, "n_fit": pipe.n_fit_,
               "features": len(names) or None, "threshold": float(det.threshold_),
               "threshold_method": card.threshold["method"], "fit_seconds": card.fit_seconds, "columns": names,
               "model_mb": round(size_mb, 3), "notes": notes}
    if pipe.encoder_ is not None:
        summary["kinds"] = pipe.encoder_.kinds_
        summary["encoded_features"] = len(pipe.encoder_.feature_names_)
    return summary
