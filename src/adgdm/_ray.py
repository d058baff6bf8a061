"""Ray for ``--engine ray`` (``adgdm score``: :mod:`adgdm.distributed`; the bench grids:
``bench/tabular.py``, ``bench/series.py``): import it with a clear message, start or connect to a
cluster, cap the threads of one task, and run jobs with at most N in flight."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

INSTALL = "pip install 'adgdm[ray]'"


def require_ray():
    """The ``ray`` module, or an ImportError that says how to install it."""
    try:
        import ray
    except ImportError as e:
        raise ImportError(f"--engine ray needs Ray, which is not installed: {INSTALL}") from e
    return ray


def _adgdm_path() -> str:
    """The folder the driver imports ``adgdm`` from: workers started here import the same code."""
    return str(Path(__file__).resolve().parents[1])  # src/ (or site-packages/) above this package


def start(address: str | None = None, num_cpus: int | None = None):
    """``(ray, started)``: a running session, started here (``started`` True) unless one is
    already running; see :func:`ray_session` for ``address``."""
    ray = require_ray()
    if ray.is_initialized():
        return ray, False
    kwargs = dict(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    if address is None and not os.environ.get("RAY_ADDRESS"):  # a new local cluster: its CPUs, and
        # workers that import this adgdm (RAY_ADDRESS set: Ray connects there, which takes neither)
        paths = [_adgdm_path()] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        kwargs.update(num_cpus=num_cpus or os.cpu_count() or 1,
                      runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}})
    ray.init(**kwargs)
    return ray, True


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None):
    """Yield ``ray`` with a session running. ``address``: None starts a local Ray with ``num_cpus``
    (default: this machine's CPUs; or connects to ``RAY_ADDRESS`` when that is set, as Ray does);
    ``"auto"`` or ``"ray://host:port"`` connects to a running
    cluster (its workers must be able to import adgdm). A session already running (``ray.init``
    called by the caller) is used as it is and left running; one started here is shut down."""
    ray, started = start(address, num_cpus)
    if not started:
        yield ray
        return
    try:
        yield ray
    finally:
        ray.shutdown()


def cluster_cpus(ray) -> int:
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def default_workers(ray, threads: int | None) -> int:
    """Tasks in flight when ``--workers`` is not given: the cluster's CPUs // threads per task."""
    return max(1, cluster_cpus(ray) // max(1, threads or 1))


@contextmanager
def thread_budget(threads: int | None):
    """Inside a task: torch, OpenMP and BLAS limited to ``threads`` (default 1, as Ray gives a
    one-CPU task)."""
    n = max(1, int(threads or 1))
    os.environ["OMP_NUM_THREADS"] = str(n)   # libraries that start their pools later
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(n):
        yield


def one_line(e: BaseException) -> str:
    """``Type: first line of the message`` (no traceback), at most 300 characters; a task's
    exception unwrapped from Ray's RayTaskError."""
    cause = getattr(e, "cause", None)
    if isinstance(cause, BaseException):
        e = cause
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".strip()[:300]


def run_streaming(ray, submit, jobs, workers: int, on_result, on_error):
    """Submit ``submit(job)`` (an ObjectRef) for each job with at most ``workers`` in flight and call
    ``on_result(job, value)`` or ``on_error(job, message)`` in the driver as each one finishes."""
    jobs = iter(jobs)
    pending: dict = {}

    def top_up():
        for job in jobs:
            pending[submit(job)] = job
            if len(pending) >= workers:
                return

    top_up()
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            job = pending.pop(ref)
            try:
                value = ray.get(ref)
            except Exception as e:  # the job's exception (or a dead worker): a row, not the end of the grid
                on_error(job, one_line(e))
            else:
                on_result(job, value)
        top_up()
