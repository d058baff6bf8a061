"""Plotly figures for the report. Every builder takes checked numpy arrays and returns a ``go.Figure``.

User text that ends up in a figure (names, titles) is HTML-escaped by the caller: plotly renders a
subset of HTML tags in labels, so escaping keeps a name such as ``<b>`` literal.

Example
-------
>>> import numpy as np
>>> from adgdm.report import figures
>>> fig = figures.score_histogram(np.random.default_rng(0).normal(size=100), threshold=1.5)
>>> div = figures.to_div(fig, "fig-1")      # a <div> + <script>; plotly.js itself is added once per page
"""
from __future__ import annotations

import numpy as np

__all__ = ["require_plotly", "plotlyjs", "to_div", "score_histogram", "roc_figure", "pr_figure",
           "series_figure", "histogram_axis", "bench_bars", "bench_times"]

MISSING = "the report needs the [report] extra: pip install 'adgdm[report]'"
NORMAL, ANOMALY, FLAGGED, THRESH = "#4c78a8", "#d1495b", "#f2a541", "#24292f"
CONFIG = {"displaylogo": False, "responsive": True,
          "toImageButtonOptions": {"format": "png", "scale": 2}}


def require_plotly():
    """``plotly.graph_objects``, or an ImportError naming the extra to install."""
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise ImportError(MISSING) from None
    return go


def plotlyjs() -> str:
    """The plotly.js bundle shipped with plotly, to inline once per page."""
    require_plotly()
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def _template():
    go = require_plotly()
    axis = dict(gridcolor="#eaeef2", linecolor="#8c959f", zeroline=False, ticks="outside",
                tickcolor="#8c959f", automargin=True, title=dict(standoff=6))
    # A small explicit template: the default "plotly" one adds ~10 kB of JSON to every figure.
    return go.layout.Template(layout=dict(
        font=dict(family='-apple-system, "Segoe UI", "Helvetica Neue", Arial, sans-serif', size=12, color="#1f2328"),
        paper_bgcolor="white", plot_bgcolor="white", xaxis=axis, yaxis=axis,
        colorway=[NORMAL, ANOMALY, "#54a24b", FLAGGED, "#b279a2", "#9d755d", "#72b7b2", "#ff9da6"],
        hoverlabel=dict(font_size=12), title=dict(font=dict(size=14), x=0.01, xanchor="left"),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
        margin=dict(l=60, r=20, t=48, b=44)))


def _finish(fig, height: int, title: str | None = None):
    fig.update_layout(template=_template(), height=int(height))
    if title is not None:
        fig.update_layout(title_text=title)
    return fig


def to_div(fig, div_id: str) -> str:
    """The figure as an HTML fragment without plotly.js (the page inlines that once)."""
    import plotly.io as pio

    return pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div_id, config=CONFIG,
                       default_width="100%", validate=True)


def _thin(n: int, max_points: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, max_points)).round().astype(int))


def histogram_axis(scores, threshold=None, log: bool = False, reach: float = 3.0):
    """``(x, lo, hi)``: the binned values (``log10(scores)`` when ``log``) and their axis range.

    The range is the values' own unless a few extremes lie more than ``reach`` times the central 98%
    spread beyond it: those are left off the axis, so one huge score cannot squash every other bar
    into the first bin. The threshold always stays on the axis. With ``log``, scores of 0 are put
    with the smallest positive score.

    >>> x, lo, hi = histogram_axis(np.r_[np.arange(100.0), 1e9])
    >>> float(hi)
    99.0
    """
    x = np.asarray(scores, dtype=np.float64)
    if log:  # scores of 0 have no logarithm: they join the smallest positive score, in the leftmost bin
        x = np.log10(np.maximum(x, x[x > 0].min()))
    # "higher"/"lower": with few scores the 1% and 99% quantiles still leave out the very extremes
    a, b = sorted((np.quantile(x, 0.01, method="higher"), np.quantile(x, 0.99, method="lower")))
    span = (b - a) or max(abs(a), abs(b), 1e-12)  # a constant bulk: measure reach by its magnitude
    inside = x[(x >= a - reach * span) & (x <= b + reach * span)]
    lo, hi = float(inside.min()), float(inside.max())
    if threshold is not None:
        t = float(np.log10(threshold)) if log else float(threshold)
        lo, hi = min(lo, t), max(hi, t)
    return x, lo, hi


