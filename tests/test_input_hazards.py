"""Issue 30's smaller hazards: complex input, output suffixes, blank top_features in a scores file,
and the byte position of an undecodable file."""
import warnings

import numpy as np
import pandas as pd
import pytest

import adgdm
from adgdm._validation import check_series, check_tabular


@pytest.mark.parametrize("X", [np.ones((30, 2)) * (1 + 1j), [[1 + 1j, 2.0]] * 30,
                               pd.DataFrame({"a": np.arange(30) + 1j, "b": np.arange(30.0)})])
def test_complex_input_is_refused_not_cast(X):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning on the way to the error
        for check in (check_tabular, check_series):
            with pytest.raises(ValueError, match="complex"):
                check(X)
        with pytest.raises(ValueError, match="complex"):
            adgdm.make_detector("ddpm").fit(X)
        with pytest.raises(ValueError, match="complex"):
            check_series(pd.Series(np.arange(30) * 1j))
