"""``tabddpm``: one diffusion model for a table with numeric and categorical columns (TabDDPM,
Kotelnikov et al. 2023): Gaussian diffusion over the quantile-normal numeric columns, multinomial
diffusion over the categorical ones, one MLP trained on the sum of the two losses. It detects
(the loss at a few noise levels is the anomaly score) and generates (``sample``, and
``adgdm.generation``).

Every categorical column gets one more level, "unseen", that no training row has: at scoring a
value never seen at fit (or a blank where training had none) takes it and scores as very
surprising (it is never generated). Columns: text and true/false columns of a DataFrame are categorical; ``categorical=`` (indices,
or names for a DataFrame) declares more; with ``discrete="auto"`` a numeric column whose
observed training values are integers, at most ``max_categories`` distinct ones, is categorical
too (not the default, see ``discrete`` below). Blank cells: a numeric blank (NaN) is masked out of the loss (the network sees a
placeholder there, its error counts 0); a categorical blank is a level of its own.
"""
from __future__ import annotations

import numpy as np
import torch

from ..._params import store_params
from ..._torch import resolve_device, seed_of, seeded
from ..._validation import as_numeric, check_2d, read_array
from ...modalities import get_modality
from ...diffusion import MultinomialDiffusion, NoiseSchedule, TrainConfig, mixed_loss, mixed_reverse, train
from ...nets import ResidualMLP
from .._neural import NeuralDetector

__all__ = ["TabDDPMDetector"]

BLANK = "<blank>"


def _is_blank(v) -> bool:
    if v is None:
        return True
    try:
        return bool(np.isnan(v))
    except TypeError:
        return False


