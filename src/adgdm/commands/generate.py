"""``adgdm generate``: samples and synthetic anomalies from a saved model, written atomically
(tables and series: a CSV; images: a folder with ``images/`` and ``masks/`` PNGs)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .._atomic import write_frame
from ..modalities.readers import read_table


def _normal_rows(path, modality: str, columns=None) -> tuple[np.ndarray, list[str]]:
    """Rows to start from: every numeric column (or ``columns``); an NPZ's rows with ``y == 0``."""
    d = read_table(path, modality, columns, mixed=False)  # generation reads numbers only (issue 19, item 3)
    X = d.X if d.labels is None else d.X[d.labels == 0]
    if len(X) == 0:
        raise ValueError(f"{path}: no normal rows (y == 0) to start from")
    return X, d.names


def write_csv_atomic(out: Path, header: list[str], rows: np.ndarray) -> None:
    """``rows`` under ``header`` as a CSV, written atomically (``write_frame``)."""
    import pandas as pd

    write_frame(pd.DataFrame(np.asarray(rows), columns=header), out)


_WRITERS: dict = {}


def writes(modality: str):
    """Register the generator-to-files of one modality (``run_generate`` picks it by the model's and
    calls it with ``(model, kind, n, out, data, severity, seed, card=the model card)``)."""
    def deco(fn):
        _WRITERS[modality] = fn
        return fn
    return deco


def run_generate(model_dir, kind: str, n: int, out, data=None, severity: float = 1.0, seed: int = 0,
                 force: bool = False) -> str:
    """Write ``n`` generated rows/windows/images of ``kind`` to ``out`` (refused when ``out``
    exists, unless ``force``; never onto the data or the model)."""
    from .._atomic import check_output
    from ..pipeline import Pipeline

    check_output(out, [data, model_dir], force)
    pipe = Pipeline.load(model_dir)
    model = pipe.detector_
    write = _WRITERS.get(getattr(model, "modality", "tabular"))
    if write is None:
        raise ValueError(f"adgdm generate has no generator for {model.modality} models")
    return write(model, kind, n, out, data, severity, seed, card=pipe.card_)


@writes("series")
def _generate_series(model, kind, n, out, data, severity, seed, card=None) -> str:
    from ..generation import SERIES_KINDS, inject_series_anomalies

    if kind == "normal":
        if not hasattr(model, "sample"):
            raise ValueError(f"a saved {model.name!r} detector cannot sample windows; fit 'series-recon' to "
                             "generate normal windows")
        W = model.sample(n, random_state=seed)  # (n, window, channels)
        names = [str(c) for c in (getattr(model, "channel_names_", None) or [])] or \
            [f"x{j}" for j in range(W.shape[2])]
        idx = np.indices(W.shape[:2]).reshape(2, -1).T  # window, step
        write_csv_atomic(out, ["window", "step"] + names, np.c_[idx, W.reshape(-1, W.shape[2])])
        return f"wrote {out}: {len(W)} windows of {W.shape[1]} steps (normal)"
    if kind not in SERIES_KINDS:
        raise ValueError(f"a series model takes kinds normal, {', '.join(SERIES_KINDS)}; got {kind!r}")
    if data is None:
        raise ValueError("series kinds inject anomalies into a clean series: give --data CLEAN.csv")
    values, names = _normal_rows(data, model.modality)
    if values.shape[1] != model.n_channels_:
        raise ValueError(f"{data} has {values.shape[1]} numeric columns, the model was fitted on "
                         f"{model.n_channels_} channels")
    res = inject_series_anomalies(values, n, kinds=[kind], severity=severity, random_state=seed)
    header = (names or [f"x{j}" for j in range(values.shape[1])]) + ["label"]
    write_csv_atomic(out, header, np.c_[res.values, res.labels])
    return f"wrote {out}: {len(res.values)} steps, {len(res.segments)} injected {kind} anomalies"


