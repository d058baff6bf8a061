"""The command line package: the commands it builds, and the reader options made from
:class:`adgdm.modalities.options.ReaderOptions` (a new field there is a new option of the commands of
its scope, passed on to the commands' ``reader``)."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

typer = pytest.importorskip("typer")
from typer.testing import CliRunner  # noqa: E402

import adgdm.commands.detect  # noqa: E402,F401  (imported before a test patches ReaderOptions)
import adgdm.modalities.options as options_module  # noqa: E402
from adgdm.cli import _build_app  # noqa: E402
from adgdm.modalities.options import ReaderOptions, _opt  # noqa: E402

FIT_FLAGS = ["--sep", "--encoding", "--strict", "--categorical", "--numeric", "--image-cols", "--text-cols"]


def _help(*args):
    res = CliRunner().invoke(_build_app(), [*args, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return res.output


def test_the_app_has_every_command():
    import typer.main

    click_app = typer.main.get_command(_build_app())
    groups = {name: sorted(c.commands) for name, c in click_app.commands.items() if hasattr(c, "commands")}
    assert sorted(click_app.commands) == sorted(["fit", "score", "calibrate", "detect", "generate", "report", "info",
                                                 "demo", "serve", "list", "bench", "pretrain", "watch"])
    assert groups == {"bench": sorted(["tabular", "series", "summarize", "generation", "image", "video",
                                       "multimodal"]),
                      "pretrain": ["series"]}
    assert [c for c in click_app.commands if c not in groups][:6] == ["fit", "score", "calibrate", "detect", "generate",
                                                                       "report"]


def test_reader_options_of_each_command():
    text = _help("fit")
    assert all(flag in text for flag in FIT_FLAGS), text
    text = _help("detect")
    assert all(flag in text for flag in FIT_FLAGS[:5]) and "--image-cols" not in text
    text = _help("score")
    assert all(flag in text for flag in FIT_FLAGS[:3]) and "--categorical" not in text
    text = " ".join(_help("fit").replace("│", " ").split())
    for name, _, flag, help, _ in ReaderOptions.cli_fields(("read", "fit", "manifest")):
        assert help in text, help  # the help texts come from ReaderOptions' fields


@dataclass(frozen=True)
class _WithThousands(ReaderOptions):
    thousands: str | None = _opt(None, "--thousands", "Tables: the thousands separator of numbers in text.",
                                 csv="thousands")


def test_a_new_reader_option_is_offered_and_passed_on(monkeypatch, tmp_path):
    monkeypatch.setattr(options_module, "ReaderOptions", _WithThousands)
    assert "--thousands" in _help("score") and "--thousands" in _help("fit") and "--thousands" in _help("detect")
    seen = {}

    def fake_score(model_dir, data, out, **kwargs):
        seen.update(kwargs["reader"].to_dict())
        return {"out": str(out)}

    monkeypatch.setattr("adgdm.commands.score.run_score", fake_score)
    res = CliRunner().invoke(_build_app(), ["score", str(tmp_path), str(tmp_path / "d.csv"), "--out",
                                            str(tmp_path / "s.csv"), "--thousands", "_", "--sep", ";", "--json"])
    assert res.exit_code == 0, res.output
    assert seen == {"sep": ";", "thousands": "_"}


def test_fit_passes_one_reader_options_record(monkeypatch, tmp_path):
    seen = {}

    def fake_fit(data, **kwargs):
        seen.update(kwargs)
        return {"model": str(kwargs["out"])}

    monkeypatch.setattr("adgdm.commands.fit.run_fit", fake_fit)
    res = CliRunner().invoke(_build_app(), ["fit", str(tmp_path / "d.csv"), "--out", str(tmp_path / "m"),
                                            "--categorical", "a, b", "--strict", "--columns", "x,y", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == {"model": str(tmp_path / "m")}
    assert seen["reader"] == ReaderOptions(strict=True, categorical=("a", "b"))
    assert seen["columns"] == ["x", "y"] and seen["time_col"] is None and seen["force"] is False


def test_serve_command_loads_probes_and_says_what_it_serves(monkeypatch, tmp_path):
    """The ``serve`` command up to the server start (uvicorn.run replaced): the model is loaded
    through the Pipeline and the first line names the detector and modality."""
    pytest = __import__("pytest")
    uvicorn = pytest.importorskip("uvicorn")
    import numpy as np
    import pandas as pd

    pd.DataFrame(np.random.default_rng(0).normal(size=(60, 3)), columns=list("abc")).to_csv(tmp_path / "t.csv",
                                                                                            index=False)
    assert CliRunner().invoke(_build_app(), ["fit", str(tmp_path / "t.csv"), "--detector", "dte-np", "--out",
                                             str(tmp_path / "m")]).exit_code == 0
    (tmp_path / "keys").write_text("k" * 40 + "\n")
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: calls.append(k))
    res = CliRunner().invoke(_build_app(), ["serve", str(tmp_path / "m"), "--api-key-file", str(tmp_path / "keys")])
    assert res.exit_code == 0, res.output
    assert "serving dte-np (tabular" in res.output and calls and calls[0]["port"] == 8000
