"""Reading user data (the modality I/O): tables and series from CSV, Parquet or NPZ, images from a folder,
with column selection, an optional label column and an optional id/time column; and atomic
writers. Every problem raises ``ValueError``/``FileNotFoundError`` naming the file and the fix."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".npz")
ID_COLUMN = {"tabular": "row", "series": "time", "image": "image", "video": "video", "multimodal": "record"}


@dataclass
class Data:
    """What a command reads. ``X``: ``(n, d)`` rows or ``(T, C)`` steps (None for images, which
    the detector reads itself from ``images``); ``ids``: row numbers, time values or image paths."""

    modality: str
    X: np.ndarray | None
    names: list[str]
    ids: np.ndarray
    labels: np.ndarray | None = None
    images: np.ndarray | None = None
    masks: np.ndarray | None = None
    clips: list | None = None           # video: ``adgdm.data.video.Clip`` objects, in order
    records: dict | None = None         # multimodal: {column: images (n, H, W, C), texts or numbers}
    frame: object = None                # mixed tables: the feature columns as read (pandas), for the encoder
    source: str = ""
    notes: list[str] = field(default_factory=list)


SEPARATORS = (",", ";", "\t", "|")


def sniff_sep(path: Path, encoding: str = "utf-8") -> str:
    """The separator of a delimited text file: the candidate found the same number of times (at
    least once) on each of its first lines, the most frequent such; ``,`` when none is."""
    with open(path, encoding=encoding, errors="replace") as fh:
        lines = [ln for ln in (fh.readline() for _ in range(20)) if ln.strip()]
    best, best_n = ",", 0
    for sep in SEPARATORS:
        counts = {ln.count(sep) for ln in lines}
        if len(counts) == 1 and (n := counts.pop()) > best_n:
            best, best_n = sep, n
    return best


def read_text_table(buf, path: Path, reader=None, where=None):
    """A delimited text table (``buf``: the file or a slice of it in memory) read with the reader
    options (separator sniffed from ``path`` when not given); errors name ``where``."""
    import pandas as pd

    from .options import ReaderOptions

    opts = reader if reader is not None else ReaderOptions()
    encoding = opts.encoding or "utf-8"
    sep = opts.sep or ("\t" if path.suffix.lower() == ".tsv" else sniff_sep(path, encoding))
    try:
        return pd.read_csv(buf, sep=sep, encoding=encoding, **opts.csv_kwargs())
    except Exception as e:  # pandas raises many types on unreadable text
        raise ValueError(f"{where or path}: could not read it as CSV: "
                         f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


def _csv(options: dict) -> dict:
    """Text-reader options given by name (``ReaderOptions`` fields, e.g. ``decimal``) as
    ``pandas.read_csv`` keywords; an unknown name is an error."""
    from .options import ReaderOptions

    return ReaderOptions.from_dict(options, strict=True).csv_kwargs()


def _frame(path: Path, sep: str | None = None, encoding: str | None = None, csv: dict | None = None):
    """A CSV/TSV or Parquet file as a frame; ``csv``: further options of the text reader
    (:meth:`ReaderOptions.csv_kwargs`)."""
    import pandas as pd

    suffix = path.suffix.lower()
    encoding = encoding or "utf-8"
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        sep = sep or ("\t" if suffix == ".tsv" else sniff_sep(path, encoding))
        return pd.read_csv(path, sep=sep, encoding=encoding, **(csv or {}))
    except ImportError as e:
        raise ValueError(f"{path}: reading it needs {e.name or 'pyarrow'}: pip install 'adgdm[cli]'") from None
    except UnicodeDecodeError as e:
        # pandas decodes in chunks: e.start counts from the chunk, so find the byte in the file itself
        pos, line, byte, reason = first_undecodable(path, encoding) or (e.start, None, e.object[e.start:e.end],
                                                                         e.reason)
        at = f"byte {pos}" + (f", line {line}" if line is not None else "")
        raise ValueError(f"{path}: not {encoding} text ({reason} at {at}: {bytes(byte)!r}); give its encoding "
                         "with --encoding (e.g. latin-1) or save it as UTF-8") from None
    except LookupError:
        raise ValueError(f"unknown --encoding {encoding!r}") from None
    except Exception as e:  # pandas raises many types on unreadable files
        kind = "Parquet" if suffix in (".parquet", ".pq") else "CSV"
        raise ValueError(f"{path}: could not read it as {kind}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


def first_undecodable(path, encoding: str = "utf-8", block: int = 1 << 20):
    r"""``(byte offset, line number, bytes, reason)`` of the first bytes of the file ``path`` that are
    not ``encoding`` text (offsets from the start of the file, lines from 1), or None when all decode.

    Example
    -------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = f.write_bytes("a\nb\ncaf\u00e9\n".encode("latin-1"))
    >>> first_undecodable(f)
    (7, 3, b'\xe9', 'invalid continuation byte')
    """
    import codecs

    dec = codecs.getincrementaldecoder(encoding)()
    done, lines = 0, 1  # bytes handed to the decoder before this block; newlines decoded so far
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(block)
            try:
                pending = dec.getstate()[0]
            except (AttributeError, TypeError, IndexError):
                pending = b""
            try:
                lines += dec.decode(chunk, final=not chunk).count("\n")
            except UnicodeDecodeError as e:
                data = pending + chunk
                head = data[:e.start].decode(encoding, errors="replace")
                return done - len(pending) + e.start, lines + head.count("\n"), data[e.start:e.end], e.reason
            if not chunk:
                return None
            done += len(chunk)


def _labels(values, where: str) -> np.ndarray:
    y = np.asarray(values)
    try:
        yf = y.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where} must hold 0 (normal) and 1 (anomaly); it holds {sorted(set(map(str, y)))[:5]}") from None
    bad = ~np.isin(yf, (0.0, 1.0))
    if bad.any():
        raise ValueError(f"{where} must hold 0 (normal) and 1 (anomaly); found {sorted(set(yf[bad].tolist()))[:5]} "
                         f"({int(bad.sum())} rows)")
    return yf.astype(np.int64)


def read_table(path, modality: str = "tabular", columns=None, label=None, time=None, sep=None, encoding=None,
               strict: bool = False, mixed: bool | None = None, categorical=None, numeric=None, **csv) -> Data:
    """Rows (``tabular``) or time steps (``series``) of a CSV/TSV, Parquet or NPZ file.

    ``columns``: the feature/channel columns (default: every numeric column but ``label`` and
    ``time``, less index-like, label-like and constant columns: ``Data.notes`` says which and why);
    ``label``: a 0/1 column kept apart; ``time``: an id column (series: the time stamp; unsorted
    steps are sorted with a note, or refused when ``strict``; repeated stamps are refused).
    ``sep``: the separator (default: sniffed among ``, ; tab |``). NPZ files hold ``X`` and
    optionally ``y`` (the labels) and ``names``.

    Tables with text, true/false or blank cells (or ``categorical``/``numeric`` columns named,
    or ``mixed=True``) come back as ``Data.frame`` (the feature columns as read, ``X`` None) for
    :class:`adgdm.data.encoder.TableEncoder`; ``mixed=False`` keeps the numeric-only reading."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such data file: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; {modality} data is a CSV, Parquet or NPZ file (folders are images: "
                         "--modality image)")
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise ValueError(f"{path}: unknown file type {path.suffix!r}; use one of {', '.join(TABLE_SUFFIXES)}")
    if path.suffix.lower() == ".npz":
        return _read_npz(path, modality, columns, label)
    return table_from_frame(_frame(path, sep, encoding, _csv(csv)), path, modality, columns, label, time, strict, mixed,
                            categorical, numeric)


