"""The short examples in the docstrings of the application layer run as written."""
from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["adgdm.pipeline.pipeline", "adgdm.pipeline.card", "adgdm.modalities.io", "adgdm.modalities.options",
           "adgdm.modalities.fingerprint"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, result
