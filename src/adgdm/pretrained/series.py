"""A window denoiser pretrained across many series (issue 18): ``pretrain_series`` trains it,
``load_series_model`` reads it back.

Why: a diffusion model fitted on the few hundred training steps of one series knows little (the
learned ``series-impute`` scores VUS-PR 0.23 on NAB). One univariate masked window denoiser
(``TemporalConvNet``, CSDI-style: it sees the observed steps of a window and denoises the hidden
ones) is trained instead on many series of different periods, shapes, noise and scales, each
window normalised by the mean and deviation of its observed steps, so the model is scale-free and
channel-free. The weights that ship with adgdm (``adgdm/pretrained/weights/series/``) were trained on
seeded synthetic series only (:mod:`adgdm.data.series_synth`) by the command in their
``model.json``: no benchmark series leaks into them. The same function pretrains on a folder of a
user's own series.

Masks during training: half forecast (the last 1/8 or 1/4 of the window hidden), half imputation
(complementary blocks of 1/16 of the window, ImDiffusion's grating masks).

Example
-------
>>> path = pretrain_series("/tmp/adgdm-pre-doc", steps=5, n_series=8, length=256, width=8, depth=2)  # doctest: +SKIP
>>> net, schedule, meta = load_series_model(path)                                                      # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch

from .._torch import seeded
from ..data.series_synth import synthetic_collection
from ..diffusion import NoiseSchedule, TrainConfig, net_state, noise_loss, restore_net, train
from ..nets import TemporalConvNet
from ..scores.series import grating_masks, observed_stats

__all__ = ["pretrain_series", "load_series_model", "DEFAULT_DIR", "FORMAT", "training_masks", "read_series_folder"]

DEFAULT_DIR = Path(__file__).resolve().parent / "weights" / "series"
FORMAT = "adgdm-pretrained-series/1"
FLOOR = 1e-2  # the least window deviation errors are measured in (flat histories)


def training_masks(window: int) -> torch.Tensor:
    """``(n, 1, window)`` masks (1 = observed) drawn from during pretraining: forecasts of the last
    1/8 and 1/4 of the window, and the two complementary grating masks with blocks of 1/16."""
    masks = []
    for h in (window // 8, window // 4):
        m = torch.ones(1, window)
        m[:, window - h:] = 0.0
        masks.append(m)
    g = grating_masks(1, window, 2, max(1, window // 16))
    return torch.cat([torch.stack(masks), torch.stack(masks), g])  # forecasts as likely as imputation


def read_series_folder(folder) -> list[np.ndarray]:
    """Every numeric column of every ``.csv`` (header row, any separator sniffed from , ; tab) and
    ``.npy`` file under ``folder``, each a univariate series (NaNs dropped); strictly increasing
    columns (an index, a time stamp) and constant ones are left out."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder {folder}")
    out = []
    for p in sorted(folder.rglob("*")):
        if p.suffix == ".npy":
            arr = np.load(p, allow_pickle=False)
            arr = arr[:, None] if arr.ndim == 1 else arr.reshape(len(arr), -1)
        elif p.suffix == ".csv":
            head = p.open().readline()
            sep = max([",", ";", "\t"], key=head.count)
            import pandas as pd

            df = pd.read_csv(p, sep=sep)
            arr = df.select_dtypes("number").to_numpy(dtype=np.float64)
        else:
            continue
        for c in range(arr.shape[1]):
            col = arr[:, c][np.isfinite(arr[:, c])]
            if len(col) >= 32 and np.std(col) > 0 and not (np.diff(col) > 0).all():  # not an index/time column
                out.append(col.astype(np.float64))
    if not out:
        raise ValueError(f"no numeric series of 32 or more steps in {folder} (.csv or .npy files)")
    return out