def table_from_frame(df, path, modality: str = "tabular", columns=None, label=None, time=None, strict: bool = False,
                     mixed: bool | None = None, categorical=None, numeric=None) -> Data:
    """:func:`read_table` on a pandas frame already read (``path``: the name errors give, e.g. a
    file and its row range when ``adgdm.distributed`` scores a part of a file)."""
    from .columns import describe, needs_encoder, select_features, select_mixed

    if df.shape[0] == 0:
        raise ValueError(f"{path}: no rows")
    cols = [str(c) for c in df.columns]
    df.columns = cols
    for flag, col in (("--label", label), ("--time", time)):
        if col is not None and col not in cols:
            hint = ""
            if len(cols) == 1 and any(s in cols[0] for s in SEPARATORS[1:]):
                hint = " (the file has one column: is its separator right? pass --sep)"
            raise ValueError(f"{path}: {flag} column {col!r} not found; columns are {cols[:20]}{hint}")
    if label is not None and columns and label in columns:
        raise ValueError(f"{path}: {label!r} is both the --label column and a feature in --columns")
    notes = []
    if time is not None and modality == "series":
        df, notes = _in_time_order(df, time, path, strict)
    labels = _labels(df[label].to_numpy(), f"{path}: label column {label!r}") if label is not None else None
    ids = df[time].to_numpy() if time is not None else np.arange(len(df))
    exclude = [c for c in (label, time) if c is not None]
    named = [str(c) for c in (categorical or ())] + [str(c) for c in (numeric or ())]
    if modality == "tabular" and mixed is not False:
        unknown = [c for c in named if c not in cols]
        if unknown:
            raise ValueError(f"{path}: --categorical/--numeric column(s) {unknown} not found; columns are {cols[:20]}")
        names, frame, dropped = select_mixed(df, str(path), columns, exclude, named)
        # only when the kept columns are not all complete numbers: numeric tables read as before
        if mixed or named or needs_encoder(frame):
            if not columns:
                notes += describe(names, dropped)
            return Data(modality, None, names, ids, labels, source=str(path), notes=notes, frame=frame)
    names, X, dropped = select_features(df, str(path), columns, exclude=exclude, modality=modality)
    if not columns:
        notes += describe(names, dropped)
    return Data(modality, X, names, ids, labels, source=str(path), notes=notes)


