"""``adgdm serve``: a model over HTTP (needs the ``[serve]`` extra)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from ._common import _bad, _run, typer


@dataclass(frozen=True)
class ServeSettings:
    """What every server process reads from the environment (``adgdm.serve.factory.ENV``)."""

    model_dir: str
    max_body_bytes: int
    max_rows: int
    max_pixels: int
    max_pending: int
    timeout_s: float
    threads: int
    batch_ms: float
    explain: bool
    api_key_file: Optional[str]


def _check(model_dir, settings: ServeSettings, api_key_file, workers: int, port: int):
    """The model, the keys and the settings checked before anything listens; the settings are put
    in the environment the server processes read. Returns the model."""
    import json
    import os

    from ..serve.factory import ENV, keys_from
    from ..serve.model import load_verified

    keys_from(api_key_file)  # no key: a clear error before anything listens
    model = load_verified(model_dir)
    if workers < 1 or not 0 < port < 65536:
        raise ValueError("--workers must be >= 1 and --port in 1..65535")
    from ..serve.config import ServeConfig
    from ..serve.keys import ApiKeys

    values = asdict(settings)
    ServeConfig(keys=ApiKeys([b"x"]), **{k: v for k, v in values.items() if k != "api_key_file"})
    os.environ[ENV] = json.dumps(values)
    return model


def serve(
    model_dir: Path = typer.Argument(..., help="A model folder (adgdm fit): tables, series or images."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (default: this machine only)."),
    port: int = typer.Option(8000, help="Port."),
    workers: int = typer.Option(1, help="Server processes, each with its own copy of the model."),
    api_key_file: Optional[Path] = typer.Option(None, help="API keys, one per line ('admin:KEY' for reload); "
                                                          "default: ADGDM_API_KEYS / ADGDM_ADMIN_KEYS."),
    max_body_mb: float = typer.Option(8.0, help="Largest request body (MB); 413 above."),
    max_rows: int = typer.Option(10_000, help="Most rows (or steps) in one request; 413 above."),
    max_pixels: int = typer.Option(4096 * 4096, help="Largest uploaded image (width x height); 413 above."),
    max_pending: int = typer.Option(32, help="Requests admitted at once per process; 429 beyond."),
    timeout: float = typer.Option(30.0, help="Seconds a request may take to score; 503 beyond."),
    threads: int = typer.Option(1, help="Scoring threads per process."),
    batch_ms: float = typer.Option(1.0, help="Milliseconds concurrent table requests gather to be scored "
                                             "together (0: no waiting)."),
    explain: bool = typer.Option(True, help="Top features in the answers (tables, series)."),
    access_log: bool = typer.Option(False, help="Log every request."),
):
    """Serve a model over HTTP: POST /v1/score, GET /v1/model, GET /v1/health, POST /v1/reload.

    Every route but /v1/health needs an X-API-Key header; keys come from --api-key-file or
    ADGDM_API_KEYS (never from the command line).

    Examples:
      ADGDM_API_KEYS=$(cat key.txt) adgdm serve model/
      adgdm serve model/ --api-key-file keys.txt --port 8080
      curl -H "X-API-Key: $KEY" -H 'content-type: application/json' \\
           -d '{"records": [{"amount": 12.5, "service": "http"}]}' http://127.0.0.1:8000/v1/score
    """
    settings = ServeSettings(model_dir=str(Path(model_dir).resolve()), max_body_bytes=int(max_body_mb * 2 ** 20),
                             max_rows=max_rows, max_pixels=max_pixels, max_pending=max_pending, timeout_s=timeout,
                             threads=threads, batch_ms=batch_ms, explain=explain,
                             api_key_file=str(Path(api_key_file).resolve()) if api_key_file else None)
    model = _run(lambda: _check(model_dir, settings, api_key_file, workers, port))
    try:
        import uvicorn
    except ImportError:
        _bad("adgdm serve needs FastAPI and uvicorn: pip install 'adgdm[serve]'")
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.secho(f"note: listening on {host}: other machines can reach this port; put TLS (a reverse proxy) "
                    "in front of it", fg="yellow", err=True)
    typer.echo(f"serving {model.card.detector} ({model.modality}, version {model.version}) on "
               f"http://{host}:{port}/v1/score with {workers} process(es); Ctrl-C stops")
    uvicorn.run("adgdm.serve.factory:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=access_log, timeout_graceful_shutdown=5)


def commands() -> dict:
    return {"serve": serve}