def _windows(series: list[np.ndarray], window: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, 1, window)`` windows cut at random from ``series`` (each series equally likely)."""
    usable = [s for s in series if len(s) >= window]
    if not usable:
        raise ValueError(f"no series is as long as the window ({window} steps)")
    pick = rng.integers(len(usable), size=n)
    out = np.empty((n, 1, window), dtype=np.float32)
    for i, j in enumerate(pick):
        s = usable[j]
        a = int(rng.integers(len(s) - window + 1))
        out[i, 0] = s[a:a + window]
    return out


def _loss(schedule: NoiseSchedule, bank: torch.Tensor):
    def loss(model, batch, gen):
        x = batch[0]
        observed = bank[torch.randint(0, len(bank), (x.shape[0],), generator=gen)].to(x)
        mean, std = observed_stats(x, observed, FLOOR)
        z = ((x - mean) / std).clamp(-20.0, 20.0)
        hidden = 1.0 - observed
        return noise_loss(model, schedule, z, gen, mask=hidden, cond=torch.cat([z * observed, observed], dim=1))

    return loss


def pretrain_series(out, data=None, n_series: int = 4000, length: int = 1024, window: int = 128,
                    n_windows: int = 200000, steps: int = 10000, batch_size: int = 64, width: int = 64,
                    depth: int = 7, lr: float = 2e-3, seed: int = 0, progress: bool = False,
                    command: str | None = None) -> Path:
    """Train the cross-series window denoiser and write ``out/model.json`` + ``out/weights.safetensors``.

    data : None (seeded synthetic series: ``n_series`` of ``length`` steps from ``seed``) or a
        folder of the user's series (:func:`read_series_folder`).
    window : training window length (scoring windows may be shorter or longer: the network is
        convolutional). n_windows : windows cut at random once; steps : optimiser steps.
    Returns the folder.
    """
    from safetensors.numpy import save_file

    if int(window) < 16:
        raise ValueError(f"window must be >= 16, got {window}")
    if int(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder: give a folder for model.json + weights.safetensors")
    out.mkdir(parents=True, exist_ok=True)  # before training: a bad --out must not cost the run
    t0 = time.perf_counter()
    rng = np.random.default_rng(int(seed))
    if data is None:
        series = list(synthetic_collection(int(n_series), int(length), seed=int(seed)))
        source = {"kind": "synthetic", "n_series": int(n_series), "length": int(length), "seed": int(seed)}
    else:
        series = read_series_folder(data)
        source = {"kind": "folder", "n_series": len(series), "path": str(Path(data).resolve())}
    windows = torch.as_tensor(_windows(series, int(window), int(n_windows), rng))
    schedule = NoiseSchedule("cosine", 1000)
    with seeded(int(seed)):
        net = TemporalConvNet(1, cond_channels=2, width=int(width), depth=int(depth))
    config = TrainConfig(epochs=10 ** 6, max_steps=int(steps), batch_size=int(batch_size), lr=float(lr),
                         lr_schedule="cosine", ema_decay=None if int(steps) < 100 else min(0.999, 1.0 - 10.0 / int(steps)))  # EMA: ~1/10 of a short run
    net, result = train(net, [windows], _loss(schedule, training_masks(int(window))), config, seed=int(seed),
                        progress=progress, desc="pretrain series", lines=progress)
    meta, arrays = net_state(net, schedule)
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    save_file(arrays, str(out / "weights.safetensors"))
    digest = hashlib.sha256((out / "weights.safetensors").read_bytes()).hexdigest()
    losses = result.train_losses
    meta.update(format=FORMAT, window=int(window), floor=FLOOR, source=source, steps=int(result.steps),
                batch_size=int(batch_size), lr=float(lr), seed=int(seed), n_windows=int(n_windows),
                final_loss=float(np.mean(losses[-5:])) if losses else None, train_seconds=round(time.perf_counter() - t0, 1),
                weights_sha256=digest, command=command, torch=torch.__version__)
    (out / "model.json").write_text(json.dumps(meta, indent=1))
    return out


def load_series_model(path=None):
    """``(network in eval mode, schedule, meta)`` from a folder written by :func:`pretrain_series`
    (default: the weights shipped with adgdm). The weights' SHA-256 must match ``model.json``."""
    from safetensors.numpy import load_file

    folder = DEFAULT_DIR if path is None else Path(path)
    cfg, wts = folder / "model.json", folder / "weights.safetensors"
    if not cfg.is_file() or not wts.is_file():
        raise FileNotFoundError(f"{folder} holds no pretrained series model (model.json + weights.safetensors); "
                                "write one with `adgdm pretrain series --out DIR`")
    meta = json.loads(cfg.read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{cfg}: format {meta.get('format')!r}, expected {FORMAT!r}")
    digest = hashlib.sha256(wts.read_bytes()).hexdigest()
    if digest != meta.get("weights_sha256"):
        raise ValueError(f"{wts}: checksum does not match model.json (file changed or truncated)")
    net, schedule = restore_net(meta, load_file(str(wts)), expect="TemporalConvNet")
    return net, schedule, meta