def _in_time_order(df, time: str, path: Path, strict: bool):
    """``df`` sorted by its time column, with a note when it was not; repeated stamps refused."""
    import pandas as pd

    t = df[time]
    if not pd.api.types.is_numeric_dtype(t.dtype):
        parsed = pd.to_datetime(t, errors="coerce")
        if parsed.notna().mean() > 0.5:
            t = parsed
    dup = t.duplicated(keep=False)
    if dup.any():
        first = df[time][dup].iloc[0]
        raise ValueError(f"{path}: time column {time!r} repeats {int(t.duplicated().sum())} stamps (first: {first!r}); "
                         "one row per time step is needed")
    if t.is_monotonic_increasing:
        return df, []
    if strict:
        raise ValueError(f"{path}: time column {time!r} is not in increasing order (--strict)")
    order = np.argsort(t.to_numpy(), kind="stable")
    return df.iloc[order].reset_index(drop=True), [f"{path}: rows were not in time order; sorted by {time!r}"]


def _read_npz(path: Path, modality: str, columns, label) -> Data:
    try:
        with np.load(path, allow_pickle=False) as f:
            if "X" not in f:
                raise ValueError(f"{path}: an NPZ needs an array named 'X', found {list(f.keys())}")
            X = np.asarray(f["X"], dtype=np.float64)
            y = np.asarray(f["y"]).ravel() if "y" in f else None
            names = [str(n) for n in f["names"]] if "names" in f else None
    except (OSError, EOFError, ValueError) as e:
        if "needs an array" in str(e):
            raise
        raise ValueError(f"{path}: not a readable NPZ file ({e})") from None
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"{path}: 'X' must be a non-empty 2-D array, got shape {X.shape}")
    names = names or [f"x{j}" for j in range(X.shape[1])]
    if columns:
        missing = [c for c in columns if c not in names]
        if missing:
            raise ValueError(f"{path}: columns {missing} not found; the NPZ's columns are {names[:20]}")
        idx = [names.index(c) for c in columns]
        X, names = X[:, idx], list(columns)
    labels = None
    if y is not None:
        if len(y) != len(X):
            raise ValueError(f"{path}: 'y' has {len(y)} entries, 'X' has {len(X)} rows")
        labels = _labels(y, f"{path}: 'y'")
    elif label is not None:
        raise ValueError(f"{path}: --label {label!r} given but the NPZ has no 'y' array")
    return Data(modality, X, names, np.arange(len(X)), labels, source=str(path))