def score_histogram(scores, labels=None, threshold=None, bins: int = 50, log: bool = False):
    """Histogram of scores (per class shares when labels are given) with the threshold line.

    Counts are binned here with numpy so the page holds ``bins`` numbers, not every score. Extreme
    scores beyond :func:`histogram_axis`'s range are left out and counted in the axis title.
    """
    go = require_plotly()
    x, lo, hi = histogram_axis(scores, threshold, log)
    n_out = int(((x < lo) | (x > hi)).sum())
    if hi <= lo:  # all equal: one visible bin around the value
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    centers, width = (edges[:-1] + edges[1:]) / 2, edges[1] - edges[0]
    fig = go.Figure()
    if labels is None:
        counts, _ = np.histogram(x, edges)
        fig.add_bar(x=centers, y=counts, width=width, name="scores", marker_color=NORMAL,
                    hovertemplate="score %{x:.4g}<br>count %{y}<extra></extra>")
        ytitle = "count"
    else:
        for cls, name, colour in ((0, "normal (label 0)", NORMAL), (1, "anomaly (label 1)", ANOMALY)):
            sel = x[labels == cls]
            if sel.size == 0:
                continue
            counts, _ = np.histogram(sel, edges)
            fig.add_bar(x=centers, y=counts / sel.size, width=width, name=f"{name}, n={sel.size:,}",
                        marker_color=colour, opacity=0.6, customdata=counts,
                        hovertemplate="score %{x:.4g}<br>share %{y:.3f} (%{customdata})<extra></extra>")
        fig.update_layout(barmode="overlay")
        ytitle = "share of the class"
    if threshold is not None:
        t = float(np.log10(threshold)) if log else float(threshold)
        fig.add_vline(x=t, line=dict(color=THRESH, dash="dash", width=2),
                      annotation=dict(text=f"threshold = {threshold:.4g}", font_size=12, yanchor="top"),
                      annotation_position="top right")
    xtitle = "log10(score)" if log else "score"
    if log and (np.asarray(scores) == 0).any():
        xtitle += " (scores of 0 in the leftmost bin)"
    if n_out:
        xtitle += f" ({n_out:,} extreme score{'s' if n_out > 1 else ''} beyond the axis, not drawn)"
    fig.update_xaxes(title_text=xtitle)
    fig.update_yaxes(title_text=ytitle)
    fig.update_layout(bargap=0)
    return _finish(fig, 340, "Score distribution")


def roc_figure(scores, labels, max_points: int = 2000):
    """ROC curve; returns ``(figure, auroc)``."""
    from sklearn.metrics import roc_auc_score, roc_curve

    go = require_plotly()
    fpr, tpr, thr = roc_curve(labels, scores)
    auroc = float(roc_auc_score(labels, scores))
    i = _thin(len(fpr), max_points)
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color="#8c959f", dash="dot", width=1),
                    name="chance", hoverinfo="skip")
    fig.add_scatter(x=fpr[i], y=tpr[i], mode="lines", line=dict(color=NORMAL, width=2), name="ROC",
                    customdata=np.where(np.isfinite(thr[i]), thr[i], np.nan),
                    hovertemplate="FPR %{x:.3f}<br>TPR %{y:.3f}<br>score ≥ %{customdata:.4g}<extra></extra>")
    fig.update_xaxes(title_text="false positive rate", range=[-0.01, 1.01])
    fig.update_yaxes(title_text="true positive rate", range=[-0.01, 1.01])
    fig.update_layout(showlegend=False)
    return _finish(fig, 360, f"ROC (AUROC = {auroc:.4f})"), auroc


