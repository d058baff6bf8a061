"""How a data source is read: one frozen record that the command line parses once, the model card
stores and every modality's reader takes.

Each field's ``metadata`` says how it appears on the command line (``flag``, ``help``) and for which
commands (``scope``: ``"read"`` for every command that reads data, ``"fit"`` for options fixed at fit
and kept in the model card). The command line builds its options from these fields, so a new reader
option is one field here and its use in the reader.

Example
-------
>>> from adgdm.modalities.options import ReaderOptions
>>> ReaderOptions(sep=";", categorical=("site",)).to_dict()
{'sep': ';', 'categorical': ['site']}
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

__all__ = ["ReaderOptions"]


def _opt(default, flag: str | None, help: str, scope: str = "read", kind: str = "text", csv: str | None = None):
    """A reader option; ``csv``: the ``pandas.read_csv`` keyword it is passed as, if any."""
    return field(default=default, metadata={"flag": flag, "help": help, "scope": scope, "kind": kind, "csv": csv})


def _frame_size(v, flag: str) -> tuple[int, int]:
    """``"240x360"``, ``"240,360"`` or ``(240, 360)`` -> ``(240, 360)`` (height, width in pixels)."""
    parts = [p.strip() for p in v.lower().replace(",", "x").split("x")] if isinstance(v, str) else list(v) \
        if isinstance(v, (list, tuple)) else [v]
    try:
        hw = tuple(int(p) for p in parts)
        ok = len(hw) == 2 and all(n >= 1 and str(n) == str(p).strip() for n, p in zip(hw, parts))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{flag} must be HEIGHTxWIDTH in pixels (e.g. 240x360), got {v!r}")
    return hw


@dataclass(frozen=True)
class ReaderOptions:
    """Options of the readers; ``None`` / empty means "infer"."""

    sep: str | None = _opt(None, "--sep", "Column separator of a text table (default: sniffed among , ; tab |).")
    encoding: str | None = _opt(None, "--encoding", "Text encoding of the table (default UTF-8).")
    strict: bool = _opt(False, "--strict", "Series: refuse rows out of time order instead of sorting them.",
                        kind="flag")
    decimal: str | None = _opt(None, "--decimal", "Decimal mark of numbers in a text table (default '.'; e.g. "
                               "--decimal , for 1,5).", csv="decimal")
    categorical: tuple[str, ...] = _opt((), "--categorical", "Tables: comma-separated columns read as categories "
                                        "even when they hold numbers (integer codes).", scope="fit", kind="list")
    numeric: tuple[str, ...] = _opt((), "--numeric", "Tables: comma-separated columns read as numbers (default: "
                                    "inferred; text and true/false are categories).", scope="fit", kind="list")
    image_cols: tuple[str, ...] = _opt((), "--image-cols", "Multimodal manifests: columns of image paths (default: "
                                       "inferred from the file suffixes).", scope="manifest", kind="list")
    text_cols: tuple[str, ...] = _opt((), "--text-cols", "Multimodal manifests: text columns (default: the other "
                                      "string columns).", scope="manifest", kind="list")
    size: int | None = _opt(None, None, "Multimodal manifests: image side in pixels (set from the detector).",
                            scope="internal")
    frame_size: tuple[int, int] | None = _opt(None, "--frame-size", "Video: resize every frame to HEIGHTxWIDTH "
                                              "pixels when read (e.g. --frame-size 240x360), so clips of different "
                                              "sizes become one size; fit keeps it and score applies it.",
                                              kind="size")
    frame_channels: int | None = _opt(None, "--frame-channels", "Video: read frames as 1 (gray, ITU-R 601 luma) "
                                      "or 3 (RGB) channels (default: as stored; video files decode to RGB); fit "
                                      "keeps it and score applies it.", kind="int")

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if f.metadata["kind"] == "list":
                if isinstance(v, str):
                    v = [c.strip() for c in v.split(",") if c.strip()]
                object.__setattr__(self, f.name, tuple(str(c) for c in (v or ())))
            elif f.metadata["kind"] == "size" and v is not None:
                object.__setattr__(self, f.name, _frame_size(v, f.metadata["flag"]))
        if self.frame_channels is not None:
            if isinstance(self.frame_channels, bool) or str(self.frame_channels).strip() not in ("1", "3"):
                raise ValueError(f"--frame-channels must be 1 (gray) or 3 (RGB), got {self.frame_channels!r}")
            object.__setattr__(self, "frame_channels", int(str(self.frame_channels).strip()))

    def to_dict(self) -> dict:
        """The options that differ from their defaults, JSON-ready (lists for tuples)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v != f.default:
                out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    @classmethod
    def from_dict(cls, d: dict | None, strict: bool = False) -> "ReaderOptions":
        """From a stored or given dict; ``None`` values are dropped, and so are unknown keys (old
        model cards stored a few keys this record no longer has) unless ``strict``."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d or {}) - names)
        if strict and unknown:
            raise TypeError(f"unknown reader option(s) {unknown}; known: {sorted(names)}")
        return cls(**{k: v for k, v in (d or {}).items() if k in names and v is not None})

    def csv_kwargs(self) -> dict:
        """The options passed on to ``pandas.read_csv`` as they are (those with a ``csv`` keyword,
        set away from their default)."""
        return {f.metadata["csv"]: getattr(self, f.name) for f in fields(self)
                if f.metadata["csv"] and getattr(self, f.name) != f.default}

    def merged(self, other: "ReaderOptions | None") -> "ReaderOptions":
        """These options with those ``other`` sets (non-default values) on top."""
        if other is None:
            return self
        return replace(self, **{k: v if not isinstance(v, list) else tuple(v) for k, v in other.to_dict().items()})

    def without_fit_options(self) -> "ReaderOptions":
        """Only the options a reader of new data may change (the fitted kinds stay the model's)."""
        return replace(self, **{f.name: f.default for f in fields(self) if f.metadata["scope"] != "read"})

    @classmethod
    def cli_fields(cls, scopes=("read",)):
        """``(name, default, flag, help, kind)`` of the options a command offers."""
        return [(f.name, f.default, f.metadata["flag"], f.metadata["help"], f.metadata["kind"])
                for f in fields(cls) if f.metadata["scope"] in scopes and f.metadata["flag"]]
