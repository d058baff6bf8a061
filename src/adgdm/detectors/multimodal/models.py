"""The fusion strategies of the multimodal detectors, on embeddings ``{modality: (n, k)}``.

Each model is fitted on one part of the training records, calibrated on the held-out rest
(robust z-scores of its parts: ``z = (v - median) / IQR`` of the held-out normal records), and
returns named parts ``"<model>:<modality>"`` whose sum is its score.

* :class:`CrossModel` (cross-modal conditional diffusion): per modality ``m`` a denoiser of ``m``'s
  embedding conditioned on the other modalities' (concatenated), trained classifier-free (the
  condition is replaced by a null one with probability ``cond_drop``, so the same network also
  gives the unconditional estimate). Part ``m`` = the conditional noise-prediction error
  (``scoring="cond"``), its excess over the unconditional error (``"gap"``: the records whose parts
  are each normal but do not go together), or both z-scores added (``"cond+gap"``); errors are
  averaged over fixed noise levels and noise draws (common to every record).
* :class:`LateModel`: the tabular ``diffusion`` detector per modality, z-scores summed.
* :class:`EarlyModel`: the tabular ``diffusion`` detector on the concatenated embeddings (each
  modality's block weighted equally).
"""
from __future__ import annotations

import numpy as np
import torch

from ..._torch import seeded
from ...diffusion import NoiseSchedule, TrainConfig, load_net_arrays, net_arrays, noise_loss, train
from ...nets import ResidualMLP
from ...scores import RobustZ, noise_error_score
from ..base import nested_state, restore_nested
from ..tabular.diffusion import DiffusionDetector

__all__ = ["CrossModel", "LateModel", "EarlyModel", "MODELS"]


def _z_state(z: dict) -> dict:
    return {k: [float(v.center), float(v.scale)] for k, v in z.items()}


def _z_restore(d: dict) -> dict:
    return {k: RobustZ(float(c), float(s)) for k, (c, s) in d.items()}


class _Model:
    kind = "model"

    def calibrate(self, E: dict) -> None:
        raw = self.raw_parts(E)
        self.z_ = {k: RobustZ.fit(v, std_fallback=True) for k, v in raw.items()}

    def parts(self, E: dict) -> dict:
        return {k: self.z_[k](v) for k, v in self.raw_parts(E).items()}


class CrossModel(_Model):
    kind = "cross"

    def __init__(self, width=128, depth=2, max_steps=1500, batch_size=128, lr=2e-3, cond_drop=0.2,
                 noise_levels=(0.05, 0.1, 0.2, 0.3), n_repeats=2, scoring="cond+gap", n_steps=1000, seed=0):
        if scoring not in ("cond", "gap", "cond+gap"):
            raise ValueError(f"scoring must be 'cond', 'gap' or 'cond+gap', got {scoring!r}")
        if not 0.0 <= float(cond_drop) < 1.0:
            raise ValueError(f"cond_drop must lie in [0, 1), got {cond_drop}")
        self.width, self.depth, self.max_steps, self.batch_size, self.lr = width, depth, max_steps, batch_size, lr
        self.cond_drop, self.noise_levels, self.n_repeats, self.scoring = cond_drop, tuple(noise_levels), n_repeats, scoring
        self.n_steps, self.seed = n_steps, seed

    @staticmethod
    def _cond(E: dict, name: str) -> torch.Tensor:
        others = [torch.from_numpy(np.asarray(E[o], dtype=np.float32)) for o in E if o != name]
        c = torch.cat(others, dim=1)
        return torch.cat([c, torch.ones(len(c), 1)], dim=1)  # last column: the condition is present

    def fit(self, E: dict) -> None:
        if len(E) < 2:
            raise ValueError("cross-modal diffusion needs at least two modalities")
        self.schedule_ = NoiseSchedule("linear", int(self.n_steps))
        self.nets_ = {}
        sched, p = self.schedule_, float(self.cond_drop)
        for j, name in enumerate(E):
            x = torch.from_numpy(np.asarray(E[name], dtype=np.float32))
            c = self._cond(E, name)
            with seeded(self.seed + 10 * j):
                net = ResidualMLP(x.shape[1], width=int(self.width), depth=int(self.depth), cond_dim=c.shape[1])

            def loss(model, batch, gen, p=p):
                x0, cond = batch
                keep = (torch.rand(len(x0), 1, generator=gen) >= p).float()
                return noise_loss(model, sched, x0, gen, cond=cond * keep)  # dropped: all zeros, flag 0

            config = TrainConfig(epochs=10**6, max_steps=int(self.max_steps), batch_size=int(self.batch_size),
                                 lr=float(self.lr), lr_schedule="cosine")
            self.nets_[name], _ = train(net, [x, c], loss, config, seed=self.seed + 10 * j + 1)

    def errors(self, E: dict) -> dict:
        """``{name: (conditional error, unconditional error)}`` per record."""
        ts = [self.schedule_.t_from_fraction(v) for v in self.noise_levels]
        out = {}
        for j, (name, net) in enumerate(self.nets_.items()):
            x = torch.from_numpy(np.asarray(E[name], dtype=np.float32))
            c = self._cond(E, name)
            res = []
            for cond in (c, torch.zeros_like(c)):
                gen = torch.Generator().manual_seed(self.seed + 1000 + j)  # common noise: cond and uncond compare
                res.append(noise_error_score(net, self.schedule_, x, ts, int(self.n_repeats), gen, cond=cond).numpy())
            out[name] = tuple(res)
        return out

    def raw_parts(self, E: dict) -> dict:
        parts = {}
        for name, (ec, eu) in self.errors(E).items():
            if self.scoring in ("cond", "cond+gap"):
                parts[f"cross:{name}"] = ec
            if self.scoring in ("gap", "cond+gap"):
                parts[f"cross-gap:{name}"] = ec - eu
        return parts

    def state(self, prefix: str) -> tuple[dict, dict]:
        meta = {"schedule": self.schedule_.config(), "z": _z_state(self.z_), "order": list(self.nets_),
                "configs": {n: net.config for n, net in self.nets_.items()}}
        arrays = {}
        for j, net in enumerate(self.nets_.values()):
            arrays.update(net_arrays(net, prefix=f"{prefix}.net{j}."))
        return meta, arrays

    def restore(self, meta: dict, arrays: dict, prefix: str) -> None:
        self.schedule_ = NoiseSchedule(**meta["schedule"])
        self.z_ = _z_restore(meta["z"])
        self.nets_ = {}
        for j, name in enumerate(meta["order"]):
            net = ResidualMLP(**meta["configs"][name])
            self.nets_[name] = load_net_arrays(net, arrays, prefix=f"{prefix}.net{j}.")


