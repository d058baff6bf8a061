"""``adgdm score``: a model folder + data -> one row per table row, time step, image, frame or
record with its score, the model's 0/1 flag, a probability calibrated on the training scores (0.5
at the threshold), the label when the data has one, and for tables and series the top contributing
features/channels (``explain``). The reading and scoring are :meth:`adgdm.Pipeline.score`'s."""
from __future__ import annotations

import numpy as np

from .._atomic import check_output, check_table_suffix, write_frame
from ..pipeline import Pipeline

__all__ = ["run_score"]


def run_score(model_dir, data, *, out, columns=None, label=None, time_col=None, explain=True, top_k=3,
              progress=None, force: bool = False, reader=None) -> dict:
    """Score ``data`` with the model in ``model_dir`` and write ``out``; an existing ``out`` is
    refused unless ``force``, and ``out`` is never the data or the model."""
    check_output(out, [data, model_dir], force)
    check_table_suffix(out)
    pipe = Pipeline.load(model_dir)
    res = pipe.score(data, columns=columns, label=label, time=time_col, reader=reader, explain=explain,
                     top_k=top_k, progress=progress)
    frame = res.to_frame()
    write_frame(frame, out)
    return summarize(pipe, res, frame, out)


def summarize(pipe: Pipeline, res, frame, out) -> dict:
    """What ``adgdm score --json`` prints."""
    from ..modalities import get_modality

    card = pipe.card_
    units = get_modality(card.modality).scored_units
    summary = {"out": str(out), "rows": len(frame), "flagged": int(frame["flagged"].sum()),
               "threshold": float(pipe.detector_.threshold_), "modality": card.modality, "detector": card.detector}
    if "in_sample" in frame:
        summary["in_sample"] = int(frame["in_sample"].sum())
    if "in_sample" in frame or res.notes:
        summary["notes"] = list(res.notes)
    if res.extras.get("unseen") is not None:
        summary["unseen_categories"] = int(sum(res.extras["unseen"].values()))
        summary["unseen_by_column"] = dict(res.extras["unseen"])
    if res.extras.get("blank"):
        summary["blank_cells"] = int(sum(res.extras["blank"].values()))
        summary["blank_by_column"] = dict(res.extras["blank"])
    if "label" in frame:
        from ..metrics import auroc

        y, s = frame["label"].to_numpy(), frame["score"].to_numpy()
        if 0 < y.sum() < len(y):
            summary["auroc"] = round(float(auroc(y, s)), 4)
            summary["auroc_covers"] = f"all {len(y):,} {units}"
            fitted = frame["in_sample"].to_numpy() == 1 if "in_sample" in frame else np.zeros(len(y), bool)
            if fitted.any():  # the fitted units carry their training scores: say what the figure covers
                summary["auroc_covers"] += f" ({int(fitted.sum()):,} of them fitted on)"
                new = ~fitted
                if 0 < y[new].sum() < new.sum():
                    summary["auroc_new"] = round(float(auroc(y[new], s[new])), 4)
                    summary["auroc_new_covers"] = f"the {int(new.sum()):,} {units} not fitted on"
    return summary
