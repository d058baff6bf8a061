"""One training loop for every network: Adam, mini-batches (or a loss that draws its own batch),
epochs or a step budget, early stopping on a held-out loss, optional EMA and cosine learning-rate
decay, seeded."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .ema import EMA
from .losses import LossFn, denoising_loss

__all__ = ["TrainConfig", "TrainResult", "train", "denoising_loss"]


@dataclass
class TrainConfig:
    """Training settings. ``epochs`` bounds passes over the data and ``max_steps`` bounds optimiser
    steps; whichever ends first stops training. ``val_fraction`` > 0 holds out rows for early stopping
    with ``patience`` evaluations (one per epoch or per ``eval_every`` steps). ``lr_schedule``
    ``"cosine"`` decays the learning rate to 0 over the training steps (None keeps it constant)."""

    epochs: int = 100
    max_steps: int | None = 2000
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    val_fraction: float = 0.0
    patience: int = 10
    eval_every: int = 200
    ema_decay: float | None = None
    grad_clip: float | None = 1.0
    lr_schedule: str | None = None

    def __post_init__(self):
        for name in ("epochs", "batch_size", "patience", "eval_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_steps is not None and int(self.max_steps) < 1:
            raise ValueError(f"max_steps must be >= 1 (or None), got {self.max_steps}")
        if not float(self.lr) > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0.0 <= float(self.val_fraction) < 1.0:
            raise ValueError(f"val_fraction must lie in [0, 1), got {self.val_fraction}")


@dataclass
class TrainResult:
    steps: int = 0
    train_losses: list = field(default_factory=list)
    val_losses: list = field(default_factory=list)
    stopped_early: bool = False


def _batches(n: int, batch_size: int, gen: torch.Generator):
    perm = torch.randperm(n, generator=gen)
    for i in range(0, n, batch_size):
        yield perm[i : i + batch_size]


def _batch_stream(tensors, n: int, batch_size: int, gen: torch.Generator, device):
    """Mini-batches epoch after epoch; each epoch's permutation is drawn only when it starts."""
    while True:
        for idx in _batches(n, batch_size, gen):
            yield [d[idx.to(device)] for d in tensors]


def _lr_scheduler(opt, kind: str | None, total: int):
    if kind is None:
        return None
    if kind == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    raise ValueError(f"unknown lr_schedule {kind!r}; choose 'cosine' or None")


def train(
    model: nn.Module,
    data: Sequence[torch.Tensor] | None,
    loss_fn: LossFn,
    config: TrainConfig = TrainConfig(),
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = False,
    desc: str = "training",
    lines: bool = False,
) -> tuple[nn.Module, TrainResult]:
    """Train ``model`` on the aligned tensors ``data`` (rows first) with ``loss_fn(model, batch, gen)``.

    With ``data=None`` the loss draws its own batch (``batch`` is None) and ``max_steps`` steps run.
    ``progress`` shows a bar at a terminal; with ``lines`` it prints a line per evaluation elsewhere.
    Returns the trained model (the EMA copy when ``ema_decay`` is set) and a :class:`TrainResult`.
    With early stopping, the weights of the best held-out evaluation are restored.

    Example
    -------
    >>> net = torch.nn.Linear(2, 1)
    >>> fn = lambda model, batch, gen: model(torch.randn(8, 2, generator=gen)).pow(2).mean()
    >>> _, res = train(net, None, fn, TrainConfig(max_steps=5, lr_schedule="cosine"))
    >>> res.steps
    5
    """
    gen = torch.Generator().manual_seed(int(seed))
    model.to(device).train()
    if data is None:
        if config.max_steps is None or config.val_fraction > 0:
            raise ValueError("a loss that draws its own batches needs max_steps and no val_fraction")
        return _train_loop(model, None, None, loss_fn, config, gen, int(config.max_steps), int(config.eval_every),
                           seed, progress, desc, lines)
    n = data[0].shape[0]
    if n == 0:
        raise ValueError("cannot train on empty data")
    tensors = [d.to(device) for d in data]
    val = None
    if config.val_fraction > 0 and n >= 20:
        perm = torch.randperm(n, generator=gen)
        n_val = max(1, int(round(config.val_fraction * n)))
        vi, ti = perm[:n_val].to(device), perm[n_val:].to(device)
        val = [d[vi] for d in tensors]
        tensors = [d[ti] for d in tensors]
        n = tensors[0].shape[0]
    steps_per_epoch = math.ceil(n / config.batch_size)
    total = config.epochs * steps_per_epoch
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    eval_every = steps_per_epoch if config.max_steps is None else min(steps_per_epoch, config.eval_every)
    batches = _batch_stream(tensors, n, config.batch_size, gen, device)
    return _train_loop(model, batches, val, loss_fn, config, gen, total, eval_every, seed, progress, desc, lines)


def _train_loop(model, batches, val, loss_fn, config, gen, total, eval_every, seed, progress, desc, lines):
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    lr_sched = _lr_scheduler(opt, config.lr_schedule, total)
    ema = EMA(model, config.ema_decay) if config.ema_decay else None
    result = TrainResult()
    best, best_state, bad = math.inf, None, 0
    bar = _progress(total, desc) if progress else None
    val_gen_seed = int(seed) + 1
    step, running = 0, []
    while step < total and not result.stopped_early:
        batch = None if batches is None else next(batches)
        loss = loss_fn(model, batch, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        opt.step()
        if lr_sched is not None:
            lr_sched.step()
        if ema is not None:
            ema.update(model)
        running.append(loss.item())
        step += 1
        if bar is not None:
            bar.update(1)
        if step % eval_every == 0 or step == total:
            result.train_losses.append(float(np.mean(running)))
            running = []
            if bar is not None:
                bar.set_postfix_str(f"loss {result.train_losses[-1]:.4f}")
            elif progress and lines:  # no terminal to draw a bar on: a line per evaluation
                print(f"[{desc}] step {step}/{total} loss {result.train_losses[-1]:.4f}", flush=True)
            if val is not None:
                current = ema.shadow if ema is not None else model
                vloss = _eval(current, val, loss_fn, val_gen_seed, config.batch_size)
                result.val_losses.append(vloss)
                if vloss < best - 1e-6:
                    best, bad = vloss, 0
                    best_state = {k: v.detach().clone() for k, v in current.state_dict().items()}
                else:
                    bad += 1
                    if bad >= config.patience:
                        result.stopped_early = True
    if bar is not None:
        bar.close()
    result.steps = step
    final = ema.shadow if ema is not None else model
    if best_state is not None:
        final.load_state_dict(best_state)
    final.eval()
    return final, result


@torch.no_grad()
def _eval(model, val, loss_fn, seed, batch_size) -> float:
    model.eval()
    gen = torch.Generator().manual_seed(seed)  # same noise every evaluation, so losses compare
    total, count = 0.0, 0
    for i in range(0, val[0].shape[0], batch_size):
        batch = [d[i : i + batch_size] for d in val]
        total += loss_fn(model, batch, gen).item() * batch[0].shape[0]
        count += batch[0].shape[0]
    model.train()
    return total / count


def _progress(total: int, desc: str):
    from .._progress import progress_bar

    return progress_bar(total, desc, unit="step")
