"""``adgdm serve``: a model folder behind a REST endpoint (FastAPI + uvicorn, extra ``[serve]``).

>>> from adgdm.serve import ServeConfig, create_app                       # doctest: +SKIP
>>> app = create_app(ServeConfig("model/", keys=ApiKeys.from_env()))      # doctest: +SKIP
"""
from .keys import ApiKeys
from .model import ModelSlot
from .config import ServeConfig

__all__ = ["ApiKeys", "ModelSlot", "ServeConfig", "create_app"]


def create_app(config: "ServeConfig"):
    """The FastAPI application (imported here: FastAPI is an optional extra)."""
    from .app import create_app as _create

    return _create(config)
