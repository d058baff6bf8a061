"""The ``Report`` builder: each ``add_*`` checks its input at once (errors point at the bad call)
and renders its section; ``to_html`` assembles the page with plotly.js inlined once."""
from __future__ import annotations

import re
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np

from . import _checks, _html, _summary
from ._html import esc, fmt

__all__ = ["Report"]


def _k(k, what="k") -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{what} must be a positive integer, got {k!r}")
    return int(k)


def _threshold(threshold) -> float | None:
    if threshold is None:
        return None
    try:
        thr = float(threshold)
    except (TypeError, ValueError):
        thr = float("nan")
    if not np.isfinite(thr):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}")
    return thr


def _time_axis(time) -> np.ndarray:
    """1-D numbers or datetime64[ms]; date strings (a CSV column) and tz-aware pandas times are parsed,
    keeping the wall-clock time."""
    t = np.asarray(time.to_numpy() if hasattr(time, "to_numpy") else time)
    if t.ndim == 1 and t.dtype.kind in "OUS":
        try:
            import pandas as pd

            with warnings.catch_warnings():  # pandas warns when it falls back to per-element parsing
                warnings.simplefilter("ignore", UserWarning)
                parsed = pd.to_datetime(pd.Series(t))
            if getattr(parsed.dtype, "tz", None) is not None:
                parsed = parsed.dt.tz_localize(None)
            t = parsed.to_numpy()
        except (ImportError, ValueError, TypeError):
            raise ValueError("time must be numbers, datetime64 or date strings; could not parse e.g. "
                             f"{t[0]!r}") from None
    elif getattr(getattr(time, "dtype", None), "tz", None) is not None:  # tz-aware pandas column
        t = (time.dt.tz_localize(None) if hasattr(time, "dt") else time.tz_localize(None)).to_numpy()
    if t.ndim != 1 or t.dtype.kind not in "iufM":
        raise ValueError(f"time must be 1-D numbers or datetime64, got dtype {t.dtype} shape {t.shape}")
    return t


def _stats(items) -> str:
    return '<div class="stats">' + "".join(f"<span>{esc(k)} <b>{esc(v)}</b></span>" for k, v in items) + "</div>"


def _names_list(names, limit: int = 40) -> str:
    """``a, b, c and 12 more``."""
    names = list(names)
    more = f" and {len(names) - limit:,} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