def pr_figure(scores, labels, max_points: int = 2000):
    """Precision-recall curve; returns ``(figure, auprc)`` (AUPRC = average precision)."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    go = require_plotly()
    prec, rec, _ = precision_recall_curve(labels, scores)
    auprc = float(average_precision_score(labels, scores))
    base = float(np.mean(labels))
    i = _thin(len(prec), max_points)
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[base, base], mode="lines", line=dict(color="#8c959f", dash="dot", width=1),
                    name=f"chance = {base:.3f}", hoverinfo="skip")
    fig.add_scatter(x=rec[i], y=prec[i], mode="lines", line=dict(color=ANOMALY, width=2), name="PR",
                    line_shape="hv", hovertemplate="recall %{x:.3f}<br>precision %{y:.3f}<extra></extra>")
    fig.update_xaxes(title_text="recall", range=[-0.01, 1.01])
    fig.update_yaxes(title_text="precision", range=[-0.01, 1.02])
    fig.update_layout(showlegend=False)
    return _finish(fig, 360, f"PR (AUPRC = {auprc:.4f})"), auprc


def _decimate(y: np.ndarray, max_points: int) -> np.ndarray:
    """Indices keeping each bucket's min and max, so spikes survive thinning a long series."""
    n = len(y)
    if n <= max_points:
        return np.arange(n)
    size = int(np.ceil(n / (max_points // 2)))
    nb = int(np.ceil(n / size))
    lo = np.full(nb * size, np.inf)
    hi = np.full(nb * size, -np.inf)
    lo[:n] = np.where(np.isnan(y), np.inf, y)
    hi[:n] = np.where(np.isnan(y), -np.inf, y)
    start = np.arange(nb) * size
    idx = np.concatenate([start + lo.reshape(nb, size).argmin(1), start + hi.reshape(nb, size).argmax(1), [0, n - 1]])
    return np.unique(np.clip(idx, 0, n - 1))


def runs(mask: np.ndarray, max_runs: int = 400) -> list[tuple[int, int]]:
    """``[(start, stop)]`` of contiguous True runs (stop exclusive). Beyond ``max_runs`` the runs
    with the smallest gaps between them are merged, so a page never holds thousands of shapes."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    d = np.flatnonzero(np.diff(m.astype(np.int8)))
    starts, stops = d[0::2], d[1::2]
    if len(starts) > max_runs:
        gaps = starts[1:] - stops[:-1]
        keep = np.sort(np.argsort(gaps, kind="stable")[len(gaps) - (max_runs - 1):])  # largest gaps separate
        starts = np.concatenate([starts[:1], starts[keep + 1]])
        stops = np.concatenate([stops[keep], stops[-1:]])
    return list(zip(starts.tolist(), stops.tolist()))


def _x_at(time: np.ndarray, i: int):
    v = time[min(i, len(time) - 1)]
    return str(np.datetime64(v, "ms")) if time.dtype.kind == "M" else float(v)


def series_figure(time, values, scores, names, labels=None, flagged=None, threshold=None,
                  max_channels: int = 12, max_points: int = 4000, channels=None):
    """Channels (one row each) above the score, on a shared x axis.

    ``channels`` lists the column indices to draw, top to bottom (default: the first
    ``max_channels``). Each row's name is written inside its own row, top left, so names never
    overlap however many rows there are. Labelled ranges are shaded red across every row; flagged
    ranges orange in the score row.
    """
    require_plotly()
    from plotly.subplots import make_subplots

    shown = list(range(min(values.shape[1], max_channels))) if channels is None else [int(c) for c in channels]
    rows = len(shown) + 1
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=min(0.04, 0.25 / rows),
                        row_heights=[1.0] * len(shown) + [1.4])
    for r, c in enumerate(shown, 1):
        i = _decimate(values[:, c], max_points)
        fig.add_scatter(x=time[i], y=values[i, c], mode="lines", line=dict(width=1, color=NORMAL),
                        name=names[c], showlegend=False, row=r, col=1,
                        hovertemplate=f"{names[c]}: %{{y:.4g}}<extra></extra>")
        # a horizontal label inside the row: rotated y titles longer than the row overlap their neighbours
        fig.add_annotation(text=names[c], xref="x domain", yref="y domain", x=0.005, y=1, xanchor="left",
                           yanchor="top", showarrow=False, font=dict(size=11), bgcolor="rgba(255,255,255,0.75)",
                           row=r, col=1)
        fig.update_yaxes(nticks=4, row=r, col=1)
    i = _decimate(scores, max_points)
    fig.add_scatter(x=time[i], y=scores[i], mode="lines", line=dict(width=1.2, color=THRESH), name="score",
                    showlegend=False, row=rows, col=1, hovertemplate="score %{y:.4g}<extra></extra>")
    fig.update_yaxes(title_text="score", row=rows, col=1)
    if threshold is not None:
        fig.add_hline(y=float(threshold), line=dict(color=ANOMALY, dash="dash", width=1.5), row=rows, col=1,
                      annotation=dict(text=f"threshold = {threshold:.4g}", font_size=11),
                      annotation_position="top left")
    shapes = []
    for mask, colour, name, yref, op in ((labels, ANOMALY, "labelled anomaly", "paper", 0.16),
                                         (flagged, FLAGGED, "flagged", f"y{rows} domain", 0.35)):
        if mask is None:
            continue
        for k, (a, b) in enumerate(runs(mask)):
            # a range covers its steps up to the next one, so a one-step anomaly stays visible
            shapes.append(dict(type="rect", xref="x", yref=yref, x0=_x_at(time, a), x1=_x_at(time, b), y0=0, y1=1,
                               fillcolor=colour, opacity=op, line_width=0, layer="below",
                               name=name, showlegend=k == 0, legendgroup=name))
    # assigned, not update_layout(shapes=...), which would merge into the threshold line's shape
    fig.layout.shapes = tuple(fig.layout.shapes) + tuple(shapes)
    # legend top left: the mode bar sits top right
    fig.update_layout(hovermode="x unified", legend=dict(y=1.0, x=0.0, xanchor="left"), margin_t=36)
    fig.update_xaxes(title_text="time", row=rows, col=1)
    return _finish(fig, 90 * len(shown) + 230)


def bench_bars(detectors, means, errs, metric: str, n_datasets):
    """Horizontal bars of the mean metric per detector (best on top) with seed-spread error bars."""
    go = require_plotly()
    order = np.argsort(means, kind="stable")  # plotly draws the first category at the bottom
    has_err = errs is not None and np.isfinite(errs).any() and np.nanmax(errs) > 0
    fig = go.Figure(go.Bar(
        y=[detectors[i] for i in order], x=[means[i] for i in order], orientation="h", marker_color=NORMAL,
        error_x=dict(type="data", array=[float(np.nan_to_num(errs[i])) for i in order], color="#24292f",
                     thickness=1.2, width=4) if has_err else None,
        text=[f"{means[i]:.4g}" for i in order], textposition="inside", insidetextanchor="start",
        textfont=dict(color="white"), customdata=[[n_datasets[i], float(np.nan_to_num(errs[i]))
                                                   if errs is not None else 0.0] for i in order],
        hovertemplate="%{y}<br>mean " + metric + " %{x:.4g} ± %{customdata[1]:.3g}"
                      "<br>%{customdata[0]} datasets<extra></extra>"))
    lo = float(np.nanmin(means))
    fig.update_xaxes(title_text=f"mean {metric}", range=[min(0.0, lo), float(np.nanmax(means)) * 1.04 or 1.0])
    fig.update_yaxes(type="category")
    return _finish(fig, 90 + 28 * len(detectors), f"Mean {metric} per detector")


def bench_times(detectors, fit_s, score_s):
    """Grouped horizontal bars of the mean fit and score time per dataset (log axis: times span decades)."""
    go = require_plotly()
    fig = go.Figure()
    for vals, name, colour in ((fit_s, "fit", NORMAL), (score_s, "score", FLAGGED)):
        if vals is None:
            continue
        v = np.clip(np.asarray(vals, float), 1e-3, None)  # 0 s cannot be drawn on a log axis
        fig.add_bar(y=list(detectors), x=v, orientation="h", name=f"{name} (s)", marker_color=colour,
                    hovertemplate="%{y}<br>" + name + " %{x:.3g} s<extra></extra>")
    v = np.concatenate([np.clip(np.asarray(a, float), 1e-3, None) for a in (fit_s, score_s) if a is not None])
    v = v[np.isfinite(v)]
    # whole decades, so the shortest bar still has a visible length (bars start at the axis minimum)
    lo = float(np.floor(np.log10(v.min()))) if v.size else -3.0
    rng = [lo, max(float(np.ceil(np.log10(v.max()))), lo + 1)] if v.size else None
    fig.update_xaxes(type="log", dtick=1, range=rng, title_text="seconds per dataset (mean over datasets, log scale)")
    fig.update_yaxes(type="category", autorange="reversed")  # same order as the metric chart: best on top
    fig.update_layout(barmode="group")
    return _finish(fig, 110 + 34 * len(detectors), "Time per detector")