def read_images(path, size=None, crop=None, channels=None) -> Data:
    """Images to score: an MVTec-style folder's test set (labels from ``test/<good|defect>``,
    masks from ``ground_truth`` when present), else every image file in the folder (no labels)."""
    from ..data.images import load_image_files, load_image_folder
    from ..data.images import IMAGE_SUFFIXES

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such image folder: {p}")
    if not p.is_dir():
        raise ValueError(f"{p} is a file; image data is a folder of images (or an MVTec-style folder)")
    if (p / "train" / "good").is_dir() and (p / "test").is_dir():
        _, test = load_image_folder(p, size=size, crop=crop, channels=channels)
        ids = np.asarray([f"{k}/{n}" for k, n in zip(test.kinds, test.names)], dtype=object)  # test/<kind>/<name>
        return Data("image", None, [], ids, test.labels.astype(np.int64),
                    images=test.images, masks=test.masks, source=str(p / "test"))
    files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in {p}")
    imgs = load_image_files(files, size=size, crop=crop, channels=channels)
    return Data("image", None, [], np.asarray([f.name for f in files], dtype=object), images=imgs, source=str(p))


def frame_size_hint(h: int, w: int) -> str:
    """How to make frames ``h`` x ``w``, in the names the command line and Python accept."""
    return (f"--frame-size {h}x{w} (fit, detect, score and calibrate take it; a fitted model keeps it), "
            f"Pipeline(reader={{'frame_size': '{h}x{w}'}}) or load_clips(path, size=({h}, {w})) in Python")


def channels_hint(c: int) -> str:
    """How to read frames with ``c`` channels, in the names the command line and Python accept."""
    return (f"--frame-channels {int(c)} (fit, detect, score and calibrate take it; a fitted model keeps it), "
            f"Pipeline(reader={{'frame_channels': {int(c)}}}) or load_clips(path, channels={int(c)}) in Python")


def read_video(path, frame_size=None, frame_channels=None) -> Data:
    """A video file, one clip folder, or a folder of clip folders / video files; frame labels from a
    ``frame_labels.csv`` (``video,frame,label``) inside the folder or beside it, when there is one.
    ``ids`` are the clip names, one per frame (with the frame numbers, the scores file's keys).
    ``frame_size`` ``(H, W)`` / ``frame_channels`` (1 or 3): every frame resized / converted when
    read (the ``--frame-size`` / ``--frame-channels`` reader options)."""
    from ..data.images import ImageSizeError
    from ..data.video import load_clips, read_frame_labels

    p = Path(path)
    try:
        clips = load_clips(p, size=frame_size, channels=frame_channels)
    except ImageSizeError as e:  # frames of one clip folder differ in size
        (h0, w0), (h1, w1) = e.first_hw, e.other_hw
        clip = Path(str(e.first)).parent.name
        raise ValueError(f"the frames of clip {clip!r} differ in size: {Path(str(e.first)).name} is {h0}x{w0} (HxW) "
                         f"but {Path(str(e.other)).name} is {h1}x{w1}; make them one size: "
                         f"{frame_size_hint(h0, w0)}") from None
    labels, notes = None, []
    for cand in ((p / "frame_labels.csv") if p.is_dir() else None, p.parent / "frame_labels.csv"):
        if cand is not None and cand.is_file():
            clips = read_frame_labels(cand, clips)
            labels = np.concatenate([c.labels for c in clips])
            notes.append(f"frame labels from {cand}")
            break
    ids = np.concatenate([np.full(len(c), c.name, dtype=object) for c in clips])
    return Data("video", None, [], ids, labels, clips=clips, source=str(p), notes=notes)


