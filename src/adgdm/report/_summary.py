"""Plain words for the report: events (runs of flagged steps) and the summary of what is flagged and why.

Nothing here needs plotly.

Example
-------
>>> import numpy as np
>>> events(np.array([0, 5, 6, 0, 9.0]), np.array([0, 1, 1, 0, 1]))
[(4, 5, 4), (1, 3, 2)]
"""
from __future__ import annotations

import numpy as np

from ._html import fmt

__all__ = ["events", "threshold_reason", "summary"]


def events(scores: np.ndarray, flagged: np.ndarray) -> list[tuple[int, int, int]]:
    """``[(start, stop, peak)]`` of runs of consecutive flagged steps (``stop`` exclusive, ``peak`` the
    index of the run's highest score), highest peak first."""
    m = np.concatenate([[False], np.asarray(flagged, bool), [False]])
    d = np.flatnonzero(np.diff(m.astype(np.int8)))
    out = [(int(a), int(b), int(a + np.argmax(scores[a:b]))) for a, b in zip(d[0::2], d[1::2])]
    return sorted(out, key=lambda e: -scores[e[2]])


def _plural(n: int, unit: str) -> str:
    return f"{n:,} {unit}" + ("" if n == 1 else "s")


def threshold_reason(rule: dict | None, unit: str = "row") -> str:
    """How the threshold was set, in words, from a threshold rule such as ``cli.json``'s
    ``{"method": "contamination", "contamination": 0.1}``; ``None`` when it is not known.

    >>> threshold_reason({"method": "contamination", "contamination": 0.05})
    'set so that about 5% of the training rows would be flagged (contamination 0.05)'
    """
    method = (rule or {}).get("method")
    if method == "contamination" and rule.get("contamination") is not None:
        c = float(rule["contamination"])
        return f"set so that about {100 * c:g}% of the training {unit}s would be flagged (contamination {c:g})"
    if method == "pot":
        q = float(rule.get("q", 1e-3))  # apply_threshold's default when the rule does not name q
        return (f"set by extreme value theory (peaks over threshold) on the training scores, so that a normal "
                f"{unit} exceeds it with probability about {q:g}")
    if method == "fixed":
        return "a fixed value chosen when the model was fitted"
    return "how it was chosen is not recorded here (no model with a threshold rule was given)"


def _drivers(c: np.ndarray, feats: list[str], word: str) -> str:
    total = float(c.sum())
    if total <= 0:
        return f"every {word[:-1]} contributes zero"
    top = np.argsort(-c, kind="stable")[:3]
    share = c[top] / total
    listed = ", ".join(f"{feats[j]} ({s:.0%})" for j, s in zip(top, share))
    if share.sum() >= 0.5:
        return f"its score is driven mostly by {word} {listed}"
    return f"its score is spread over many {word}; the largest shares are {listed}"


def summary(scores, threshold=None, *, ids, unit: str = "row", rule: dict | None = None, contributions=None,
            feature_names=None, labels=None) -> list[str]:
    """Sentences saying how many ``unit``s are flagged, why (the threshold and how it was set), the most
    anomalous one (for ``unit="step"``: the strongest event) and what drives its score."""
    s = scores
    n = len(s)
    word = "channels" if unit == "step" else "columns"
    if threshold is None:
        out = [f"No threshold was given, so nothing is flagged: the scores only rank the {_plural(n, unit)}."]
        flagged = np.zeros(n, bool)
    else:
        flagged = s > threshold  # the detectors' predict(): anomaly when the score exceeds threshold_
        k = int(flagged.sum())
        why = threshold_reason(rule, unit)
        if k:
            out = [f"{k:,} of {_plural(n, unit)} ({k / n:.1%}) {'is' if k == 1 else 'are'} flagged: their score "
                   f"exceeds the threshold {fmt(threshold)}, {why}."]
        else:
            out = [f"None of the {_plural(n, unit)} is flagged: no score exceeds the threshold {fmt(threshold)}, "
                   f"{why}."]
    ev = events(s, flagged) if unit == "step" and flagged.any() else []
    if ev:
        a, b, p = ev[0]
        which = "The strongest event" if len(ev) > 1 else "It"
        out.append(f"The flagged steps form {_plural(len(ev), 'event')} (runs of consecutive steps). {which} runs "
                   f"from {ids[a]} to {ids[b - 1]} ({_plural(b - a, 'step')}) and peaks at {ids[p]} with score "
                   f"{fmt(s[p])}")
        c = None if contributions is None else contributions[a:b].sum(0)
    else:
        p = int(np.argmax(s))
        out.append(f"The most anomalous {unit} is {ids[p]} with score {fmt(s[p])}")
        c = None if contributions is None else contributions[p]
    out[-1] += f"; {_drivers(c, feature_names, word)}." if c is not None else "."
    if labels is not None and threshold is not None and labels.any():
        pos, tp = int(labels.sum()), int((flagged & (labels == 1)).sum())
        fp = int((flagged & (labels == 0)).sum())
        out.append(f"Of the {_plural(pos, unit)} labelled anomalous, {tp:,} ({tp / pos:.0%}) "
                   f"{'is' if tp == 1 else 'are'} flagged; {_plural(fp, f'flagged {unit}')} "
                   f"{'is' if fp == 1 else 'are'} labelled normal.")
    return out
