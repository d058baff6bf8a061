"""``adgdm detect``: fit on a table or series and score the same data in one step, the honest way
(the fitted rows or steps get their training scores: :mod:`adgdm.modalities.fingerprint`)."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ..pipeline import read_config
from .fit import run_fit
from .score import run_score


def run_detect(data, *, out, modality=None, detector=None, model_out=None, config=None, params=None, columns=None,
               label=None, time_col=None, threshold=None, contamination=None, seed=None, explain=True, top_k=3,
               status=None, progress=None, reader=None, force: bool = False) -> dict:
    """Fit on ``data`` and score the same ``data`` in one step (``adgdm detect``): every fitted unit
    gets its training score (leave-one-out or cross-fitted), the rest (table rows labelled 1,
    which a fit leaves out) are scored by the model. The model is kept in ``model_out`` if given."""
    from .._atomic import check_table_suffix
    from ..modalities.io import get_io

    check_table_suffix(out)  # before any work, not after the fit
    if get_io(_detect_modality(data, modality, detector, config)).source == "folder":
        raise ValueError("adgdm detect is for tables and series; for images, fit on normal images (adgdm fit) and "
                         "score others (adgdm score)")
    from .._atomic import check_output

    check_output(out, [data, model_out], force)  # before the fit, not after it
    tmp = None
    if model_out is None:
        tmp = Path(tempfile.mkdtemp(prefix="adgdm-detect-"))
        model_out = tmp / "model"
    try:
        fitted = run_fit(data, out=model_out, modality=modality, detector=detector, config=config, params=params,
                         columns=columns, label=label, time_col=time_col, threshold=threshold,
                         contamination=contamination, seed=seed, status=status, force=force, reader=reader)
        # the columns, label and time column recorded at fit time apply; the fit-only options do not
        scored = run_score(model_out, data, out=out, explain=explain, top_k=top_k, progress=progress, force=force,
                           reader=_read_only(reader))
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return dict(scored, n_fit=fitted["n_fit"], fit_seconds=fitted["fit_seconds"],
                threshold_method=fitted["threshold_method"], model=None if tmp is not None else str(model_out),
                notes=list(fitted["notes"]) + list(scored.get("notes", [])))


def _read_only(reader):
    from ..modalities.options import ReaderOptions

    if reader is None:
        return None
    opts = reader if isinstance(reader, ReaderOptions) else ReaderOptions.from_dict(
        {k: v for k, v in dict(reader).items() if v not in (None, False)})
    return opts.without_fit_options()


def _detect_modality(data, modality, detector, config) -> str:
    """The modality ``run_fit`` will use, known before fitting (a folder is images)."""
    from ..detectors.registry import detector_class, parse_spec

    cfg = read_config(config) if config else {}
    if modality or cfg.get("modality"):
        return modality or cfg["modality"]
    spec = detector or cfg.get("detector")
    if spec:
        return getattr(detector_class(parse_spec(spec)[0]), "modality", "tabular")
    return "image" if Path(data).is_dir() else "tabular"