class Report:
    """A self-contained HTML report: plotly figures, PNG tiles as ``data:`` URIs, no network at view time.

    Every ``add_*`` returns the report, so calls chain.

    Example
    -------
    >>> import numpy as np
    >>> from adgdm.report import Report
    >>> s = np.random.default_rng(0).normal(size=200); y = (s > 1.5).astype(int)
    >>> rep = Report(title="adgdm report", subtitle="demo").add_scores(s, threshold=1.5, labels=y)
    >>> rep = rep.add_summary(s, 1.5, threshold_rule={"method": "fixed"})   # placed first on the page
    >>> rep.save("report.html")                                     # doctest: +SKIP
    """

    def __init__(self, title: str = "adgdm report", subtitle: str | None = None, *, date: str | None = None):
        self.title = title
        self.subtitle = subtitle
        self.date = date  # None: the time of to_html(); fix it for byte-identical pages
        self._sections: list[tuple[str | None, str | None, str]] = []  # (id, title, html)
        self._n_figures = 0

    def __repr__(self) -> str:
        return f"Report({self.title!r}, {len(self._sections)} sections, {self._n_figures} figures)"

    # -- plumbing -------------------------------------------------------------------------------
    @property
    def n_figures(self) -> int:
        """Plotly figures added so far."""
        return self._n_figures

    def _fig(self, fig) -> str:
        from . import figures

        self._n_figures += 1
        return f'<div class="fig">{figures.to_div(fig, f"adgdm-fig-{self._n_figures}")}</div>'

    def _add(self, title: str | None, body: str) -> Report:
        if title is None:
            self._sections.append((None, None, f"<section>{body}</section>"))
            return self
        slug = re.sub(r"[^a-z0-9]+", "-", str(title).lower()).strip("-")[:40] or "section"
        sid = f"s{len(self._sections) + 1}-{slug}"
        self._sections.append((sid, str(title), _html.section(sid, str(title), body)))
        return self

    # -- sections -------------------------------------------------------------------------------
    def add_scores(self, scores, threshold: float | None = None, labels=None, ids=None, *,
                   title: str = "Anomaly scores", bins: int = 50, log: bool | None = None) -> Report:
        """Score histogram with the threshold line; with 0/1 ``labels`` also ROC and PR curves.

        ``log=None`` bins ``log10(score)`` when no score is negative and the central 98% of the positive
        ones span over three decades (scores of 0 are counted in the leftmost bin). A few extreme scores
        far beyond the rest are left off the histogram's axis (and counted in a note), so they cannot
        squash every other bar into one bin.

        >>> rep.add_scores(det.decision_function(X), threshold=det.threshold_, labels=y)   # doctest: +SKIP
        """
        from . import figures

        figures.require_plotly()
        s = _checks.vector(scores, "scores")
        bins = _k(bins, "bins")
        y = None if labels is None else _checks.labels01(labels, len(s))
        names = None if ids is None else _checks.names(ids, len(s), "ids", "scores", "")
        thr = _threshold(threshold)
        pos = s[s > 0]
        if log is None:  # zeros are allowed (some detectors floor scores at 0): they go in the leftmost bin
            lo, hi = np.quantile(pos, [0.01, 0.99]) if pos.size else (1.0, 1.0)
            log = bool(s.min() >= 0 and (thr is None or thr > 0) and hi / lo > 1e3)
        elif log and (s.min() < 0 or not pos.size or (thr is not None and thr <= 0)):
            raise ValueError("log=True needs scores >= 0 with some positive, and a positive threshold")
        items = [("n", f"{len(s):,}"), ("min", fmt(s.min())), ("median", fmt(np.median(s))), ("max", fmt(s.max()))]
        if thr is not None:
            above = s > thr  # the detectors' predict(): anomaly when the score exceeds threshold_
            items += [("threshold", fmt(thr)), ("flagged", f"{int(above.sum()):,} ({above.mean():.1%})")]
        body, notes = [], []
        if y is not None:
            items.append(("labelled anomalies", f"{int(y.sum()):,} ({y.mean():.1%})"))
            if thr is not None:
                tp = int((above & (y == 1)).sum())
                prec = tp / max(int(above.sum()), 1)
                rec = tp / max(int(y.sum()), 1)
                f1 = 2 * prec * rec / (prec + rec) if prec + rec > 0 else 0.0
                items += [("precision@thr", f"{prec:.3f}"), ("recall@thr", f"{rec:.3f}"), ("F1@thr", f"{f1:.3f}")]
        if names is not None:
            top = np.argsort(-s, kind="stable")[:5]
            items.append(("highest", ", ".join(f"{names[i]} ({fmt(s[i])})" for i in top)))
        body.append(_stats(items))
        body.append(self._fig(figures.score_histogram(s, y, thr, bins=bins, log=log)))
        if y is not None and 0 < y.sum() < len(y):
            roc, auroc = figures.roc_figure(s, y)
            pr, auprc = figures.pr_figure(s, y)
            body.insert(1, _stats([("AUROC", f"{auroc:.4f}"), ("AUPRC", f"{auprc:.4f}")]))
            body.append(f'<div class="grid2">{self._fig(roc)}{self._fig(pr)}</div>')
        elif y is not None:
            notes.append(f"ROC and PR need both classes; every label is {int(y[0])}.")
        if log:
            zeros = int((s == 0).sum())
            notes.append("Scores span several decades, so the histogram bins log10(score)."
                         + (f" {zeros:,} score{'s' if zeros > 1 else ''} of 0 (no logarithm) "
                            f"{'are' if zeros > 1 else 'is'} counted in the leftmost bin." if zeros else ""))
        x, lo, hi = figures.histogram_axis(s, thr, log)
        for n_out, side, edge, worst in ((int((x > hi).sum()), "above", hi, s.max()),
                                         (int((x < lo).sum()), "below", lo, s.min())):
            if n_out:
                edge = 10 ** edge if log else edge
                notes.append(f"{n_out:,} extreme score{'s lie' if n_out > 1 else ' lies'} {side} {fmt(edge)} "
                             f"(the most extreme is {fmt(worst)}), beyond the histogram's axis, so the other bars "
                             "stay readable; they still count in the numbers above.")
        return self._add(title, "\n".join(body + [_note(n) for n in notes]))

    def add_top_anomalies(self, ids, scores, contributions=None, feature_names=None, k: int = 20, *,
                          labels=None, n_features: int = 3, title: str = "Top anomalies", events: bool = False,
                          flagged=None, threshold: float | None = None, row_feature_names=None) -> Report:
        """Table of the ``k`` highest-scoring rows, each with its largest feature contributions
        (``contributions``: ``(n, d)`` non-negative, shown as a share of the row's total).

        ``row_feature_names``: ``(n, d)`` names per row (e.g. ``service=ftp_data``, a categorical
        column named by the row's value); default ``feature_names`` for every row.

        ``events=True`` is for a series (``ids`` in time order): consecutive flagged steps (``flagged``,
        or ``scores > threshold``) are one event, listed once with its start, end, length, peak score
        and the features that contribute most over the whole event; the ``k`` highest peaks are shown.

        >>> rep.add_top_anomalies(ids, s, np.abs(X - X.mean(0)), feature_names=cols)  # doctest: +SKIP
        >>> rep.add_top_anomalies(times, s, threshold=det.threshold_, events=True)     # doctest: +SKIP
        """
        s = _checks.vector(scores, "scores")
        k, n_features = _k(k), _k(n_features, "n_features")
        names = _checks.names(ids, len(s), "ids", "scores", "{}")
        y = None if labels is None else _checks.labels01(labels, len(s))
        C, feats = (None, None) if contributions is None else _checks.contributions(contributions, len(s),
                                                                                     feature_names)
        if row_feature_names is not None and (C is None or np.shape(row_feature_names) != C.shape):
            raise ValueError(f"row_feature_names must have the shape of contributions "
                             f"{None if C is None else C.shape}, got {np.shape(row_feature_names)}")
        feat_header = [f"top {n_features} features (share of the {'event' if events else 'row'}'s total)"]
        if events:
            if flagged is None and threshold is None:
                raise ValueError("events=True groups flagged steps into events; give flagged= or threshold=")
            f = (s > _threshold(threshold)) if flagged is None else _checks.labels01(flagged, len(s), "flagged") > 0
            ev = _summary.events(s, f)
            if not ev:
                return self._add(title, _note(f"No step is flagged, so there are no events; the highest score is "
                                              f"{fmt(s.max())} at {names[int(np.argmax(s))]}."))
            headers = ["rank", "start", "end", "steps", "peak score", "peak at"] + (
                ["labelled anomalous"] if y is not None else []) + (feat_header if C is not None else [])
            rows = []
            for r, (a, b, p) in enumerate(ev[:k], 1):
                row = [r, names[a], names[b - 1], b - a, s[p], names[p]] + (
                    [f"{y[a:b].mean():.0%} of its steps"] if y is not None else [])
                if C is not None:
                    row.append(self._contrib(C[a:b].sum(0), feats, n_features))
                rows.append(row)
            numeric = {0, 3, 4}
            note = (f"{len(ev):,} events (runs of consecutive flagged steps, {int(f.sum()):,} steps in all); "
                    f"each is listed once. Showing {len(rows)}, highest peak first.")
        else:
            order = np.argsort(-s, kind="stable")[:k]
            headers = ["rank", "id", "score"] + (["label"] if y is not None else []) + (
                feat_header if C is not None else [])
            rows = []
            for r, i in enumerate(order, 1):
                row = [r, names[i], s[i]] + ([int(y[i])] if y is not None else [])
                if C is not None:
                    own = feats if row_feature_names is None else [str(v) for v in row_feature_names[i]]
                    row.append(self._contrib(C[i], own, n_features))
                rows.append(row)
            numeric = {0, 2}
            note = f"{len(order)} of {len(s):,} rows, highest score first."
        raw = {len(headers) - 1} if C is not None else set()
        return self._add(title, _note(note) + _html.table(headers, rows, numeric=numeric, raw_columns=raw))

    def add_summary(self, scores, threshold: float | None = None, *, ids=None, unit: str = "row",
                    threshold_rule: dict | None = None, contributions=None, feature_names=None, labels=None,
                    title: str = "Summary") -> Report:
        """A few plain sentences at the top of the page (whenever it is called): how many ``unit``s
        score above ``threshold``, how the threshold was set (``threshold_rule``, e.g. ``cli.json``'s
        ``{"method": "contamination", "contamination": 0.1}``; ``None``: said to be unknown), the most
        anomalous one (for ``unit="step"`` the strongest run of flagged steps) and the features that
        drive its score (``contributions``, ``(n, d)`` non-negative).

        >>> rep.add_summary(s, det.threshold_, ids=ids, threshold_rule={"method": "contamination",
        ...                 "contamination": det.contamination})                              # doctest: +SKIP
        """
        s = _checks.vector(scores, "scores")
        thr = _threshold(threshold)
        names = _checks.names(ids, len(s), "ids", "scores", "{}")
        y = None if labels is None else _checks.labels01(labels, len(s))
        C, feats = (None, None) if contributions is None else _checks.contributions(contributions, len(s),
                                                                                     feature_names)
        text = _summary.summary(s, thr, ids=names, unit=str(unit), rule=threshold_rule, contributions=C,
                                feature_names=feats, labels=y)
        self._add(title, "".join(f"<p>{esc(t)}</p>" for t in text))
        self._sections.insert(0, self._sections.pop())  # the reader's first question: what is flagged, and why
        return self

    @staticmethod
    def _contrib(c: np.ndarray, feats: list[str], n: int) -> str:
        total = float(c.sum())
        if total <= 0:
            return '<span class="note">all zero</span>'
        parts = []
        for j in np.argsort(-c, kind="stable")[:n]:
            share = c[j] / total
            parts.append(f'<span>{esc(feats[j])}</span><span class="cbar"><span style="width:{share * 100:.1f}%">'
                         f'</span></span><span>{share:.0%}</span>')
        return f'<div class="contrib">{"".join(parts)}</div>'

    def add_series(self, time, values, scores, labels=None, flagged=None, channel_names=None, *,
                   threshold: float | None = None, title: str = "Time series", max_channels: int = 12,
                   max_points: int = 4000, contributions=None) -> Report:
        """Channels and score on a shared time axis; labelled ranges (runs of ``labels == 1``) shaded
        red, flagged ranges orange. ``time=None`` uses the step index; ``flagged=None`` with a
        ``threshold`` flags ``scores > threshold``. Long series are thinned keeping each bucket's
        min and max, so spikes stay visible.

        Up to ``max_channels`` channels are drawn, each in its own row. With more, ``contributions``
        (``(T, channels)`` non-negative, e.g. a score file's ``contrib:<name>`` columns) picks the
        channels that drive the flagged steps' scores; the others are named in a note.

        >>> rep.add_series(None, X, det.decision_function(X), labels=y, threshold=det.threshold_)  # doctest: +SKIP
        """
        from . import figures

        figures.require_plotly()
        s = _checks.vector(scores, "scores")
        T = len(s)
        v = np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values)
        if channel_names is None and hasattr(values, "columns"):
            channel_names = [str(c) for c in values.columns]
        if v.ndim == 1:
            v = v[:, None]
        if v.ndim != 2 or v.shape[1] == 0:
            raise ValueError(f"values must be (T,) or (T, channels), got shape {v.shape}")
        _checks.same_length(v, T, "values", "scores")
        try:
            v = v.astype(np.float64)
        except (ValueError, TypeError):
            raise ValueError(f"values must be numeric, got dtype {v.dtype}") from None
        if np.isinf(v).any():
            raise ValueError("values contain inf; NaN gaps are fine (drawn as gaps), inf is not")
        t = np.arange(T) if time is None else _time_axis(time)
        _checks.same_length(t, T, "time", "scores")
        if t.dtype.kind == "M":
            t = t.astype("datetime64[ms]")
            if np.isnat(t).any():
                raise ValueError(f"time has {int(np.isnat(t).sum())} missing dates (NaT)")
        elif not np.isfinite(t.astype(float)).all():
            raise ValueError("time contains NaN or inf")
        if T > 1 and (np.diff(t.astype(np.int64) if t.dtype.kind == "M" else t.astype(float)) < 0).any():
            raise ValueError("time must be sorted (non-decreasing)")
        names = _checks.names(channel_names, v.shape[1], "channel_names", "values' channels", "channel {}")
        y = None if labels is None else _checks.labels01(labels, T, "labels", "scores")
        thr = _threshold(threshold)
        if flagged is None and thr is not None:
            flagged = s > thr
        f = None if flagged is None else _checks.labels01(flagged, T, "flagged", "scores")
        max_channels = _k(max_channels, "max_channels")
        shown, pick_note = self._pick_channels(names, f, max_channels, contributions, T)
        fig = figures.series_figure(t, v, s, [esc(n) for n in names], y, f, thr, max_channels,
                                    _k(max_points, "max_points"), channels=shown)
        items = [("steps", f"{T:,}"), ("channels", str(v.shape[1]))]
        lab_runs = figures.runs(y, max_runs=10**9) if y is not None else []
        flag_runs = figures.runs(f, max_runs=10**9) if f is not None else []
        if y is not None:
            items.append(("labelled ranges", f"{len(lab_runs):,} ({int(y.sum()):,} steps)"))
        if f is not None:
            items.append(("flagged ranges", f"{len(flag_runs):,} ({int(f.sum()):,} steps)"))
        if y is not None and f is not None and lab_runs:
            hit = sum(bool(f[a:b].any()) for a, b in lab_runs)
            items.append(("labelled ranges with a flag", f"{hit}/{len(lab_runs)}"))
        notes = []
        if pick_note:
            notes.append(pick_note)
        if T > max_points:
            notes.append(f"{T:,} steps thinned to at most {max_points:,} points per line "
                         "(each bucket's min and max kept).")
        notes.append("Red: labelled anomalies (all rows). Orange: flagged by the detector (score row).")
        return self._add(title, _stats(items) + self._fig(fig) + "".join(_note(n) for n in notes))

    @staticmethod
    def _pick_channels(names, flagged, max_channels: int, contributions, T: int):
        """``(indices to draw, note)``: every channel when they fit, else the largest contributors to
        the flagged steps (all steps when none is flagged), else the first ones."""
        d = len(names)
        if contributions is None:
            if d <= max_channels:
                return list(range(d)), ""
            return list(range(max_channels)), (f"Showing the first {max_channels} of {d} channels (give "
                                               f"contributions to pick them by what drives the score); not shown: "
                                               f"{_names_list(names[max_channels:])}.")
        C, _ = _checks.contributions(contributions, T, ref="scores")
        if C.shape[1] != d:
            raise ValueError(f"contributions has {C.shape[1]} columns but values has {d} channels")
        if d <= max_channels:
            return list(range(d)), ""
        steps = flagged.astype(bool) if flagged is not None and flagged.any() else np.ones(T, bool)
        total = C[steps].sum(0)
        share = total / total.sum() if total.sum() > 0 else total
        order = np.argsort(-total, kind="stable")
        shown, rest = order[:max_channels].tolist(), order[max_channels:]
        where = "flagged steps" if flagged is not None and flagged.any() else "steps"
        listed = ", ".join(f"{names[j]} ({share[j]:.0%})" for j in shown)
        return shown, (f"{d} channels: showing the {max_channels} that contribute most to the {where}' scores, "
                       f"largest first: {listed}. Not shown: {_names_list([names[j] for j in rest])}.")

    def add_image_overlays(self, images, maps, titles=None, masks=None, k: int = 12, *, scores=None,
                           title: str = "Anomaly maps", scale: str = "global", size: int = 192) -> Report:
        """A grid of ``[image | anomaly-map heat overlay]`` tiles, with the ground-truth mask outlined
        in green. With ``scores`` the ``k`` highest-scoring images are shown, otherwise the first ``k``.
        ``scale="global"`` uses one colour range for all shown maps (comparable); ``"per_image"``
        stretches each map.

        >>> rep.add_image_overlays(X_test, det.score_maps(X_test)[1], masks=gt, scores=s)   # doctest: +SKIP
        """
        from . import images as im

        imgs = _checks.images(images)
        n = imgs.shape[0]
        amaps = _checks.maps(maps, imgs.shape[:3])
        mks = None if masks is None else _checks.masks(masks, imgs.shape[:3])
        if scale not in ("global", "per_image"):
            raise ValueError(f"scale must be 'global' or 'per_image', got {scale!r}")
        k, size = _k(k), _k(size, "size")
        if scores is not None:
            s = _checks.vector(scores, "scores")
            _checks.same_length(s, n, "scores", "images")
            order = np.argsort(-s, kind="stable")[:k]
        else:
            s, order = None, np.arange(min(k, n))
        caps = _checks.names(titles, n, "titles", "images", "image {}")
        if s is not None:
            caps = [f"{c} · score {fmt(s[i])}" for i, c in enumerate(caps)]
        lo, hi = float(amaps[order].min()), float(amaps[order].max())
        tiles = []
        for i in order:
            a, b = (float(amaps[i].min()), float(amaps[i].max())) if scale == "per_image" else (lo, hi)
            rgb = im.overlay_tile(imgs[i], amaps[i], a, b, None if mks is None else mks[i], size=size)
            tiles.append(self._tile(im.data_uri(rgb), caps[i], "overlay"))
        bar = (f'<img class="cbar-img" alt="colour scale" style="height:10px;width:160px;vertical-align:middle" '
               f'src="{im.data_uri(im.colorbar())}">')
        rng = f"[{fmt(lo)}, {fmt(hi)}]" if scale == "global" else "each map's own range"
        legend = (f'<p class="note">Left: image. Right: anomaly map over the image, low {bar} high, '
                  f"scaled to {esc(rng)}."
                  + (" Green outline: ground-truth mask." if mks is not None else "")
                  + f" Showing {len(order)} of {n}" + (", highest score first." if s is not None else ".") + "</p>")
        return self._add(title, legend + f'<div class="tiles" style="--tile:{2 * min(size, 192) + 20}px">'
                         + "".join(tiles) + "</div>")

    def add_objects(self, images, objects, titles=None, *, scores=None, k: int = 8, title: str = "Top objects",
                    size: int = 192) -> Report:
        """The objects a detector names (``video-obj``'s :meth:`objects`): for the ``k`` images with
        objects that score highest (``scores``, e.g. the frame scores; default the top object's
        score), a thumbnail with the top object's box drawn in red, and a table: image, its score,
        the object's score, box, the feature group that made it abnormal and its feature values.
        ``objects``: per image a list of dicts ``box`` ``[x0, y0, x1, y1]`` (image pixels),
        ``score``, ``group`` and optionally ``features`` (name: value), most abnormal first.

        >>> rep.add_objects(frames, det.objects(clip), scores=det.decision_function(clip))  # doctest: +SKIP
        """
        from . import images as im

        imgs = _checks.images(images)
        n = imgs.shape[0]
        objs = _checks.objects(objects, n)
        caps = _checks.names(titles, n, "titles", "images", "image {}")
        have = np.array([len(o) > 0 for o in objs])
        top = np.array([o[0]["score"] if o else -np.inf for o in objs], float)
        s = top if scores is None else _checks.vector(scores, "scores")
        _checks.same_length(s, n, "scores", "images")
        k, size = _k(k), _k(size, "size")
        order = [int(i) for i in np.argsort(-s, kind="stable") if have[i]][:k]
        if not order:
            return self._add(title, _note("No objects were found in these images."))
        names = list(dict.fromkeys(f for i in order for f in objs[i][0].get("features", {})))
        head = ["image", "score", "object score", "box (x0, y0, x1, y1)", "group"] + names
        rows, tiles = [], []
        for i in order:
            o = objs[i][0]
            box = [float(v) for v in o["box"]]
            rows.append([caps[i], s[i], o["score"], ", ".join(fmt(v) for v in box), o.get("group", "")]
                        + [o.get("features", {}).get(f, float("nan")) for f in names])
            tiles.append(self._tile(im.data_uri(im.boxed_tile(imgs[i], [box], size)),
                                    f"{caps[i]} · {o.get('group', '')} · score {fmt(s[i])}", "gallery"))
        num = {1, 2, *range(5, len(head))}
        legend = _note(f"The {len(order)} highest-scoring of {int(have.sum()):,} images with objects (of {n:,}); "
                       "red box: the image's most abnormal object; group: the feature group (speed, size, "
                       "appearance) that made it abnormal.")
        return self._add(title, legend + f'<div class="tiles" style="--tile:{min(size, 192)}px">' + "".join(tiles)
                         + "</div>" + _html.table(head, rows, numeric=num))

    @staticmethod
    def _tile(uri: str, caption: str, cls: str) -> str:
        return (f'<figure class="tile"><img class="{cls}" alt="{esc(caption)}" src="{uri}">'
                f"<figcaption>{esc(caption)}</figcaption></figure>")

    def add_gallery(self, images, masks=None, titles=None, k: int = 24, *, title: str = "Generated anomalies",
                    size: int = 160) -> Report:
        """A grid of images (e.g. generated anomalies), with masks outlined in green when given.

        >>> rep.add_gallery(fakes, masks=fake_masks, titles=[f"perlin #{i}" for i in range(24)])  # doctest: +SKIP
        """
        from . import images as im

        imgs = _checks.images(images)
        n = imgs.shape[0]
        mks = None if masks is None else _checks.masks(masks, imgs.shape[:3])
        caps = _checks.names(titles, n, "titles", "images", "#{}")
        shown, size = range(min(_k(k), n)), _k(size, "size")
        tiles = [self._tile(im.data_uri(im.plain_tile(imgs[i], None if mks is None else mks[i], size)), caps[i],
                            "gallery") for i in shown]
        note = f"Showing {len(shown)} of {n} images." + (" Green outline: anomaly mask." if mks is not None else "")
        return self._add(title, _note(note) + f'<div class="tiles" style="--tile:{min(size, 192)}px">'
                         + "".join(tiles) + "</div>")

    def add_bench(self, df, metric: str | None = None, *, title: str = "Benchmark") -> Report:
        """Benchmark results (long: one row per dataset, detector, seed). Per detector: a bar chart of
        the mean metric (mean over seeds per dataset, then over datasets) with the mean seed standard
        deviation as error bars, a summary table, a per-dataset heat table and, with ``fit_s`` /
        ``score_s`` columns, a time chart. ``metric=None`` prefers auroc, then vus_pr, auprc, f1, ...

        >>> rep.add_bench(pd.read_csv("benchmarks/results/skab.csv"))   # doctest: +SKIP
        """
        from . import figures
        from .bench import section_html, summarise

        figures.require_plotly()
        return self._add(title, section_html(summarise(df, metric), self._fig))

    def add_text(self, text: str, *, title: str | None = None, html: bool = False) -> Report:
        """A paragraph. ``text`` is escaped markdown (paragraphs, ``- `` lists, ``**bold**``,
        ``*italic*``, ``code``); ``html=True`` inserts it verbatim, for trusted HTML only.

        >>> rep.add_text("Detector **diffusion**, fitted on `train.csv`.", title="Setup")   # doctest: +SKIP
        """
        return self._add(title, str(text) if html else _html.markdown(text))

    def add_table(self, df, title: str | None = None, *, max_rows: int = 200, index: bool = False) -> Report:
        """A pandas DataFrame as an escaped HTML table (first ``max_rows`` rows).

        >>> rep.add_table(pd.DataFrame({"detector": ["a"], "auroc": [0.9]}), "Results")   # doctest: +SKIP
        """
        if not hasattr(df, "columns") or not hasattr(df, "itertuples"):
            raise ValueError(f"add_table needs a pandas DataFrame, got {type(df).__name__}")
        if len(df.columns) == 0:
            raise ValueError("add_table got a DataFrame with no columns")
        d = df.reset_index() if index else df
        num = {j for j, dt in enumerate(d.dtypes) if dt.kind in "iuf"}
        rows = [list(r) for r in d.head(_k(max_rows, "max_rows")).itertuples(index=False)]
        body = _html.table([str(c) for c in d.columns], rows, numeric=num)
        if len(d) > max_rows:
            body += _note(f"First {max_rows} of {len(d):,} rows.")
        elif len(d) == 0:
            body += _note("(no rows)")
        return self._add(title, body)

    # -- output ---------------------------------------------------------------------------------
    def to_html(self) -> str:
        """The page as one string (plotly.js inlined once when there is at least one figure)."""
        from . import figures

        date = self.date or datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        body = "\n".join(h for _, _, h in self._sections) or _note("This report has no sections.")
        toc = [(sid, t) for sid, t, _ in self._sections if sid is not None]
        return _html.page(title=str(self.title), subtitle=self.subtitle, date=date, version=_html.adgdm_version(),
                          sections=toc, body=body, plotlyjs=figures.plotlyjs() if self._n_figures else None)

    def save(self, path) -> Path:
        """Write the page to ``path`` atomically (temporary file beside it, then ``os.replace``)."""
        return _html.write_atomic(Path(path), self.to_html())
