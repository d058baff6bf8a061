"""The model card: what a model folder says about the model beside the detector's own files.

One typed, versioned record (``cli.json`` in the folder, the name older versions used): the
modality, the detector spec and parameters, the columns and how they were read, the label and time
columns, the table encoder, the threshold rule, the fingerprint of the fitted data and the versions.
Only :class:`adgdm.Pipeline` reads and writes it. Older cards are migrated on read.

Example
-------
>>> card = ModelCard(modality="tabular", detector="diffusion", columns=["a", "b"])
>>> ModelCard.from_json(card.to_json()) == card
True
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path

from ..modalities.options import ReaderOptions

__all__ = ["ModelCard", "CARD_FILE", "CARD_VERSION"]

CARD_FILE = "cli.json"      # the name of version 1, kept: older adgdm reads it too
CARD_FORMAT = "adgdm-cli-model"
CARD_VERSION = 2            # 1: no version field, video clip hashes under "clip_hashes"


@dataclass(frozen=True)
class ModelCard:
    """Everything but the detector's own state. ``threshold`` is the rule (``method`` and its
    settings) with the ``value`` it gave; ``fingerprint`` what the fitted data looks like (a table's
    row hashes are read from ``fingerprint.safetensors`` when the card is loaded)."""

    modality: str
    detector: str
    params: dict = field(default_factory=dict)
    columns: list | None = None
    label: str | None = None
    time: str | None = None
    reader: ReaderOptions = field(default_factory=ReaderOptions)
    encoder: dict | None = None
    threshold: dict = field(default_factory=dict)
    fingerprint: dict | None = field(default=None, compare=False)
    seed: int | None = None
    data: str | None = None
    fit_seconds: float | None = None
    created: str | None = None
    adgdm_version: str | None = None
    selection: dict | None = None  # auto detectors: the candidates' AUROC per generated kind, the choice
    version: int = CARD_VERSION

    # --- views -------------------------------------------------------------------------------------
    @cached_property
    def _encoder(self):
        if self.encoder is None:
            return None
        from ..data.encoder import TableEncoder

        return TableEncoder.from_state(self.encoder)

    def table_encoder(self):
        """The fitted :class:`adgdm.data.encoder.TableEncoder` of a mixed table (None otherwise)."""
        return self._encoder

    def input_columns(self) -> list[str] | None:
        """The table columns the model reads, by name (a mixed table's encoder columns, else the
        fitted columns); None when the card does not record them."""
        if self.encoder is not None:
            return [c["name"] for c in self.encoder.get("columns", [])] or None
        return list(self.columns) if self.columns else None

    def fingerprint_dict(self) -> dict:
        """The fingerprint as :mod:`adgdm.modalities.fingerprint` matches it (``{}``: none)."""
        return {"fingerprint": self.fingerprint} if isinstance(self.fingerprint, dict) else {}

    # --- JSON --------------------------------------------------------------------------------------
    def to_json(self) -> dict:
        out = {"format": CARD_FORMAT, "card_version": self.version}
        for f in fields(self):
            if f.name == "version":
                continue
            v = getattr(self, f.name)
            if f.name == "reader":
                v = v.to_dict()
            elif f.name == "fingerprint" and isinstance(v, dict):
                v = {k: x for k, x in v.items() if k != "row_hashes"}  # they live in fingerprint.safetensors
            out[f.name] = v
        return out

    @classmethod
    def from_json(cls, d: dict) -> "ModelCard":
        """A card from its JSON; version 1 cards (no ``card_version``) are migrated."""
        if not isinstance(d, dict) or "modality" not in d:
            raise ValueError("no 'modality'")
        d = dict(d)
        version = int(d.pop("card_version", 1))
        if version > CARD_VERSION:
            raise ValueError(f"card version {version} is newer than this adgdm reads ({CARD_VERSION}); upgrade adgdm")
        if "clip_hashes" in d:  # version 1 video models
            hashes = d.pop("clip_hashes") or {}
            if hashes and not d.get("fingerprint"):
                d["fingerprint"] = {"format": 1, "kind": "clips", "hashes": dict(hashes)}
        names = {f.name for f in fields(cls)} - {"version"}
        kw = {k: v for k, v in d.items() if k in names}
        if not isinstance(kw.get("reader") or {}, dict):
            raise ValueError(f"'reader' is {type(kw['reader']).__name__}, not an object")
        kw["reader"] = ReaderOptions.from_dict(kw.get("reader"))
        kw["params"] = dict(kw.get("params") or {})
        kw["threshold"] = dict(kw.get("threshold") or {})
        kw.setdefault("detector", None)
        card = cls(**kw)
        card._check()
        return card

    def _check(self) -> None:
        """Each field of the kind it must be (a card edited by hand, or damaged, is refused)."""
        from ..modalities import list_modalities

        if self.modality not in list_modalities():
            raise ValueError(f"unknown modality {self.modality!r}; known: {', '.join(list_modalities())}")
        kinds = {"detector": (str, type(None)), "columns": (list, type(None)), "label": (str, type(None)),
                 "time": (str, type(None)), "encoder": (dict, type(None)), "fingerprint": (dict, type(None)),
                 "seed": (int, type(None)), "selection": (dict, type(None))}
        for name, ok in kinds.items():
            if not isinstance(getattr(self, name), ok) or isinstance(getattr(self, name), bool):
                raise ValueError(f"{name!r} is {type(getattr(self, name)).__name__}, not "
                                 f"{' or '.join(t.__name__ for t in ok if t is not type(None))}")
        if self.columns is not None and not all(isinstance(c, str) for c in self.columns):
            raise ValueError("'columns' must be a list of names")

    @classmethod
    def for_detector(cls, det) -> "ModelCard":
        """The card of a model saved from Python (no card in its folder): inferred from the detector."""
        names = getattr(det, "feature_names_in_", None)
        if names is None:
            names = getattr(det, "channel_names_", None)
        return cls(modality=getattr(det, "modality", "tabular"), detector=det.name,
                   columns=None if names is None else [str(n) for n in names])

    def write(self, folder) -> Path:
        from ..io import _json_default

        path = Path(folder) / CARD_FILE
        path.write_text(json.dumps(self.to_json(), indent=2, default=_json_default))
        return path

    @classmethod
    def read(cls, folder) -> "ModelCard | None":
        """The card in ``folder`` (None when there is none); a damaged one raises ``ValueError``."""
        path = Path(folder) / CARD_FILE
        if not path.is_file():
            return None
        try:
            d = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path}: corrupted ({e}); refit the model") from None
        try:
            return cls.from_json(d)
        except Exception as e:  # a field of the wrong kind, whichever error it raises
            why = str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"
            raise ValueError(f"{path}: corrupted ({why}); refit the model") from None

    def with_(self, **changes) -> "ModelCard":
        return replace(self, **changes)

    def as_dict(self) -> dict:
        """Plain dict (the reader as a dict): for reports and ``--json``."""
        d = asdict(self)
        d["reader"] = self.reader.to_dict()
        return d
