"""Shared fixtures: a small seeded Gaussian table and cheap budgets for every registered detector."""
from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from adgdm.detectors import detector_class

# The networks in these tests are tiny. With torch's default intra-op threads and another process
# busy on the second core, they run 10-60x slower (thread spin-waiting) than on one thread, so the
# suite uses one thread unless ADGDM_TEST_THREADS says otherwise.
torch.set_num_threads(int(os.environ.get("ADGDM_TEST_THREADS", "1")))
# BLAS threads spin the same way (small SVDs ran 50x slower with the second core busy)
from threadpoolctl import threadpool_limits  # noqa: E402  (a scikit-learn dependency)

threadpool_limits(int(os.environ.get("ADGDM_TEST_THREADS", "1")))

# Cheap constructor overrides per registry name. Neural detectors get tiny networks and step
# budgets; everything else keeps its defaults (they are fast on 150 rows).
_NET = dict(width=32, depth=1, max_steps=60)
FAST: dict[str, dict] = {
    "diffusion": dict(n_neighbors=20),
    "ddpm": dict(_NET, noise_levels=(0.1, 0.3), n_repeats=1, steps=3),
    "dte-np": {},
    "dte-c": dict(_NET, n_bins=10),
    "dte-ig": dict(_NET),
    "pyod-knn": {},
    "pyod-iforest": dict(n_estimators=30),
    "pyod-ecod": {},
    "pyod-lof": {},
    "pyod-ocsvm": {},
    "cycle": dict(generator_steps=30, generator_width=32, n_generated=100),
    "tabddpm": dict(width=32, depth=1, max_steps=300, schedule="linear", noise_levels=(0.1, 0.3), n_repeats=1,
                    ema_decay=None),
    "auto": dict(n_anomalies=40),
    "table-fuse": {},
}

# PyOD's ECOD re-estimates its tails on the scored batch (kept as PyOD ships it).
TRANSDUCTIVE = {"pyod-ecod"}

# Detectors whose fit actually depends on the seed.
RANDOMISED = {"ddpm", "dte-c", "dte-ig", "pyod-iforest", "cycle", "tabddpm"}

# Detectors that read tables as users have them: blank cells and text columns are input, not errors.
MIXED = {"tabddpm"}


def make(name: str, random_state=0, **overrides):
    """Build ``name`` with the FAST budget. Unlike ``make_detector`` this never drops a misspelt
    parameter silently (the class constructor rejects it); ``random_state`` is passed only when
    the detector takes one."""
    cls = detector_class(name)
    params = {**FAST[name], **overrides}
    if "random_state" in cls().get_params():
        params.setdefault("random_state", random_state)
    return cls(**params)


@pytest.fixture(scope="session")
def table():
    """150 x 4 standard-normal training rows, 40 inlier test rows and the same rows moved +8 sd."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 4))
    inliers = rng.normal(size=(40, 4))
    return SimpleNamespace(X=X, inliers=inliers, outliers=inliers + 8.0,
                           test=np.vstack([inliers, inliers[:10] + 8.0]))


@pytest.fixture(scope="module")
def ray_local():
    """A local Ray (2 CPUs, no dashboard) for the tests of one module, shut down after them: Ray's
    own processes take a tenth of a core, which would slow every later test of the session; skips
    when the [ray] extra is not installed."""
    pytest.importorskip("ray", reason="the [ray] extra is not installed")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # no token prompt for a local test cluster
    from adgdm._ray import ray_session

    with ray_session(num_cpus=2) as ray:
        yield ray
