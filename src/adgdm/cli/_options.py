"""Options parsed once into frozen records.

The reader options of ``fit``, ``detect`` and ``score`` are not written out here: they are made from
the fields of :class:`adgdm.modalities.options.ReaderOptions` (their ``flag``, ``help``, ``scope`` and
``kind``). :func:`reader_options` replaces a command's ``reader`` parameter with one typer option per
field of the command's scopes and gives the body one ``ReaderOptions``; a new reader option is a
field there and its use in the reader, nothing here.
"""
from __future__ import annotations

import functools
import inspect
import typing
from typing import Optional

from ..modalities import options as _reader_module
from ._common import _bad, typer

# which reader options each command offers (the ``scope`` of ReaderOptions' fields)
SCORE_SCOPES = ("read",)
DETECT_SCOPES = ("read", "fit")
FIT_SCOPES = ("read", "fit", "manifest")
FRAME_OPTIONS = ("frame_size", "frame_channels")  # what adgdm watch reads of them

# how a field's ``kind`` appears on the command line: (annotation, typer default)
_KINDS = {"text": (Optional[str], None), "list": (Optional[str], None), "flag": (bool, False),
          "int": (Optional[int], None), "float": (Optional[float], None)}


def _options_class():
    return _reader_module.ReaderOptions


def reader_options(scopes, only=None):
    """Decorator: the command's ``reader`` parameter becomes the ReaderOptions fields of ``scopes``
    (only those named in ``only`` when given; typer reads the new ``__signature__``); the body
    receives ``reader=ReaderOptions(...)``."""
    def decorate(fn):
        cls = _options_class()
        fields = [f for f in cls.cli_fields(scopes) if only is None or f[0] in only]
        hints = typing.get_type_hints(fn)
        params = [p.replace(annotation=hints.get(p.name, p.annotation))
                  for p in inspect.signature(fn).parameters.values()]
        at = [p.name for p in params].index("reader")
        generated = []
        for name, default, flag, help, kind in fields:
            annotation, empty = _KINDS.get(kind, (Optional[str], None))
            option = typer.Option(default if kind == "flag" else empty, flag, help=help)
            generated.append(inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=option,
                                               annotation=annotation))
        params = params[:at] + generated + params[at + 1:]
        names = [name for name, *_ in fields]

        @functools.wraps(fn)
        def command(**kwargs):
            given = {name: kwargs.pop(name) for name in names}
            try:
                kwargs["reader"] = cls(**{k: v for k, v in given.items() if v is not None})
            except ValueError as e:  # a malformed option value (--frame-size 24): one line, like the body's errors
                _bad(str(e), bool(kwargs.get("json_out")))
            return fn(**kwargs)

        command.__signature__ = inspect.Signature(params)
        command.__annotations__ = {p.name: p.annotation for p in params if p.annotation is not inspect.Parameter.empty}
        return command

    return decorate
