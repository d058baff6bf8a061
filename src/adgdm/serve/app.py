"""The FastAPI application of ``adgdm serve``.

Every route but ``/v1/health`` needs an ``X-API-Key``; errors are JSON problem details (RFC 9457:
``type``, ``title``, ``status``, ``detail``) with no traceback or file path. Scoring runs in a
bounded thread pool: at most ``max_pending`` requests are admitted at once (429 beyond, at once,
not a hung socket) and each waits at most ``timeout_s`` (503). Concurrent small table requests are
scored together in one call (micro-batching); a batch that fails is scored request by request, so
one bad request never fails another.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from starlette.exceptions import HTTPException as StarletteHTTPException

from .config import ServeConfig
from .model import ModelSlot, check_columns, check_records, score_frame, score_image

log = logging.getLogger("adgdm.serve")

JSON_TYPES = ("application/json",)
CSV_TYPES = ("text/csv",)
PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/bmp", "image/tiff")
MEDIA_TYPES = {"json": JSON_TYPES, "csv": CSV_TYPES, "parquet": PARQUET_TYPES, "image": IMAGE_TYPES}
PROBLEM = "application/problem+json"
INLINE_ROWS = 32  # batches up to this many rows are scored on the event loop
CELL = {"type": ["number", "string", "boolean", "null"]}


def score_schema(model) -> dict:
    """The JSON body of ``/v1/score`` for this model: its columns by name (any cell type a table can
    hold; the server checks the values)."""
    if model.columns is None:
        item = {"type": "object", "additionalProperties": CELL}
    else:
        extra = [c for c in (model.card.label, model.card.time) if c]
        enc = model.card.encoder
        kinds = {c["name"]: c["kind"] for c in enc["columns"]} if enc else dict.fromkeys(model.columns, "numeric")
        types = {"numeric": ["number", "null"], "boolean": ["boolean", "null"], "categorical": ["string", "number", "null"]}
        props = {c: {"type": types.get(kinds.get(c), CELL["type"])} for c in model.columns}
        item = {"type": "object", "required": list(model.columns), "additionalProperties": False,
                "properties": {**props, **{c: CELL for c in extra}}}
    return {"type": "object", "required": ["records"], "additionalProperties": False,
            "properties": {"records": {"type": "array", "minItems": 1, "items": item}}}


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str = "", headers: dict | None = None):
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.headers = status, title, detail, headers or {}


def problem_response(status: int, title: str, detail: str = "", headers: dict | None = None):
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


class Batcher:
    """Table requests queue here; ``threads`` consumers each take what has gathered (up to
    ``batch_rows`` rows, after ``batch_ms`` of gathering) and score it in one call."""

    def __init__(self, slot: ModelSlot, pool: ThreadPoolExecutor, cfg: ServeConfig):
        self.slot, self.pool, self.cfg = slot, pool, cfg
        self.queue: list = []
        self.ready = asyncio.Event()
        self.tasks = []

    def start(self):
        self.tasks = [asyncio.get_running_loop().create_task(self._consume()) for _ in range(self.cfg.threads)]

    async def stop(self):
        for t in self.tasks:
            t.cancel()

    async def submit(self, df):
        fut = asyncio.get_running_loop().create_future()
        self.queue.append((df, fut))
        self.ready.set()
        return await fut

    async def _consume(self):
        loop = asyncio.get_running_loop()
        while True:
            await self.ready.wait()
            if self.cfg.batch_ms > 0:
                await asyncio.sleep(self.cfg.batch_ms / 1000)
            batch, rows = [], 0
            while self.queue and (not batch or rows + len(self.queue[0][0]) <= self.cfg.batch_rows):
                df, fut = self.queue.pop(0)
                if not fut.done():  # a request that timed out or went away is skipped
                    batch.append((df, fut))
                    rows += len(df)
            if not self.queue:
                self.ready.clear()
            if not batch:
                continue
            model = self.slot.current  # one model for the whole batch
            frames = [df for df, _ in batch]
            if rows <= INLINE_ROWS:  # a few ms: scored on the loop, no hand-over of the GIL to a thread
                results = _score_batch(model, frames, self.cfg)
            else:
                results = await loop.run_in_executor(self.pool, _score_batch, model, frames, self.cfg)
            for (_, fut), res in zip(batch, results):
                if fut.done():
                    continue
                if isinstance(res, BaseException):
                    fut.set_exception(res)
                else:
                    fut.set_result((res, model))


def _score_batch(model, frames, cfg):
    """Each frame's records; one call for all of them, or one call each when that fails."""
    import pandas as pd

    if len(frames) > 1:
        try:
            recs = score_frame(model, pd.concat(frames, ignore_index=True), cfg.explain, cfg.top_k)
            out, i = [], 0
            for f in frames:
                part = recs[i:i + len(f)]
                for j, r in enumerate(part):
                    if "row" in r:
                        r["row"] = j
                out.append(part)
                i += len(f)
            return out
        except Exception:  # one bad request: score them one by one so only it fails
            pass
    out = []
    for f in frames:
        try:
            out.append(score_frame(model, f, cfg.explain, cfg.top_k))
        except Exception as e:
            out.append(e)
    return out