class LateModel(_Model):
    kind = "late"

    def __init__(self, **det_params):
        self.det_params = det_params

    def fit(self, E: dict) -> None:
        self.dets_ = {name: DiffusionDetector(**{"coarse_rows": None, **self.det_params}).fit(np.asarray(v, dtype=np.float64))
                      for name, v in E.items()}

    def raw_parts(self, E: dict) -> dict:
        return {f"late:{n}": d.decision_function(np.asarray(E[n], dtype=np.float64)) for n, d in self.dets_.items()}

    def state(self, prefix: str) -> tuple[dict, dict]:
        meta = {"z": _z_state(self.z_), "order": list(self.dets_), "dets": {}}
        arrays = {}
        for j, (n, d) in enumerate(self.dets_.items()):
            m, a = nested_state(d, f"{prefix}.det{j}")
            meta["dets"][n] = {"params": d.get_params(), "meta": m}
            arrays.update(a)
        return meta, arrays

    def restore(self, meta: dict, arrays: dict, prefix: str) -> None:
        self.z_ = _z_restore(meta["z"])
        self.dets_ = {n: restore_nested(DiffusionDetector, meta["dets"][n]["params"], meta["dets"][n]["meta"],
                                        arrays, f"{prefix}.det{j}") for j, n in enumerate(meta["order"])}


class EarlyModel(_Model):
    kind = "early"

    def __init__(self, **det_params):
        self.det_params = {"standardize": False, **det_params}

    @staticmethod
    def _joint(E: dict) -> np.ndarray:
        total, m = sum(v.shape[1] for v in E.values()), len(E)
        return np.hstack([np.asarray(v, dtype=np.float64) * np.sqrt(total / (m * v.shape[1])) for v in E.values()])

    def fit(self, E: dict) -> None:
        self.det_ = DiffusionDetector(**{"coarse_rows": None, **self.det_params}).fit(self._joint(E))

    def raw_parts(self, E: dict) -> dict:
        return {"early:all": self.det_.decision_function(self._joint(E))}

    def state(self, prefix: str) -> tuple[dict, dict]:
        m, a = nested_state(self.det_, f"{prefix}.det")
        return {"z": _z_state(self.z_), "params": self.det_.get_params(), "meta": m}, a

    def restore(self, meta: dict, arrays: dict, prefix: str) -> None:
        self.z_ = _z_restore(meta["z"])
        self.det_ = restore_nested(DiffusionDetector, meta["params"], meta["meta"], arrays, f"{prefix}.det")


MODELS = {"cross": CrossModel, "late": LateModel, "early": EarlyModel}