@writes("tabular")
def _generate_rows(model, kind, n, out, data, severity, seed, card=None) -> str:
    """Rows in the columns the model was fitted on: a mixed table's through its encoder
    (``adgdm.generation.tables``), categories as categories; --data read as scoring reads it."""
    from ..generation import TABULAR_KINDS
    from ..generation.tables import NETWORK_KINDS, generate_table

    cli_kinds = ("normal", "local", "global", "dependency", "clustered", "masked")
    if kind not in cli_kinds:
        hint = (" ('conditional' and 'guided' need labelled anomalies or a detector: use the Python API, "
                "adgdm.generation.generate_anomalies)" if kind in TABULAR_KINDS else "")
        raise ValueError(f"--kind must be one of {', '.join(cli_kinds)}; got {kind!r}{hint}")
    encoder = card.table_encoder() if card is not None else None
    if kind in NETWORK_KINDS and not (hasattr(model, "sample") and hasattr(model, "net_")):
        what = "sample normal rows" if kind == "normal" else f"make {kind!r} anomalies"
        free = [k for k in cli_kinds if k not in NETWORK_KINDS]
        raise ValueError(f"kind {kind!r} needs a generative model, and a {model.name!r} model has no trained network "
                         f"to {what} with (the default 'diffusion' detector is the ideal denoiser of the training rows, "
                         f"not a network); fit one: adgdm fit DATA --detector ddpm --out MODEL_DIR (or --detector "
                         f"tabddpm); kinds this model can make from --data: {', '.join(free)}")
    rows, where = None, str(data)
    if kind != "normal":
        if data is None:
            raise ValueError(f"kind {kind!r} starts from normal rows: give --data NORMAL.csv")
        rows = _table_rows(data, card, encoder)
    names = _input_names(model, card, encoder)
    table = generate_table(model, kind, n, rows, encoder, severity=severity, random_state=seed, names=names,
                           where=where)
    write_frame(table, out)
    return f"wrote {out}: {len(table)} rows ({kind}) in the {table.shape[1]} columns the model was fitted on"


def _input_names(model, card, encoder):
    if encoder is not None:
        return encoder.input_names_
    cols = card.input_columns() if card is not None else None
    return cols or [str(c) for c in getattr(model, "feature_names_in_", [])] or None


def _table_rows(data, card, encoder):
    """The normal rows of ``data`` (label 0, when the model's label column or an NPZ's ``y`` is
    there) in the model's columns: a frame of the table's columns for a mixed model, else numbers;
    read with the reader options stored at fit (separator, encoding, decimal mark)."""
    from ..modalities.io import with_fallback_label
    from ..modalities.readers import read_data

    reader = card.reader.without_fit_options().to_dict() if card is not None else {}
    reader["mixed"] = encoder is not None  # a numeric model reads numbers only, as at its fit and scoring
    cols = card.input_columns() if card is not None else None
    label = card.label if card is not None else None
    d = with_fallback_label(lambda lab: read_data(data, "tabular", cols, lab, None, **reader), label, label)
    normal = np.ones(len(d.ids), dtype=bool) if d.labels is None else d.labels == 0
    if not normal.any():
        raise ValueError(f"{data}: no normal rows (label 0) to start from")
    if encoder is not None:
        return d.frame[normal].reset_index(drop=True)
    return d.X[normal]


GALLERY_MARKER = "generated.json"


