"""``adgdm report``: pick the report for what ``INPUT`` is (bench CSV, scores file, generated image
folder, model folder + data) and write one self-contained HTML file."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..modalities import get_modality


BENCH_COLUMNS = {"dataset", "detector", "seed"}


def _read_any(path: Path):
    import pandas as pd

    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except Exception as e:  # pandas raises many types on unreadable files
        raise ValueError(f"{path}: could not read it ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None


def _threshold_rule(det, card_rule: dict | None) -> dict | None:
    """How the model's threshold was set: the model card's threshold rule, else the detector's own
    record (``threshold_method_`` from adgdm.thresholds, or its contamination quantile set at fit)."""
    rule = dict(card_rule or getattr(det, "threshold_method_", None) or {})
    if not rule and getattr(det, "contamination", None) is not None:
        rule = {"method": "contamination"}
    if rule.get("method") == "contamination" and rule.get("contamination") is None:
        rule["contamination"] = getattr(det, "contamination", None)
    return rule or None


def _valued_names(df, names):
    """``(n, d)`` feature names per row with categorical columns named by value, read from the
    ``top_features`` column of a mixed table's scores ("service=ftp_data (71%); ..."); None when
    no row names a value."""
    if not names or "top_features" not in df:
        return None
    index = {n: j for j, n in enumerate(names)}
    out = np.tile(np.array(names, dtype=object), (len(df), 1))
    found = False
    for i, text in enumerate(df["top_features"]):
        if not isinstance(text, str) or not text.strip():
            continue  # a blank cell (NaN once read back from CSV): no names for that row
        for part in text.split("; "):
            label = part.rsplit(" (", 1)[0]
            col = label.split("=", 1)[0]
            if "=" in label and col in index:
                out[i, index[col]] = label
                found = True
    return out if found else None


def _scores_sections(rep, df, rule=None) -> list[str]:
    """Sections of a scores table (``adgdm score`` output); ``rule`` is the model's threshold rule
    when known (a scores file alone does not say how its threshold was set)."""
    sections = []
    scores = df["score"].to_numpy(dtype=np.float64)
    labels = df["label"].to_numpy() if "label" in df else None
    threshold = float(df["threshold"].iloc[0]) if "threshold" in df else None
    io = io_of_scores(df)
    id_col = io.id_column if io is not None else None
    ids = df[id_col].astype(str).to_numpy() if id_col else np.arange(len(df)).astype(str)
    plot = getattr(io, "plot", None)
    if plot == "clips" and "frame" in df:
        ids = np.array([f"{v}:{int(f)}" for v, f in zip(ids, df["frame"])], dtype=object)
    contrib_cols = [c for c in df.columns if str(c).startswith("contrib:")]
    contrib = df[contrib_cols].to_numpy(dtype=np.float64) if contrib_cols else None
    names = [c[len("contrib:"):] for c in contrib_cols] or None
    unit = get_modality(io.name).unit if io is not None else "row"
    rep.add_summary(scores, threshold, ids=ids, unit=unit, threshold_rule=rule, contributions=contrib,
                    feature_names=names, labels=labels)
    sections.append("summary")
    rep.add_scores(scores, threshold=threshold, labels=labels, ids=ids)
    sections.append("scores")
    flagged = df["flagged"].to_numpy() if "flagged" in df else None
    if plot == "channels":
        skip = {id_col, "score", "flagged", "probability", "label", "threshold", "in_sample", "top_features",
                *contrib_cols}
        chans = [c for c in df.columns if c not in skip and np.issubdtype(df[c].dtype, np.number)]
        by_chan = [f"contrib:{c}" for c in chans]
        # add_series thins long series itself, keeping each bucket's extremes (spikes stay visible)
        rep.add_series(df[id_col].to_numpy(), df[chans].to_numpy(dtype=np.float64), scores, labels=labels,
                       flagged=flagged, channel_names=chans, threshold=threshold,
                       contributions=df[by_chan].to_numpy(dtype=np.float64) if set(by_chan) <= set(df) else None)
        sections.append("series")
    part_cols = [c for c in df.columns if str(c).startswith("part:")]
    if part_cols:  # per-branch / per-modality z-scores the score fuses
        top = df.assign(_s=scores).sort_values("_s", ascending=False).head(20)
        rep.add_table(top[[c for c in (id_col, "score", "label") if c and c in top] + part_cols],
                      title="Evidence per part (z-scores) of the top records")
        sections.append("parts")
    if plot == "clips" and "frame" in df:
        sections += _clip_timelines(rep, df, id_col, scores, labels, flagged, threshold)
    events = plot == "channels" and (flagged is not None or threshold is not None)
    rep.add_top_anomalies(ids, scores, contributions=contrib, feature_names=names, labels=labels, events=events,
                          flagged=flagged if events else None, threshold=threshold if events else None,
                          title="Top anomalous events" if events else "Top anomalies",
                          row_feature_names=None if events else _valued_names(df, names))
    sections.append("top anomalies")
    return sections


def io_of_scores(df):
    """The modality I/O whose id column a scores table starts with (None: unknown)."""
    from ..modalities import list_modalities
    from ..modalities.io import get_io

    for name in list_modalities():
        io = get_io(name)
        if io.id_column in df.columns:
            return io
    return None


def _clip_timelines(rep, df, col, scores, labels, flagged, threshold, max_clips: int = 12) -> list[str]:
    """Score over frames, one panel per clip (labelled frames shaded red, flagged ones orange); with
    many clips, the ones holding the highest scores."""
    clips = list(dict.fromkeys(df[col].astype(str)))
    if len(clips) > max_clips:
        top = df.assign(s=scores).groupby(df[col].astype(str))["s"].max().sort_values(ascending=False)
        keep = set(top.index[:max_clips])
        rep.add_text(f"{len(clips)} clips; the {max_clips} with the highest frame scores are drawn.")
        clips = [c for c in clips if c in keep]
    for c in clips:
        m = (df[col].astype(str) == c).to_numpy()
        rep.add_series(df["frame"].to_numpy()[m], scores[m], scores[m], labels=None if labels is None else labels[m],
                       flagged=None if flagged is None else flagged[m], channel_names=["score"],
                       threshold=threshold, title=f"Clip {c}: score per frame")
    return [f"clip {c}" for c in clips]


def run_report(input, out, data=None, title=None, force: bool = False) -> dict:
    """Write the HTML report of ``input`` to ``out`` (refused when ``out`` exists, unless ``force``;
    never onto the input)."""
    from .._atomic import check_output
    from ..report import Report, bench_report

    p = Path(input)
    if not p.exists():
        raise FileNotFoundError(f"no such file or folder: {p}")
    check_output(out, [input, data], force)
    if p.is_file():
        df = _read_any(p)
        if len(df) == 0:
            raise ValueError(f"{p}: no rows")
        if BENCH_COLUMNS <= set(df.columns):
            bench_report([p], out, title=title)
            return {"out": str(out), "kind": "bench", "sections": ["benchmark"]}
        if "score" not in df.columns:
            raise ValueError(f"{p}: neither a bench CSV (columns dataset, detector, seed) nor a scores file (a 'score' "
                             f"column); it has {list(df.columns)[:12]}")
        rep = Report(title=title or f"adgdm scores: {p.name}", subtitle=str(p))
        sections = _scores_sections(rep, df)
        rep.save(out)
        return {"out": str(out), "kind": "scores", "sections": sections}
    from .generate import GALLERY_MARKER

    if (p / GALLERY_MARKER).is_file() and (p / "frames").is_dir():  # generated video anomalies
        from ..modalities.readers import read_video

        clips = read_video(p / "frames").clips
        masks = read_video(p / "masks").clips
        pick = [(c, m, t) for c, m in zip(clips, masks) for t in np.flatnonzero(c.labels)[::3]][:24]
        if not pick:
            raise ValueError(f"{p}: no labelled frames to show")
        rep = Report(title=title or f"adgdm generated video anomalies: {p.name}", subtitle=str(p))
        rep.add_gallery(np.stack([c.frames[t] for c, _, t in pick]),
                        masks=np.stack([m.frames[t, ..., 0] for _, m, t in pick]), titles=[f"{c.name}:{t}" for c, _, t in pick])
        rep.save(out)
        return {"out": str(out), "kind": "gallery", "sections": ["gallery"]}
    if (p / GALLERY_MARKER).is_file():
        from ..data.images import load_image_files

        files = sorted((p / "images").glob("*.png"))
        if not files:
            raise ValueError(f"{p}: no images in {p / 'images'}")
        imgs = load_image_files(files)
        mfiles = [p / "masks" / f.name for f in files]
        masks = load_image_files(mfiles, mask=True) if all(m.is_file() for m in mfiles) else None
        rep = Report(title=title or f"adgdm generated anomalies: {p.name}", subtitle=str(p))
        rep.add_gallery(imgs, masks=masks, titles=[f.name for f in files])
        rep.save(out)
        return {"out": str(out), "kind": "gallery", "sections": ["gallery"]}
    if (p / "config.json").is_file():
        from ..pipeline import Pipeline

        if data is None:
            raise ValueError(f"{p} is a model folder: give --data to score and report on")
        pipe = Pipeline.load(p)
        res = pipe.score(data)
        df, extras = res.to_frame(), res.extras
        rep = Report(title=title or f"adgdm report: {pipe.card_.detector or pipe.detector_.name} on {Path(data).name}",
                     subtitle=f"model {p}, data {data}")
        sections = _scores_sections(rep, df, _threshold_rule(pipe.detector_, pipe.card_.threshold))
        overlay = extras.get("overlay")
        if overlay is not None:
            order = np.argsort(-df["score"].to_numpy())
            top, bottom = overlay["top"], overlay["bottom"]
            pick = np.r_[order[:top], order[len(order) - bottom:]] if len(order) > top + bottom else order
            ids = [":".join(str(df[c].iloc[i]) for c in overlay["id_columns"]) for i in pick]
            masks = overlay["masks"][pick] if overlay.get("masks") is not None else None
            kw = {"title": overlay["title"]} if overlay.get("title") else {}
            rep.add_image_overlays(overlay["images"][pick], overlay["maps"][pick],
                                   titles=[f"{n}: {df['score'].iloc[i]:.3g}" for n, i in zip(ids, pick)],
                                   masks=masks, **kw)
            sections.append("anomaly maps")
        found = extras.get("objects")
        if found is not None:  # a detector that names objects: its top objects, boxes drawn
            ids = [":".join(str(v) for v in r) for r in df[found["id_columns"]].itertuples(index=False)]
            rep.add_objects(found["images"], found["objects"](), titles=ids, scores=df["score"].to_numpy(),
                            k=found["top"], title=found["title"])
            sections.append("objects")
        rep.save(out)
        return {"out": str(out), "kind": "model", "sections": sections}
    raise ValueError(f"{p}: a folder, but neither a model folder (config.json) nor generated images "
                     f"({GALLERY_MARKER}); give a bench CSV, a scores file, a model folder or a generated folder")