class TabDDPMDetector(NeuralDetector):
    """Mixed-type DDPM (TabDDPM) for tables: detector and generator.

    Parameters
    ----------
    categorical : column indices (or DataFrame column names) to treat as categorical, besides the
        text / boolean columns of a DataFrame.
    discrete : ``"auto"``: also integer-valued numeric columns with at most ``max_categories``
        distinct training values; None (default): only the declared and text ones (numeric
        columns with few levels are then Gaussian, snapped to their levels after sampling). The
        default was chosen on held-out training rows (``benchmarks/results/tabddpm_select.md``):
        at 1,500 training steps on CPU, multinomial diffusion of integer columns did not beat
        Gaussian diffusion + snapping on average.
    ema_decay : the sampled network is the exponential moving average of the weights (0.995: it
        lowered C2ST by 0.07-0.08 on held-out training rows).
    ce_weight : > 0 adds the cross-entropy of the predicted ``x_0`` to the multinomial KL (D3PM's
        hybrid loss); 0 = TabDDPM's loss.
    noise_levels, n_repeats : the score is the training loss (noise-prediction MSE of the
        observed numeric cells + mean categorical KL) at these fractions of the chain, averaged
        over ``n_repeats`` noise draws.

    Example
    -------
    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": rng.normal(size=300), "colour": rng.choice(["red", "blue"], 300, p=[0.8, 0.2])})
    >>> det = TabDDPMDetector(max_steps=200, random_state=0).fit(df)
    >>> rows = det.sample(5, random_state=0)
    >>> sorted(set(rows["colour"])) <= ["blue", "red"]
    True
    """

    name = "tabddpm"
    reads_tables = True  # takes DataFrames with text columns and blanks (the CLI still encodes first)

    def __init__(self, categorical=None, discrete: str | None = None, max_categories: int = 20,
                 noise_levels: tuple = (0.05, 0.1, 0.2), n_repeats: int = 4, schedule: str = "cosine",
                 n_steps: int = 1000, width: int = 256, depth: int = 2, dropout: float = 0.0,
                 epochs: int = 1_000_000, max_steps: int | None = 2000, batch_size: int = 256, lr: float = 1e-3,
                 val_fraction: float = 0.0, patience: int = 10, ema_decay: float | None = 0.995,
                 max_train_samples: int | None = 100_000, contamination: float = 0.1, device: str = "cpu",
                 score_batch_size: int = 8192, ce_weight: float = 0.0, random_state=None, verbose: bool = False):
        store_params(self, locals())

    # --- parameters and columns -------------------------------------------------------------------
    def _check_params(self):
        super()._check_params()
        if self.discrete not in ("auto", None):
            raise ValueError(f"discrete must be 'auto' or None, got {self.discrete!r}")
        if int(self.max_categories) < 1:
            raise ValueError(f"max_categories must be >= 1, got {self.max_categories}")
        self._check_noise_levels()
        if int(self.n_repeats) < 1:
            raise ValueError(f"n_repeats must be >= 1, got {self.n_repeats}")

    def _frame(self, X, fitting: bool):
        """``(list of column arrays (float or object), names or None)``; errors name the problem."""
        if hasattr(X, "columns") and hasattr(X, "dtypes"):
            from pandas.api.types import is_bool_dtype, is_numeric_dtype

            if X.shape[0] == 0:
                raise ValueError("X is empty: 0 samples")
            if X.shape[1] == 0:
                raise ValueError(f"X has 0 features: 0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
            names = np.asarray([str(c) for c in X.columns], dtype=object)
            cols = []
            for c, dt in zip(X.columns, X.dtypes):
                s = X[c]
                if is_bool_dtype(dt) and not s.isna().any():
                    cols.append(s.to_numpy(dtype=np.float64))
                elif is_numeric_dtype(dt) and not is_bool_dtype(dt):
                    cols.append(s.to_numpy(dtype=np.float64, na_value=np.nan))
                else:  # text, category, nullable boolean: cells as stripped strings, blanks None
                    t = s.astype("string").str.strip()
                    t = t.mask(t == "")
                    blank = t.isna().to_numpy()
                    cols.append(np.asarray([None if b else str(v) for v, b in zip(t.astype(object).tolist(), blank)],
                                           dtype=object))
            return cols, names
        arr = read_array(X, "X")
        check_2d(arr, "X")
        arr = np.asarray(as_numeric(arr, "X", "pass text columns in a pandas DataFrame"), dtype=np.float64)
        return [arr[:, j].copy() for j in range(arr.shape[1])], None

    def _declared(self, names, d) -> set:
        if self.categorical is None:
            return set()
        out = set()
        for c in np.atleast_1d(np.asarray(self.categorical, dtype=object)).tolist():
            if isinstance(c, str):
                if names is None or c not in list(names):
                    raise ValueError(f"categorical column {c!r} is not a column of X"
                                     + ("" if names is None else f"; columns: {', '.join(map(str, names))}"))
                out.add(list(names).index(c))
            else:
                j = int(c)
                if not 0 <= j < d:
                    raise ValueError(f"categorical column index {j} is outside 0..{d - 1}")
                out.add(j)
        return out

    def _fit_columns(self, cols, names) -> None:
        d = len(cols)
        declared = self._declared(names, d)
        self.kinds_, self.levels_, self.text_ = [], [], []
        for j, c in enumerate(cols):
            label = str(names[j]) if names is not None else str(j)
            if c.dtype == object:
                blank = np.asarray([v is None for v in c])
                if blank.all():
                    raise ValueError(f"column {label!r} is blank in every training row")
                levels = sorted({str(v) for v in c[~blank]})
                self.kinds_.append("categorical")
                self.text_.append(True)
                self.levels_.append(levels + ([BLANK] if blank.any() else []))
                continue
            if np.isinf(c).any():
                raise ValueError(f"X contains inf in column {label!r} (row {int(np.flatnonzero(np.isinf(c))[0])})")
            obs = c[~np.isnan(c)]
            if len(obs) == 0:
                raise ValueError(f"column {label!r} is blank in every training row")
            uniq = np.unique(obs)
            auto = (self.discrete == "auto" and len(uniq) <= int(self.max_categories)
                    and np.allclose(uniq, np.round(uniq)))
            if j in declared or auto:
                self.kinds_.append("categorical")
                self.text_.append(False)
                self.levels_.append([float(v) for v in uniq] + ([BLANK] if len(obs) < len(c) else []))
            else:
                self.kinds_.append("numeric")
                self.text_.append(False)
                self.levels_.append([])

    def _encode(self, cols, names) -> np.ndarray:
        """Columns -> float matrix: numeric values (NaN = blank), categorical level codes."""
        n = len(cols[0])
        out = np.empty((n, len(cols)))
        for j, c in enumerate(cols):
            label = str(names[j]) if names is not None else str(j)
            kind, levels = self.kinds_[j], self.levels_[j]
            if kind == "numeric":
                if c.dtype == object:
                    raise ValueError(f"column {label!r} was numeric at fit but holds text now")
                if np.isinf(c).any():
                    raise ValueError(f"X contains inf in column {label!r} (row {int(np.flatnonzero(np.isinf(c))[0])})")
                out[:, j] = c
                continue
            has_blank = bool(levels) and levels[-1] == BLANK
            real = levels[:-1] if has_blank else levels
            if self.text_[j]:
                keys = [None if v is None or _is_blank(v) else str(v).strip() for v in c.tolist()]
            else:
                if c.dtype == object:
                    raise ValueError(f"column {label!r} was numeric at fit but holds text now")
                keys = [None if np.isnan(v) else float(v) for v in c.tolist()]
            index = {v: i for i, v in enumerate(real)}
            unseen = len(levels)  # the model's extra level, never seen in training
            codes = np.empty(n)
            for i, v in enumerate(keys):
                if v is None:
                    codes[i] = len(real) if has_blank else unseen
                else:
                    codes[i] = index.get(v, unseen)
            out[:, j] = codes
        return out

    def _input(self, X, fitting: bool):
        cols, names = self._frame(X, fitting)
        if fitting:
            self.n_features_in_ = len(cols)
            if names is not None:
                self.feature_names_in_ = names
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            self._fit_columns(cols, names)
        else:
            if len(cols) != self.n_features_in_:
                raise ValueError(f"X has {len(cols)} features, but {type(self).__name__} is expecting {self.n_features_in_} "
                                 f"features as input (it was fitted with {self.n_features_in_})")
            fitted = getattr(self, "feature_names_in_", None)
            if fitted is not None and names is not None and list(names) != list(fitted):
                raise ValueError(f"X column names differ from those seen at fit: {list(names)[:10]} vs {list(fitted)[:10]}")
        names = names if names is not None else getattr(self, "feature_names_in_", None)
        # extreme numbers are clipped as every detector's input is (modalities.base.Modality.bound)
        numeric = np.asarray([k == "numeric" for k in self.kinds_], dtype=bool)
        return get_modality(self.modality).bound(self, self._encode(cols, names), fitting, names, parts=numeric)

    # --- model space ----------------------------------------------------------------------------
    @property
    def _num_idx(self) -> np.ndarray:
        return np.asarray([j for j, k in enumerate(self.kinds_) if k == "numeric"], dtype=int)

    @property
    def _cat_idx(self) -> np.ndarray:
        return np.asarray([j for j, k in enumerate(self.kinds_) if k == "categorical"], dtype=int)

    def _split(self, E: np.ndarray):
        """Encoded rows -> ``(numeric model space with NaN blanks, observed mask, level codes)``."""
        num = E[:, self._num_idx]
        obs = ~np.isnan(num)
        fm = self.featuremap_
        filled = np.where(obs, num, fm.mean_)
        Z = fm.transform(filled) if num.shape[1] else num
        if num.shape[1]:
            # beyond the training range the quantile map saturates; continue it linearly in
            # standardised units, so a far value scores farther than a near one
            q = fm._quantile_cols()
            hi, lo = q & (filled > fm.hi_), q & (filled < fm.lo_)
            from scipy.stats import norm

            edge = norm.ppf(1 - 1e-7)
            Z = np.where(hi, edge + (filled - fm.hi_) / fm.std_, Z)
            Z = np.where(lo, -edge + (filled - fm.lo_) / fm.std_, Z)
        Z = np.where(obs, Z, np.nan)
        return Z, obs, E[:, self._cat_idx].astype(np.int64)

    def _tensors(self, E: np.ndarray):
        Z, obs, codes = self._split(E)
        x = torch.as_tensor(np.nan_to_num(Z, nan=0.0), dtype=torch.float32)
        return x, torch.as_tensor(obs), self.multinomial_.onehot(torch.as_tensor(codes))

    def _fit(self, E: np.ndarray):
        from ...data.featuremap import FeatureMap

        self.seed_ = seed_of(self.random_state)
        self.device_ = resolve_device(self.device)
        self.schedule_ = NoiseSchedule(self.schedule, self.n_steps)
        rng = np.random.default_rng(self.seed_)
        num = E[:, self._num_idx]
        # the feature map is fitted on the observed cells (blanks filled with random observed
        # values of their column, which keeps each column's marginal)
        filled = num.copy()
        for j in range(num.shape[1]):
            miss = np.isnan(num[:, j])
            if miss.any():
                filled[miss, j] = rng.choice(num[~miss, j], int(miss.sum()))
        self.featuremap_ = FeatureMap(continuous="quantile").fit(filled if num.shape[1] else np.zeros((len(E), 1)))
        self.sizes_ = [len(lv) + 1 for lv, k in zip(self.levels_, self.kinds_) if k == "categorical"]
        self.multinomial_ = MultinomialDiffusion(self.schedule_, self.sizes_)
        # the blank pattern of the training rows, for sample(missing="reproduce")
        self.blank_pattern_ = self._blank_mask(E)
        train_E = E
        if self.max_train_samples and len(E) > self.max_train_samples:
            train_E = E[np.sort(rng.choice(len(E), int(self.max_train_samples), replace=False))]
        x, obs, oh = self._tensors(train_E)
        d_in = x.shape[1] + oh.shape[1]
        with seeded(self.seed_):
            net = ResidualMLP(d_in, d_in, width=self.width, depth=self.depth, dropout=self.dropout)
        sched, mult, ce = self.schedule_, self.multinomial_, float(self.ce_weight)

        def loss(model, batch, gen):
            return mixed_loss(model, sched, mult, batch[0], batch[1], batch[2], gen, ce_weight=ce)

        cfg = TrainConfig(epochs=self.epochs, max_steps=self.max_steps, batch_size=self.batch_size, lr=self.lr,
                          val_fraction=self.val_fraction, patience=self.patience, ema_decay=self.ema_decay)
        self.net_, self.train_result_ = train(net, [x, obs, oh], loss, cfg, seed=self.seed_, device=self.device_,
                                              progress=self.verbose, desc=self.name)
        self.net_.eval()
        return None

    def _blank_mask(self, E: np.ndarray) -> np.ndarray:
        """True where a cell of the encoded rows is blank (NaN numeric, blank level categorical)."""
        out = np.zeros(E.shape, dtype=bool)
        for j, (kind, lv) in enumerate(zip(self.kinds_, self.levels_)):
            if kind == "numeric":
                out[:, j] = np.isnan(E[:, j])
            elif lv and lv[-1] == BLANK:
                out[:, j] = E[:, j] == len(lv) - 1
        return out

    # --- scoring --------------------------------------------------------------------------------
    def _parts(self, E: np.ndarray):
        """Per row: the squared noise errors of the numeric cells (0 where blank) and the KL of
        each categorical column, averaged over the noise levels and draws (common random numbers:
        a row's values depend on that row alone)."""
        x, obs, oh = self._tensors(E)
        sched, mult = self.schedule_, self.multinomial_
        sq = np.empty((len(E), x.shape[1]))
        kl = np.empty((len(E), mult.n_blocks))
        bs = int(self.score_batch_size)
        k = len(self._timesteps()) * int(self.n_repeats)
        with torch.no_grad():
            for i in range(0, len(E), bs):
                gen = self._generator()
                xb, ob, cb = x[i:i + bs], obs[i:i + bs], oh[i:i + bs]
                s_tot = torch.zeros(xb.shape, dtype=torch.float64)
                k_tot = torch.zeros((len(xb), mult.n_blocks), dtype=torch.float64)
                for t in self._timesteps():
                    for _ in range(int(self.n_repeats)):
                        eps = torch.randn((1, xb.shape[1]), generator=gen)
                        u = torch.rand((1, mult.width), generator=gen, dtype=torch.float64)
                        a, b = mixed_loss(self.net_, sched, mult, xb, ob, cb, gen, t=torch.tensor(t), reduce="cells",
                                          eps=eps, u=u)
                        s_tot += a.double()
                        k_tot += b.double()
                sq[i:i + bs], kl[i:i + bs] = (s_tot / k).numpy(), (k_tot / k).numpy()
        return sq, kl, obs.numpy()

    def _score(self, E: np.ndarray) -> np.ndarray:
        """The training loss per row: mean squared noise error over the observed numeric cells
        plus the mean KL over the categorical columns."""
        sq, kl, obs = self._parts(E)
        out = sq.sum(1) / np.maximum(obs.sum(1), 1) if sq.shape[1] else np.zeros(len(E))
        return out + (kl.mean(1) if kl.shape[1] else 0.0)

    def _explain_model(self, E: np.ndarray) -> np.ndarray:
        """Each column's share of the score (a row's contributions sum to its score): a numeric
        cell's squared noise error over the observed count, a categorical column's KL over the
        categorical count (clipped at 0)."""
        sq, kl, obs = self._parts(E)
        out = np.zeros(E.shape)
        if sq.shape[1]:
            out[:, self._num_idx] = sq / np.maximum(obs.sum(1, keepdims=True), 1)
        if kl.shape[1]:
            out[:, self._cat_idx] = np.maximum(kl, 0.0) / kl.shape[1]
        return out

    # --- generation -------------------------------------------------------------------------------
    def _decode(self, Z: np.ndarray, onehot: torch.Tensor, clip: bool = True, blank: np.ndarray | None = None,
                raw_columns=None):
        """Model space -> the user's columns: a float array when every column is numeric (or a
        numeric category), else a DataFrame (with the fitted column names). ``blank`` (bool, per
        cell) empties cells: NaN in numbers, None in text. ``raw_columns`` (a bool per column):
        numeric columns left on the continuous scale (``FeatureMap.inverse``)."""
        d = self.n_features_in_
        raw = None if raw_columns is None else np.asarray(raw_columns, dtype=bool)[self._num_idx]
        num = self.featuremap_.inverse(Z, clip=clip, raw=raw) if len(self._num_idx) else np.zeros((len(Z), 0))
        codes = self.multinomial_.codes(onehot).numpy() if len(self._cat_idx) else np.zeros((len(Z), 0), dtype=int)
        cols: list = [None] * d
        for k, j in enumerate(self._num_idx):
            cols[j] = num[:, k]
        for k, j in enumerate(self._cat_idx):
            lv = self.levels_[j]
            vals = [None if c >= len(lv) or lv[c] == BLANK else lv[c] for c in codes[:, k]]
            cols[j] = np.asarray(vals, dtype=object) if self.text_[j] else np.asarray(
                [np.nan if v is None else v for v in vals], dtype=np.float64)
        if blank is not None:
            for j in range(d):
                if blank[:, j].any():
                    cols[j] = cols[j].copy()
                    cols[j][blank[:, j]] = None if self.text_[j] else np.nan
        if not any(self.text_):
            return np.column_stack(cols).astype(np.float64)
        import pandas as pd

        names = getattr(self, "feature_names_in_", None)
        names = list(names) if names is not None else [str(j) for j in range(d)]
        return pd.DataFrame({n: c for n, c in zip(names, cols)})

    def _forbid(self) -> torch.Tensor:
        """The levels never generated: blank ones (blanks come from ``missing="reproduce"``) and
        the unseen one."""
        out = []
        for j in self._cat_idx:
            lv = self.levels_[j]
            out += [v == BLANK and len(lv) > 1 for v in lv] + [True]
        return torch.as_tensor(np.asarray(out, dtype=bool))

    def sample(self, n: int, steps: int | None = None, missing: str | None = None, random_state=None,
               batch_size: int = 4096, raw_columns=None):
        """``n`` new rows in the user's columns: the ancestral chain over all timesteps (``steps``:
        a respaced chain of that many). ``missing=None`` gives complete rows; ``"reproduce"`` blanks
        the cells blank in randomly drawn training rows (each column's blank rate as in training).
        ``raw_columns`` (a bool per column): numeric columns neither snapped nor clipped.

        Example
        -------
        >>> det.sample(3, random_state=0)                 # doctest: +SKIP
        """
        self._check_fitted()
        if missing not in (None, "reproduce"):
            raise ValueError(f"missing must be None or 'reproduce', got {missing!r}")
        if int(n) < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        steps = self.schedule_.n_steps if steps is None else int(steps)
        if steps < 1:
            raise ValueError(f"steps must be >= 1 (or None for all {self.schedule_.n_steps}), got {steps}")
        seed = seed_of(random_state)
        gen = torch.Generator().manual_seed(seed)
        Zs, Cs = [], []
        T = self.schedule_.n_steps - 1
        mult = self.multinomial_
        for i in range(0, int(n), int(batch_size)):
            m = min(int(batch_size), int(n) - i)
            x = torch.randn((m, len(self._num_idx)), generator=gen)
            c = mult.sample(torch.zeros(m, mult.width), gen)  # the uniform prior
            z, c = mixed_reverse(self.net_, self.schedule_, mult, x, c, T, steps, gen, forbid=self._forbid(), clip=10.0)
            Zs.append(z.numpy().astype(np.float64))
            Cs.append(c)
        pattern = None
        if missing == "reproduce":
            rng = np.random.default_rng(seed)
            pattern = self.blank_pattern_[rng.integers(0, len(self.blank_pattern_), size=int(n))]
        return self._decode(np.concatenate(Zs), torch.cat(Cs), blank=pattern, raw_columns=raw_columns)

    def perturb(self, X, severity, random_state=None, steps: int = 20, mask=None, raw_columns=None):
        """Anomalies made from rows ``X``: noised to a level growing with ``severity`` and denoised
        with the numeric noise prediction scaled by ``1 - severity`` and the categorical
        log-probabilities by ``1 - severity`` (0: no pull to the data; below 0: pushed to rare
        levels). ``mask`` (bool, like ``X``: True = regenerate) keeps the other cells to the data.
        ``severity`` is one number or one per row; ``raw_columns`` as in :meth:`sample`. Used by
        ``generate_anomalies``."""
        self._check_fitted()
        E = self._input(X, fitting=False)
        Z, obs, codes = self._split(E)
        n = len(E)
        sev = np.broadcast_to(np.asarray(severity, dtype=np.float64), (n,))
        gen = torch.Generator().manual_seed(seed_of(random_state))
        mult = self.multinomial_
        x0 = torch.as_tensor(np.nan_to_num(Z, nan=0.0), dtype=torch.float32)
        c0 = mult.onehot(torch.as_tensor(codes))
        out_z, out_c = np.empty_like(Z), torch.empty_like(c0)
        base, slope = (0.3, 0.2) if mask is not None else (0.15, 0.15)
        grid = np.round(sev / 0.05) * 0.05
        for s in np.unique(grid):
            rows = np.flatnonzero(grid == s)
            t0 = self.schedule_.t_from_fraction(float(min(base + slope * s, 0.95)))
            tt = torch.full((len(rows),), t0, dtype=torch.long)
            xt = self.schedule_.add_noise(x0[rows], torch.randn((len(rows), x0.shape[1]), generator=gen), tt)
            ct = mult.q_sample(c0[rows], tt, gen) if mult.n_blocks else c0[rows]
            kw = {}
            scale_n: float | torch.Tensor = 1.0 - float(s)
            scale_c: float | torch.Tensor = 1.0 - float(s)
            if mask is not None:
                m = np.asarray(mask, dtype=bool)[rows]
                mn, mc = torch.as_tensor(m[:, self._num_idx]), torch.as_tensor(m[:, self._cat_idx])
                scale_n = torch.where(mn, torch.tensor(1.0 - float(s)), torch.tensor(1.0))
                if mult.n_blocks:
                    scale_c = torch.where(mc[:, mult.group], torch.tensor(1.0 - float(s)), torch.tensor(1.0))
                kw = dict(known_num=x0[rows], keep_num=~mn, known_cat=c0[rows], keep_cat=~mc)
            clip = float(max(5.0, 2.0 * np.abs(np.nan_to_num(Z)).max())) if Z.size else None
            z, c = mixed_reverse(self.net_, self.schedule_, mult, xt, ct, t0, steps, gen, eps_scale=scale_n,
                                 logit_scale=scale_c, forbid=self._forbid(), clip=clip, **kw)
            out_z[rows], out_c[rows] = z.numpy(), c
        # blank cells of the input stay blank (a regenerated one is filled)
        keep_blank = self._blank_mask(E) & (True if mask is None else ~np.asarray(mask, dtype=bool))
        return self._decode(out_z, out_c, clip=False, blank=keep_blank, raw_columns=raw_columns)

    # --- persistence ------------------------------------------------------------------------------
    def _get_state(self):
        meta, arrays = super()._get_state()
        meta.update(kinds_=list(self.kinds_), levels_=[list(lv) for lv in self.levels_], text_=list(self.text_))
        arrays.update({f"fm.{k}": v for k, v in self.featuremap_.state().items()})
        arrays["blank_pattern_"] = self.blank_pattern_.astype(np.uint8)
        return meta, arrays

    def _set_state(self, meta, arrays):
        from ...data.featuremap import FeatureMap

        self.kinds_ = [str(k) for k in meta["kinds_"]]
        self.text_ = [bool(v) for v in meta["text_"]]
        self.levels_ = [[v if (t or v == BLANK) else float(v) for v in lv] for lv, t in zip(meta["levels_"], self.text_)]
        if len(self.kinds_) != self.n_features_in_:
            raise ValueError("the saved column kinds disagree with the feature count")
        super()._set_state(meta, arrays)
        self.featuremap_ = FeatureMap.from_state("quantile", {k[3:]: v for k, v in arrays.items() if k.startswith("fm.")})
        self.sizes_ = [len(lv) + 1 for lv, k in zip(self.levels_, self.kinds_) if k == "categorical"]
        self.multinomial_ = MultinomialDiffusion(self.schedule_, self.sizes_)
        self.blank_pattern_ = np.asarray(arrays["blank_pattern_"]).astype(bool)
        d_in = len(self._num_idx) + sum(self.sizes_)
        if int(self.net_.config["in_dim"]) != d_in:
            raise ValueError(f"the saved network takes {self.net_.config['in_dim']} inputs, the columns need {d_in}")
