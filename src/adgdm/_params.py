"""Small helpers for estimator parameters (scikit-learn's rules), and parameters that were renamed.

A detector that renamed a constructor parameter lists it in ``_renamed_params`` (old -> new); its
``__init__`` is wrapped (:func:`accept_renamed`, done by ``BaseDetector`` for every subclass) so the
old name still works, from Python, from a spec string or ``--param`` and from a saved model, with a
``DeprecationWarning``. ``get_params``, ``clone`` and ``inspect.signature`` see the new name only.
``score`` became ``scoring`` (issue 30): an attribute ``score`` hid the estimator's ``score()``
for scikit-learn (``GridSearchCV``, ``check_estimator``).

Example
-------
>>> import warnings, adgdm
>>> with warnings.catch_warnings(record=True) as w:
...     warnings.simplefilter("always")
...     det = adgdm.make_detector("ddpm", score="noise")
>>> det.scoring, w[0].category.__name__
('noise', 'DeprecationWarning')
"""
from __future__ import annotations

import functools
import warnings

RENAMED = {"score": "scoring"}  # old name -> new name, for the detectors that took the old one


def store_params(est, params: dict) -> None:
    """``__init__`` helper: store every constructor argument unchanged (scikit-learn's rule)."""
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(est, name, value)


def accept_renamed(init):
    """Wrap ``__init__`` so that the old names of renamed parameters (``type(self)._renamed_params``)
    are taken, with a DeprecationWarning, as the new ones; the signature stays ``init``'s."""

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        renamed = getattr(type(self), "_renamed_params", {})
        old = {k: kwargs.pop(k) for k in list(kwargs) if k in renamed}
        kwargs.update(renamed_params(type(self), {**old, **{renamed[k]: kwargs[renamed[k]] for k in old
                                                           if renamed[k] in kwargs}}, stacklevel=3))
        init(self, *args, **kwargs)

    wrapper._accepts_renamed = True
    return wrapper


def renamed_params(cls, params: dict, stacklevel: int = 3) -> dict:
    """``params`` with the old names of ``cls``'s renamed parameters replaced by the new ones (a
    DeprecationWarning each; both names with different values is an error)."""
    renamed = getattr(cls, "_renamed_params", {})
    out = dict(params)
    for old in [k for k in out if k in renamed]:
        new = renamed[old]
        value = out.pop(old)
        if new in out and out[new] != value:
            raise ValueError(f"{cls.__name__}: {old!r} is the old name of {new!r}; give {new!r} only")
        warnings.warn(f"{cls.__name__}: the parameter {old!r} is now called {new!r} ({old!r} hid the estimator's "
                      f"score() method from scikit-learn); {old!r} still works for now", DeprecationWarning,
                      stacklevel=stacklevel)
        out[new] = value
    return out
