"""``adgdm calibrate``: set a model's threshold on new normal data, without refitting."""
from __future__ import annotations

from pathlib import Path

from .._atomic import check_output
from ..pipeline import Pipeline

__all__ = ["run_calibrate"]


def run_calibrate(model_dir, data, *, out=None, contamination=None, pot=None, fixed=None, columns=None, label=None,
                  time_col=None, reader=None, progress=None, force: bool = False, pot_level=None) -> dict:
    """Score ``data`` (normal data of the kind the model will meet) and set the threshold on those
    scores: the ``1 - contamination`` quantile (default: the model's contamination), ``pot`` (extreme
    values, risk ``pot``, initial quantile ``pot_level``, default 0.98) or ``fixed``. Writes the model folder ``out`` (default: ``model_dir``
    itself, replaced atomically)."""
    given = [n for n, v in (("--contamination", contamination), ("--pot", pot), ("--fixed", fixed)) if v is not None]
    if len(given) > 1:
        raise ValueError(f"give one of --contamination, --pot and --fixed, not {' and '.join(given)}")
    if pot_level is not None and pot is None:
        raise ValueError("--pot-level is POT's initial quantile: give it with --pot Q")
    if out is not None:
        check_output(out, [data, model_dir], force)
    pipe = Pipeline.load(model_dir)
    if columns or label is not None or time_col is not None:
        pipe.card_ = pipe.card_.with_(**{k: v for k, v in (("columns", columns), ("label", label), ("time", time_col))
                                          if v is not None})
    if reader is not None:
        pipe.card_ = pipe.card_.with_(reader=pipe.card_.reader.merged(reader))
    if pot is not None:
        kw = {"method": "pot", "q": float(pot), **({"level": float(pot_level)} if pot_level is not None else {})}
    elif fixed is not None:
        kw = {"method": "fixed", "value": float(fixed)}
    else:
        kw = {"method": "contamination", "contamination": contamination}
    summary = pipe.calibrate(data, progress=progress, **kw)
    target = Path(out) if out is not None else Path(model_dir)
    pipe.save(target, force=True)
    return dict(summary, model=str(target), modality=pipe.card_.modality, detector=pipe.card_.detector)
