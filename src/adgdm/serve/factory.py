"""The application uvicorn builds in each worker process (``factory=True``): its settings come
from ``ADGDM_SERVE`` (JSON: model folder, limits, key file), its keys from the key file or
``ADGDM_API_KEYS``/``ADGDM_ADMIN_KEYS``; never from the command line."""
from __future__ import annotations

import json
import os

from .config import ServeConfig
from .keys import ApiKeys

ENV = "ADGDM_SERVE"


def keys_from(api_key_file=None) -> ApiKeys:
    return ApiKeys.from_file(api_key_file) if api_key_file else ApiKeys.from_env()


def app_from_env():
    from . import create_app

    settings = json.loads(os.environ[ENV])
    keys = keys_from(settings.pop("api_key_file", None))
    return create_app(ServeConfig(keys=keys, **settings))
