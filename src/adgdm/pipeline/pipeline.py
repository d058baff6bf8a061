"""One model object from file to answer: reading, the detector, the threshold rule and the model card.

:class:`Pipeline` owns a model folder: ``fit(source)`` reads the data with the modality's I/O
(:mod:`adgdm.modalities.io`), fits the detector and sets the threshold; ``score(source)`` reads new
data the same way and returns a typed :class:`~adgdm.modalities.io.ScoreResult`; ``save`` /
``load`` write and read the folder (the detector's ``config.json`` + ``weights.safetensors``, the
card ``cli.json`` and the fitted data's fingerprint). The command line, ``adgdm serve``, the Ray
engine, reports and benchmarks all go through it.

Example
-------
>>> import numpy as np, pandas as pd, tempfile, adgdm
>>> df = pd.DataFrame(np.random.default_rng(0).normal(size=(200, 3)), columns=["a", "b", "c"])
>>> pipe = adgdm.Pipeline("dte-np").fit(df)
>>> folder = pipe.save(tempfile.mkdtemp() + "/model")
>>> res = adgdm.Pipeline.load(folder).score(df.head(5))
>>> res.to_frame().columns[:4].tolist()
['row', 'score', 'flagged', 'probability']
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np

from .._params import renamed_params
from .._validation import collect_extremes, extreme_note
from ..modalities import get_modality
from ..modalities.io import Data, ReadSpec, ScoreResult, get_io
from ..modalities.options import ReaderOptions
from ..detectors.auto import AutoFallbackWarning
from .card import CARD_FILE, ModelCard
from .flagrate import MIN_UNITS, expected_rate, shift_note
from .spec import build_detector, read_config, threshold_rule

__all__ = ["Pipeline"]


class Pipeline:
    """A detector with the way its data is read and its threshold set.

    Parameters
    ----------
    detector : a detector name or spec (``"ddpm:steps=100"``); default: the modality's recommended one.
    modality : ``tabular``, ``series``, ``image``, ``video`` or ``multimodal`` (default: the detector's).
    params : detector parameters (win over the spec's and the config's).
    columns, label, time : feature columns (default: inferred), the 0/1 label column, the id/time column.
    reader : :class:`~adgdm.modalities.options.ReaderOptions` (or a dict of them).
    threshold : ``"contamination"``, ``"pot"``, ``"fixed:V"`` or a rule dict; ``contamination``.
    seed : the detector's ``random_state`` (default 0).
    config : a TOML file with the same keys (arguments given here win).
    """

    def __init__(self, detector=None, *, modality=None, params=None, columns=None, label=None, time=None,
                 reader=None, threshold=None, contamination=None, seed=None, config=None):
        self.detector = detector
        self.modality = modality
        self.params = params
        self.columns = columns
        self.label = label
        self.time = time
        self.reader = reader
        self.threshold = threshold
        self.contamination = contamination
        self.seed = seed
        self.config = config

    # --- fit ---------------------------------------------------------------------------------------
    def _resolve(self):
        """``(detector instance, spec, modality, merged params, columns, label, time, rule, seed)``."""
        from ..detectors.registry import detector_class, list_detectors, parse_spec

        cfg = read_config(self.config) if self.config else {}
        spec = self.detector or cfg.get("detector")
        if spec is None:
            spec = get_modality(self.modality or cfg.get("modality") or "tabular").default_detector
        name, _ = parse_spec(spec)
        want = self.modality or cfg.get("modality")
        if name == "auto" and want is not None:  # --detector auto: the modality's own auto detector
            auto = get_modality(want).auto_detector
            if auto is None:
                raise ValueError(f"--detector auto is not available for {want}; choose one of "
                                 f"{', '.join(list_detectors(want))}")
            spec = auto + spec[len("auto"):]
            name = auto
        det_modality = getattr(detector_class(name), "modality", "tabular")
        modality = self.modality or cfg.get("modality") or det_modality
        if modality != det_modality:
            raise ValueError(f"detector {name!r} is a {det_modality} detector, not {modality}; "
                             f"{modality} detectors: {', '.join(list_detectors(modality))}")
        # a parameter's old name (``score`` -> ``scoring``) becomes the new one, in the card too
        params = renamed_params(detector_class(name), {**cfg.get("params", {}), **(self.params or {})})
        seed = self.seed if self.seed is not None else cfg.get("seed", 0)
        det = build_detector(spec, params, seed)
        columns = self.columns or cfg.get("columns")
        label = self.label if self.label is not None else cfg.get("label")
        time_col = self.time if self.time is not None else cfg.get("time")
        rule = threshold_rule(self.threshold if self.threshold is not None else cfg.get("threshold"),
                              self.contamination)
        if "contamination" in rule and "contamination" in det.get_params():
            det.set_params(contamination=rule["contamination"])
        return det, spec, modality, params, columns, label, time_col, rule, seed

    def fit(self, source, *, status=None) -> "Pipeline":
        """Read ``source`` (a path, or for tables a DataFrame), fit the detector and set its threshold.
        ``status``: a context-manager factory shown around a fit without its own progress bar.
        Sets ``detector_``, ``card_`` and ``fit_notes_``."""
        det, spec, modality, params, columns, label, time_col, rule, seed = self._resolve()
        io = get_io(modality)
        opts = _reader(self.reader)
        if (opts.categorical or opts.numeric) and not io.takes_kinds:
            raise ValueError("--categorical and --numeric are for tables (--modality tabular)")
        if (opts.image_cols or opts.text_cols) and not io.takes_manifest:
            raise ValueError("--image-cols and --text-cols are for --modality multimodal")
        _check_frame_options(opts, io)
        read = ReadSpec(tuple(columns) if columns else None, label, time_col, opts)
        fit = io.fit_input(source, det, read, params)
        t0 = time.perf_counter()
        with collect_extremes() as extreme, warnings.catch_warnings():  # cells too large: clipped, said here
            warnings.simplefilter("ignore", AutoFallbackWarning)  # said as a note below
            _fit_detector(det, fit.X, params, status, f"fitting {spec} on {source}")
        fit_s = time.perf_counter() - t0
        if rule["method"] != "contamination" or "contamination" not in det.get_params():
            _apply(det, rule)
        notes = list(fit.notes) + io.fit_notes(det) + ([extreme_note(extreme, fit.names)] if extreme else [])
        from .._version import __version__

        self.detector_ = det
        self.card_ = ModelCard(
            modality=modality, detector=spec, params=dict(params), columns=fit.names or None, label=label,
            time=time_col, reader=fit.reader, encoder=None if fit.encoder is None else fit.encoder.state(),
            threshold=_threshold_record(rule, det), seed=seed, data=str(source),
            fingerprint=io.fingerprint(fit.fingerprint_X), fit_seconds=round(fit_s, 3),
            created=time.strftime("%Y-%m-%dT%H:%M:%S"), adgdm_version=__version__,
            selection=getattr(det, "selection_", None))
        if getattr(det, "selection_", None):  # why auto chose what it chose, shown at fit
            sel = det.selection_
            notes.append(f"{spec} chose {det.chosen_} ({sel['why']})" + (
                "; AUROC per generated kind:\n" + det.selection_table() if sel.get("table") else ""))
        notes += _threshold_notes(self.card_.threshold)
        self.fit_notes_ = notes
        self.n_fit_ = fit.n_units
        self.encoder_ = fit.encoder
        return self

    # --- persistence -------------------------------------------------------------------------------
    def save(self, folder, *, force: bool = False) -> Path:
        """Write the model folder atomically (a temporary folder beside it, then renamed). An existing
        folder is replaced only with ``force`` and only when it is an adgdm model folder."""
        from .._atomic import replace_dir, temp_dir_beside
        from ..modalities.fingerprint import store_fingerprint

        self._check_fitted()
        folder = Path(folder)
        if folder.exists() and not force and (not folder.is_dir() or any(folder.iterdir())):
            raise ValueError(f"{folder} exists; pass force=True (--force) to replace it")
        tmp = temp_dir_beside(folder)
        try:
            self.detector_.save(tmp)
            card = self.card_
            if isinstance(card.fingerprint, dict):
                card = card.with_(fingerprint=store_fingerprint(tmp, card.fingerprint))
            card.write(tmp)
            replace_dir(tmp, folder, CARD_FILE)
        except BaseException:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return folder

    @classmethod
    def load(cls, folder) -> "Pipeline":
        """A fitted pipeline from a model folder (written by :meth:`save`, ``adgdm fit``, or
        ``detector.save`` from Python: its card is then inferred). Errors name the damaged file."""
        from ..detectors import load
        from ..modalities.fingerprint import load_fingerprint

        p = Path(folder)
        if not p.exists():
            raise FileNotFoundError(f"no such model folder: {p}")
        if not p.is_dir():
            raise ValueError(f"{p} is a file; a model is the folder written by adgdm fit or detector.save")
        try:
            det = load(p)
        except (ValueError, FileNotFoundError):
            raise
        except Exception as e:  # a damaged file: safetensors, a field of the wrong type, ...
            raise ValueError(f"{p}: the model folder is damaged ({type(e).__name__}: "
                             f"{str(e).splitlines()[0] if str(e) else ''}); restore it or refit") from None
        card = ModelCard.read(p) or ModelCard.for_detector(det)
        try:
            fp = load_fingerprint(p, card.fingerprint_dict()).get("fingerprint")
        except Exception as e:
            raise ValueError(f"{p}: the model folder is damaged ({type(e).__name__}: "
                             f"{str(e).splitlines()[0] if str(e) else ''}); restore it or refit") from None
        pipe = cls(card.detector, modality=card.modality, params=card.params, columns=card.columns,
                   label=card.label, time=card.time, reader=card.reader, threshold=card.threshold or None,
                   seed=card.seed)
        pipe.detector_, pipe.card_, pipe.folder_ = det, card.with_(fingerprint=fp), p
        pipe.fit_notes_, pipe.n_fit_ = [], None
        pipe.load_notes_ = []
        if isinstance(card.fingerprint, dict) and fp is None:
            pipe.load_notes_.append(
                f"{p}: the fingerprint of the fitted rows ({card.fingerprint.get('file', 'fingerprint.safetensors')}) "
                "is missing or damaged: rows of the training data are scored as new (lower than their training "
                "scores, since each finds itself in the reference); restore the file or refit")
        return pipe

    # --- score -------------------------------------------------------------------------------------
    @property
    def io(self):
        """The modality I/O of the fitted model (:class:`adgdm.modalities.io.ModalityIO`)."""
        self._check_fitted()
        return get_io(self.card_.modality)

    def score(self, source, *, columns=None, label=None, time=None, reader=None, explain: bool = True,
              top_k: int = 3, progress=None, name: str | None = None, check_rate: bool = True) -> ScoreResult:
        """Score ``source``: a path (file or folder, read like the training data), a pandas
        DataFrame or a list of records (tables), an image array ``(N, H, W[, C])`` or a read
        :class:`~adgdm.modalities.readers.Data` (images). ``columns``, ``label``, ``time`` and
        ``reader`` override the card's; ``name`` is what messages call an in-memory source. With
        ``check_rate``, a batch flagged far more often than the model flags normal data gets a note
        (:func:`adgdm.pipeline.flagrate.shift_note`)."""
        self._check_fitted()
        card, io = self.card_, self.io
        _check_frame_options(_reader(reader), io)
        given, where = _given(source, io)
        spec = ReadSpec(tuple(columns or card.columns or ()) or None,
                        label if label is not None else card.label, time if time is not None else card.time,
                        card.reader.merged(_reader(reader) if reader is not None else None))
        res = io.score(self.detector_, card, name or where, spec=spec, explain=explain, top_k=top_k,
                       progress=progress, given=given)
        scores = res.prediction.score
        if not np.isfinite(scores).all():
            raise ValueError(f"the model gave {int((~np.isfinite(scores)).sum())} non-finite scores on {name or where}")
        res.notes.extend(getattr(self, "load_notes_", []))
        note = None
        if check_rate and len(res) >= MIN_UNITS:  # a small batch (a served row) says nothing of a rate
            note = shift_note(self.expected_rate(), int(np.asarray(res.prediction.label).sum()), len(res),
                              get_modality(card.modality).scored_units)
        if note is not None:
            res.notes.append(note)
        return res

    def expected_rate(self) -> dict:
        """The share of normal data the threshold flags, measured on the calibration scores, with a
        95% interval (``{"rate", "interval", "n"}``)."""
        from ..thresholds import calibration_scores

        self._check_fitted()
        det = self.detector_
        cal = calibration_scores(det)
        key = (det.threshold_, id(cal), len(cal))
        if getattr(self, "_rate_key", None) != key:  # computed once per threshold, not per scored batch
            self._rate, self._rate_key = expected_rate(cal, det.threshold_), key
        return self._rate

    def calibrate(self, source, *, method: str = "contamination", contamination: float | None = None,
                  q: float | None = None, level: float | None = None, value: float | None = None,
                  progress=None, units=None) -> dict:
        """Set the threshold (and the calibrated probabilities) on ``source``, new data known to be
        normal, without refitting: its scores become the calibration scores, and the rule
        (``contamination``: their ``1 - contamination`` quantile; ``pot`` with risk ``q``; ``fixed``
        ``value``) is applied to them. ``units`` (a slice or indices): calibrate on those units only,
        scored in the context of the whole source (a stretch of a series after the fitted one).
        Returns what changed; :meth:`save` keeps it.

        Example
        -------
        >>> pipe = adgdm.Pipeline.load("model/")                       # doctest: +SKIP
        >>> pipe.calibrate("normal_this_week.csv", contamination=0.05)   # doctest: +SKIP
        >>> pipe.save("model/", force=True)                             # doctest: +SKIP
        """
        self._check_fitted()
        det, card = self.detector_, self.card_
        res = self.score(source, explain=False, progress=progress, check_rate=False)
        scores = np.asarray(res.prediction.score, dtype=np.float64)
        labels = res.labels
        keep = np.arange(len(scores)) if units is None else np.arange(len(scores))[units]
        lead = det._unjudged_lead()
        if lead and (keep < lead).any():  # a series' first steps carry no evidence: not calibration units
            keep = keep[keep >= lead]
            unit = get_modality(det.modality).unit
            res.notes.append(f"the first {lead} {unit}s of {source} (no full window) are not calibration units")
        scores = scores[keep]
        labels = None if labels is None else np.asarray(labels)[keep]
        if len(scores) < 20:
            raise ValueError(f"{source}: {len(scores)} units; calibrating a threshold needs at least 20 normal ones")
        if labels is not None and labels.any():
            raise ValueError(f"{source}: {int(labels.sum())} units are labelled anomalous; calibrate on normal "
                             "data only (drop them, or score without the label column)")
        before = {"threshold": float(det.threshold_), "flagged": float(np.mean(det._flags(scores)))}
        rule = {"method": method}
        for k, v in (("contamination", contamination), ("q", q), ("level", level), ("value", value)):
            if v is not None:
                rule[k] = float(v)
        if method == "contamination":
            rule.setdefault("contamination", float(getattr(det, "contamination", 0.1)))
        kept = getattr(det, "calibration_scores_", None)
        det.calibration_scores_ = scores
        try:
            _apply(det, rule)
        except ValueError:  # a rule refused (POT on too few scores): the model stays as it was
            if kept is None:
                del det.calibration_scores_
            else:
                det.calibration_scores_ = kept
            raise
        if method == "contamination" and "contamination" in det.get_params():
            det.set_params(contamination=rule["contamination"])  # the share the model's own rules aim at
        det._recalibrated()
        record = _threshold_record(rule, det)
        record.update(calibrated_on=str(source), n_calibration=int(len(scores)))
        self.card_ = card.with_(threshold=record)
        res.notes.extend(_threshold_notes(record))
        return {"threshold_before": before["threshold"], "threshold": float(det.threshold_),
                "flagged_before": before["flagged"], "flagged": float(np.mean(det._flags(scores))),
                "n": int(len(scores)), "method": method, "expected_rate": record["flag_rate"], "notes": list(res.notes)}

    def describe(self) -> dict:
        """The card as a plain dict, with the threshold in force."""
        self._check_fitted()
        d = self.card_.as_dict()
        d["threshold_value"] = float(self.detector_.threshold_)
        return d

    def _check_fitted(self):
        if not hasattr(self, "detector_"):
            raise ValueError("this Pipeline is not fitted; call fit(source) or Pipeline.load(folder)")

    def __repr__(self) -> str:
        state = f"fitted {self.card_.detector} ({self.card_.modality})" if hasattr(self, "card_") else "not fitted"
        return f"Pipeline({state})"


def _apply(det, rule: dict) -> None:
    """``apply_threshold(det, **rule)``; a POT threshold that flags no normal score is said by the
    note of :func:`_threshold_notes`, not by a second warning."""
    import warnings

    from ..thresholds import NoAlarmWarning, apply_threshold

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoAlarmWarning)
        apply_threshold(det, **rule)


def _threshold_record(rule: dict, det) -> dict:
    """The card's threshold entry: the rule, the value it gave and the share of normal data it
    flags (with its interval)."""
    from ..thresholds import calibration_scores

    return dict(rule, value=float(det.threshold_), flag_rate=expected_rate(calibration_scores(det), det.threshold_))


def _threshold_notes(record: dict) -> list[str]:
    """What the user must know about a threshold: one above every calibration score flags only scores
    beyond anything seen (POT with a small risk on few scores)."""
    rate = record.get("flag_rate") or {}
    if record.get("method") == "pot" and rate.get("n") and rate.get("rate") == 0:
        return [f"the POT threshold ({record['value']:.4g}, risk q={record.get('q', 1e-3):g}) lies above all "
                f"{rate['n']:,} calibration scores: it flags only scores beyond anything seen in normal data (95% "
                f"interval of its flag rate 0-{100 * rate['interval'][1]:.1f}%); for more alarms raise the risk "
                "(--threshold pot:0.01) or use --threshold contamination"]
    return []


def _check_frame_options(opts: ReaderOptions, io) -> None:
    if (opts.frame_size or opts.frame_channels) and not io.takes_frames:
        raise ValueError("--frame-size and --frame-channels are for --modality video")


def _reader(reader) -> ReaderOptions:
    if reader is None:
        return ReaderOptions()
    if isinstance(reader, ReaderOptions):
        return reader
    if hasattr(reader, "to_dict"):  # another record of reader options
        return ReaderOptions.from_dict(reader.to_dict())
    return ReaderOptions.from_dict({k: v for k, v in dict(reader).items() if v not in (None, False)})


def _given(source, io):
    """``(in-memory input or None, what messages call the source)``."""
    if isinstance(source, (str, Path)):
        return None, source
    if isinstance(source, Data):
        return source, source.source or "the data"
    if isinstance(source, list) and source and isinstance(source[0], dict):
        import pandas as pd

        return pd.DataFrame.from_records(source), "the records"
    if isinstance(source, np.ndarray) and hasattr(io, "as_data"):
        return io.as_data(source, [str(i) for i in range(len(source))], "the images"), "the images"
    return source, "the data"


def _fit_detector(det, X, params: dict, status, what: str) -> None:
    """``det.fit(X)``, with the training loop's own progress bar (steps, loss) when there is a
    ``status`` (a person watching) and the detector has one, else a spinner from ``status``."""
    if status is not None and "verbose" in det.get_params() and "verbose" not in params:
        det.set_params(verbose=True)
        try:
            det.fit(X)
        finally:
            det.set_params(verbose=False)  # not saved with the model: scoring stays quiet
    elif status is not None:
        with status(what):
            det.fit(X)
    else:
        det.fit(X)