def read_manifest(path, image_cols=None, text_cols=None, label=None, size: int = 64, sep=None, encoding=None,
                  strict: bool = False, columns=None, **csv) -> Data:
    """A multimodal manifest: one record per row of a CSV/Parquet file, each column one modality.
    Image columns hold paths (relative to the manifest's folder); text columns strings; the rest
    numbers. Without ``image_cols`` / ``text_cols`` a string column is an image column when every
    value ends in an image suffix, else a text column. Images are read at ``size`` x ``size``."""
    import pandas as pd

    from ..data.images import IMAGE_SUFFIXES, load_image_files

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such manifest file: {path}")
    df = _frame(path, sep, encoding, _csv(csv))
    if len(df) == 0:
        raise ValueError(f"{path}: no records")
    split = lambda v: [c.strip() for c in v.split(",")] if isinstance(v, str) else list(v or [])  # noqa: E731
    image_cols, text_cols = split(image_cols), split(text_cols)
    missing = [c for c in image_cols + text_cols + ([label] if label else []) if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: no column(s) {missing}; it has {list(df.columns)}")
    labels = None
    if label:
        labels = _labels(df.pop(label), f"{path}: --label column {label!r}")
    if columns:
        keep = split(columns)
        absent = [c for c in keep if c not in df.columns]
        if absent:
            raise ValueError(f"{path}: no column(s) {absent} (the model's modalities); it has {list(df.columns)}")
        df = df[keep]
    for c in df.columns:
        if c in image_cols or c in text_cols or pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]):
            continue
        vals = df[c].dropna().astype(str)
        is_img = len(vals) == len(df) and vals.str.lower().str.endswith(IMAGE_SUFFIXES).all()
        (image_cols if is_img else text_cols).append(c)
    from .columns import drop_reason, numeric_column

    records, kinds, dropped = {}, {}, {}
    for c in df.columns:
        col = df[c]
        if c in image_cols:
            files = []
            for i, v in enumerate(col):
                f = Path(str(v)) if Path(str(v)).is_absolute() else path.parent / str(v)
                if not isinstance(v, str) or not f.is_file():
                    raise ValueError(f"record {i}: image {c!r} {v!r} is not a file (paths are relative to {path.parent})")
                files.append(f)
            records[c], kinds[c] = load_image_files(files, size=size), "image"
        elif c in text_cols:
            bad = col.isna() | (col.astype(str).str.strip() == "")
            if bad.any():
                raise ValueError(f"record {int(np.flatnonzero(bad.to_numpy())[0])}: text {c!r} is empty")
            records[c], kinds[c] = col.astype(str).tolist(), "text"
        else:
            v = numeric_column(col, c, str(path))
            reason = None if columns else drop_reason(c, v, "multimodal")  # the model's own columns stay
            if reason:
                dropped[c] = reason
                continue
            records[c], kinds[c] = v, "numeric"
    if not records:
        raise ValueError(f"{path}: no usable modality ({'; '.join(f'{c}: {r}' for c, r in dropped.items())})")
    notes = [f"columns: {', '.join(f'{c} ({k})' for c, k in kinds.items())}"]
    notes += [f"left out column {c!r}: {r}" for c, r in dropped.items()]
    return Data("multimodal", None, list(records), np.arange(len(df)), labels, records=records, source=str(path),
                notes=notes)


def read_data(path, modality: str, columns=None, label=None, time=None, image_prep: dict | None = None,
              **reader) -> Data:
    mm = {k: reader.pop(k) for k in ("image_cols", "text_cols", "size") if reader.get(k) is not None}
    if mm and modality != "multimodal":
        raise ValueError("--image-cols and --text-cols are for --modality multimodal")
    frames = {k: reader.pop(k) for k in ("frame_size", "frame_channels") if reader.get(k) is not None}
    if frames and modality != "video":
        raise ValueError("--frame-size and --frame-channels are for --modality video")
    if modality == "image":
        if columns or label or time:
            raise ValueError("--columns, --label and --time are for tables and series; image labels come from an "
                             "MVTec-style folder (test/good, test/<defect>)")
        return read_images(path, **(image_prep or {}))
    if modality == "video":
        if columns or label or time:
            raise ValueError("--columns, --label and --time are for tables and series; frame labels come from a "
                             "frame_labels.csv (video,frame,label) in or beside the video folder")
        return read_video(path, **frames)
    if modality == "multimodal":
        if time:
            raise ValueError("--time is for series")
        return read_manifest(path, label=label, columns=columns, **mm, **reader)
    if modality not in ("tabular", "series"):
        raise ValueError(f"--modality must be tabular, series, image, video or multimodal, got {modality!r}")
    return read_table(path, modality, columns, label, time, **reader)
