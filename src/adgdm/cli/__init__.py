"""The ``adgdm`` command line (needs the ``[cli]`` extra: typer, rich).

One module per command group: :mod:`.fit` (fit, detect), :mod:`.score`, :mod:`.calibrate`, :mod:`.generate`,
:mod:`.report`, :mod:`.watch`, :mod:`.bench`, :mod:`.serve` and :mod:`.info` (info, list, demo, pretrain); shared
helpers in :mod:`._common`, the options made from :class:`adgdm.modalities.options.ReaderOptions`
in :mod:`._options`. ``main`` is the console script; ``app`` the typer application.
"""
from __future__ import annotations

import sys

from ._common import _split, _split_plain, typer  # noqa: F401  (_split*: used by tests and scripts)

__all__ = ["main", "app"]


def _build_app():
    """A new typer application with every command (built on call: the modules are imported then)."""
    from . import bench, calibrate, fit, generate, info, report, score, serve, watch

    app = typer.Typer(help="adgdm: anomaly detection and generation with diffusion models.", no_args_is_help=True)
    bench.register(app)
    top = {**fit.commands(), **score.commands(), **calibrate.commands(), **generate.commands(), **report.commands()}
    for name in ("fit", "score", "calibrate", "detect", "generate", "report"):
        app.command(name)(top[name])
    info.register_pretrain(app)
    top = {**info.commands(), **serve.commands(), **watch.commands()}
    for name in ("watch", "info", "demo", "serve", "list"):
        app.command(name)(top[name])
    return app


def _bench_out(*args, **kwargs):
    from .bench import _bench_out as bench_out

    return bench_out(*args, **kwargs)


def __getattr__(name):
    if name == "app":
        return _build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main():
    if typer is None:
        sys.exit("the adgdm command needs the [cli] extra: pip install 'adgdm[cli]'")
    _build_app()()