def create_app(cfg: ServeConfig):
    from .._version import __version__

    slot = ModelSlot(cfg.model_dir)  # a model that does not load or score stops the start, clearly
    pool = ThreadPoolExecutor(cfg.threads, thread_name_prefix="adgdm-score")
    state = {"pending": 0, "batcher": None}

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        import torch

        torch.set_num_threads(cfg.threads)
        state["batcher"] = Batcher(slot, pool, cfg)
        state["batcher"].start()
        yield
        await state["batcher"].stop()
        pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="adgdm", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None, description="Anomaly scores from an adgdm model folder.")
    app.state.slot, app.state.cfg, app.state.pending = slot, cfg, state

    key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (adgdm serve's key file)")

    def need_key(key: str | None = Depends(key_header)):
        if not cfg.keys.check(key):
            raise Problem(401, "Unauthorized", "a valid X-API-Key header is required",
                          {"WWW-Authenticate": "ApiKey"})

    def need_admin(key: str | None = Depends(key_header)):
        if not cfg.keys.check(key, admin=True):
            raise Problem(401, "Unauthorized", "an admin X-API-Key is required", {"WWW-Authenticate": "ApiKey"})

    @app.exception_handler(Problem)
    async def _problem(request, exc: Problem):
        return problem_response(exc.status, exc.title, exc.detail, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, exc):
        titles = {404: "Not Found", 405: "Method Not Allowed"}
        return problem_response(exc.status_code, titles.get(exc.status_code, "Error"),
                                exc.detail if isinstance(exc.detail, str) else "", getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, exc):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return problem_response(422, "Unprocessable Content", f"{where}: {first.get('msg', 'invalid')}"[:300])

    @app.exception_handler(Exception)
    async def _crash(request, exc):  # logged here, never sent: no traceback or path leaves the server
        log.exception("error while serving %s", request.url.path)
        return problem_response(500, "Internal Server Error", "the server could not score this request")

    @app.get("/v1/health", tags=["service"])
    async def health():
        """Liveness: no key needed, says nothing about the model."""
        return {"status": "ok"}

    @app.get("/v1/model", tags=["model"], dependencies=[Depends(need_key)])
    async def model_info():
        """The model served: modality, columns, threshold, version."""
        return slot.current.describe()

    @app.get("/v1/openapi.json", tags=["service"], dependencies=[Depends(need_key)], include_in_schema=False)
    async def openapi():
        return app.openapi()

    @app.post("/v1/reload", tags=["model"], dependencies=[Depends(need_admin)])
    async def reload():
        """Load the model folder the server was started with again (admin key): loaded and checked
        in full before it replaces the served model; a folder that fails keeps the old model (409)."""
        old = slot.current.version
        try:
            new = await asyncio.get_running_loop().run_in_executor(None, slot.reload)
        except ValueError as e:
            raise Problem(409, "Reload failed", f"{_no_paths(str(e), cfg)}; still serving version {old}") from None
        return {"status": "reloaded", "version": new.version, "previous": old}

    @app.post("/v1/score", tags=["score"], dependencies=[Depends(need_key)],
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": score_schema(slot.current)},
                  "text/csv": {"schema": {"type": "string"}},
                  "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
                  "image/png": {"schema": {"type": "string", "format": "binary"}},
                  "image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}})
    async def score(request: Request):
        """Score rows (JSON ``{"records": [...]}``, a CSV or a Parquet body) for table and series
        models, or one image (PNG/JPEG/BMP/TIFF body) for image models. Each result carries the
        ``adgdm score`` fields: score, flagged, probability, threshold, top_features (tables) or a
        summary of the anomaly map (images)."""
        t0 = time.perf_counter()
        model = slot.current
        ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        accepted = tuple(t for kind in model.io.serve_types for t in MEDIA_TYPES[kind])
        if ctype not in accepted:
            raise Problem(415, "Unsupported Media Type",
                          f"this {model.modality} model takes {', '.join(accepted)}; got {ctype or 'no content type'}")
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > cfg.max_body_bytes:
            raise Problem(413, "Content Too Large", f"the body has {length} bytes; the limit is {cfg.max_body_bytes}")
        if state["pending"] >= cfg.max_pending:
            raise Problem(429, "Too Many Requests", f"{cfg.max_pending} requests are being scored; retry shortly",
                          {"Retry-After": "1"})
        state["pending"] += 1
        try:
            body = await _read_body(request, cfg.max_body_bytes)
            answer = await asyncio.wait_for(_score(model, ctype, body), cfg.timeout_s)
            # the time spent in the server (reading the body, waiting for a batch, scoring): a
            # client compares it with what it saw to tell the server's time from the network's
            return JSONResponse(answer, headers={"Server-Timing": f"score;dur={1000 * (time.perf_counter() - t0):.2f}"})
        except asyncio.TimeoutError:
            raise Problem(503, "Service Unavailable", f"scoring took longer than {cfg.timeout_s:g} s",
                          {"Retry-After": "1"}) from None
        finally:
            state["pending"] -= 1

    async def _score(model, ctype, body: bytes):
        loop = asyncio.get_running_loop()
        try:
            if ctype in IMAGE_TYPES:
                results = await loop.run_in_executor(pool, score_image, model, body, cfg.max_pixels, cfg.explain)
                return _answer(results, model)
            df = request_frame(model, ctype, body, cfg)
            if model.io.independent_units:  # rows are independent: gathered with other requests
                results, model = await state["batcher"].submit(df)
            else:
                results = await loop.run_in_executor(pool, score_frame, model, df, cfg.explain, cfg.top_k)
            return _answer(results, model)
        except OverflowError as e:
            raise Problem(413, "Content Too Large", str(e)) from None
        except (ValueError, KeyError) as e:
            raise Problem(422, "Unprocessable Content", _no_paths(str(e).splitlines()[0], cfg)) from None

    return app


def _answer(results, model) -> dict:
    return {"model_version": model.version, "modality": model.modality, "results": results}


def _no_paths(msg: str, cfg: ServeConfig) -> str:
    """An error message without the server's folders in it."""
    for p in {str(cfg.model_dir), str(cfg.model_dir.resolve())}:
        msg = msg.replace(p, "the model folder")
    return msg


async def _read_body(request, limit: int) -> bytes:
    """The body, refused (413) as soon as it passes ``limit`` bytes, whatever Content-Length said."""
    chunks, n = [], 0
    async for chunk in request.stream():
        n += len(chunk)
        if n > limit:
            raise Problem(413, "Content Too Large", f"the body passed {limit} bytes, the limit")
        chunks.append(chunk)
    return b"".join(chunks)


def request_frame(model, ctype: str, body: bytes, cfg: ServeConfig):
    """A table request's body (JSON records, CSV or Parquet) as a frame of the model's columns."""
    import io

    import pandas as pd

    if ctype in JSON_TYPES:
        try:
            doc = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"the body is not JSON ({e.__class__.__name__} at position {getattr(e, 'pos', 0)})") from None
        if not isinstance(doc, dict) or set(doc) != {"records"}:
            raise ValueError('the body must be {"records": [{column: value, ...}, ...]}')
        return check_records(model, doc["records"], cfg.max_rows)
    try:
        if ctype in CSV_TYPES:
            df = pd.read_csv(io.BytesIO(body))
        else:
            df = pd.read_parquet(io.BytesIO(body))
    except Exception as e:  # pandas and pyarrow raise many types on bad bytes
        kind = "CSV" if ctype in CSV_TYPES else "Parquet"
        raise ValueError(f"the body is not readable {kind} ({type(e).__name__})") from None
    if len(df) > cfg.max_rows:
        raise OverflowError(f"{len(df)} rows in one request; the limit is {cfg.max_rows}")
    df.columns = [str(c) for c in df.columns]
    check_columns(model, list(df.columns))
    if len(df) == 0:
        raise ValueError("no rows")
    return df