@writes("image")
def _generate_images(model, kind, n, out, data, severity, seed, card=None) -> str:
    """Image kinds: ``perlin``, ``cutpaste`` (classical), ``masked`` (inpainting with off-distribution
    guidance; needs a diffusion model: ``image-recon`` or ``image-cond``), from normal images."""
    import json

    from ..generation.image_anomalies import IMAGE_KINDS, generate_image_anomalies
    from .._atomic import replace_dir, temp_dir_beside
    from ..modalities.readers import read_images

    kinds = [k for k in IMAGE_KINDS if k != "defect-paste"]
    if kind not in kinds:
        hint = (" ('defect-paste' needs real defects and their masks: use the Python API, "
                "adgdm.generate_anomalies)" if kind in ("defect-paste", "conditional") else "")
        raise ValueError(f"an image model takes --kind {', '.join(kinds)}; got {kind!r}{hint}")
    if data is None:
        raise ValueError("image kinds start from normal images: give --data FOLDER")
    use_model = None
    if kind == "masked":
        if not hasattr(model, "schedule_"):
            raise ValueError(f"kind 'masked' needs a diffusion image model (image-recon or image-cond); this one is "
                             f"{model.name!r}")
        use_model = model
    prep = {k: getattr(model, k, None) for k in ("size", "crop", "channels")}
    imgs = read_images(data, **prep).images
    X, masks = generate_image_anomalies(imgs, n, kind, model=use_model, severity=severity, random_state=seed)
    from PIL import Image

    tmp = temp_dir_beside(out)
    try:
        (tmp / "images").mkdir()
        (tmp / "masks").mkdir()
        for i, (x, m) in enumerate(zip(X, masks)):
            a = np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)
            Image.fromarray(a[..., 0] if a.shape[2] == 1 else a).save(tmp / "images" / f"{i:05d}.png")
            Image.fromarray(np.clip(np.rint(m * 255), 0, 255).astype(np.uint8)).save(tmp / "masks" / f"{i:05d}.png")
        (tmp / GALLERY_MARKER).write_text(json.dumps({"kind": kind, "n": int(n), "severity": severity, "seed": seed,
                                                      "model": getattr(model, "name", ""), "data": str(data)}))
        replace_dir(tmp, Path(out), GALLERY_MARKER)
    except BaseException:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return f"wrote {out}: {len(X)} images with masks ({kind})"


@writes("video")
def _generate_video(model, kind, n, out, data, severity, seed, card=None) -> str:
    """Video kinds (``adgdm.generation.video_anomalies``) injected into each clip of ``data``: writes
    ``frames/<clip>/NNNNN.png``, ``masks/<clip>/NNNNN.png`` and ``frame_labels.csv`` (so
    ``adgdm score MODEL OUT/frames`` finds the labels beside the frames)."""
    import json

    import pandas as pd
    from PIL import Image

    from ..generation.video_anomalies import VIDEO_KINDS, inject_video_anomalies
    from .._atomic import replace_dir, temp_dir_beside
    from ..modalities.readers import read_video

    if kind not in VIDEO_KINDS:
        raise ValueError(f"a video model takes --kind {', '.join(VIDEO_KINDS)}; got {kind!r}")
    if data is None:
        raise ValueError("video kinds start from normal footage: give --data (a video file, a clip folder or a folder "
                         "of clips)")
    clips = read_video(data).clips
    tmp = temp_dir_beside(out)
    try:
        rows, events = [], 0
        for i, c in enumerate(clips):
            inj = inject_video_anomalies(c.frames, n, [kind], severity=severity, random_state=seed + i)
            events += len(inj.events)
            for sub, arrays in (("frames", inj.frames), ("masks", inj.masks[..., None])):
                (tmp / sub / c.name).mkdir(parents=True)
                for t, a in enumerate(np.clip(np.rint(arrays * 255), 0, 255).astype(np.uint8)):
                    Image.fromarray(a[..., 0] if a.shape[2] == 1 else a).save(tmp / sub / c.name / f"{t:05d}.png")
            rows += [(c.name, t, int(v)) for t, v in enumerate(inj.labels)]
        pd.DataFrame(rows, columns=["video", "frame", "label"]).to_csv(tmp / "frame_labels.csv", index=False)
        (tmp / GALLERY_MARKER).write_text(json.dumps({"kind": kind, "n": int(n), "severity": severity, "seed": seed,
                                                      "modality": "video", "data": str(data)}))
        replace_dir(tmp, Path(out), GALLERY_MARKER)
    except BaseException:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return f"wrote {out}: {len(clips)} clips, {events} injected {kind} events, frame_labels.csv beside frames/"
