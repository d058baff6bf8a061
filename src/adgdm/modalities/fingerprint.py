"""In-sample scoring for the commands: data scored by the model that was fitted on it.

Scoring the fitted data anew is not honest for detectors that compare a unit with the fitted data:
the ideal denoiser (``diffusion``, ``series``) finds a training row, or a window of the training
series, in its own reference and scores it near zero. Their training scores ``decision_scores_``
are what new data of the same kind would score: leave-one-out for table rows, cross-fitted over
time blocks for series steps (each detector's ``training_scores`` says how they were obtained).

``adgdm fit`` records a fingerprint of the fitted data in the model folder (:func:`fingerprint_of`,
:func:`store_fingerprint`):
for a series, the SHA-256 of the whole fitted array and its first step (in ``cli.json``); for a
table, a 64-bit BLAKE2b hash per fitted row (``fingerprint.safetensors``, 8 bytes a row) and the
SHA-256 of them all. ``adgdm score`` (:func:`match`, :func:`substitute`) finds the fitted data in
the scored data: a series that is, or contains, the fitted series (the same steps, in order, at
any offset: the same file, or the file the training part was cut from); table rows equal to
training rows (anywhere, in any order: a fit drops the rows labelled 1, so the scored file may
hold the training rows and others). Those units get their training scores; flags and
probabilities are recomputed from them with the model's threshold; the other units keep their
new scores. The output's ``in_sample`` column marks them and the summary says so.

``adgdm detect`` (``commands/detect.py``) fits and scores one file this way in one step.

Images are not covered: image detectors hold their training images out of the reference that
scores them, and a folder is scored image by image.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

FINGERPRINT_FILE = "fingerprint.safetensors"
FORMAT = 1
MAX_OFFSETS = 64  # series: candidate offsets of the fitted series checked in a scored one

__all__ = ["row_hashes", "clip_hash", "fitted_clips", "fingerprint_of", "store_fingerprint", "load_fingerprint", "match", "substitute", "apply",
           "det_unit"]


# --- fingerprints ---------------------------------------------------------------------------------
def _canonical(X) -> np.ndarray:
    """float64, C order, ``-0.0`` as ``0.0``: equal values give equal bytes."""
    return np.ascontiguousarray(np.asarray(X, dtype=np.float64)) + 0.0


def _sha256(X: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(str(X.shape).encode())
    h.update(memoryview(X).cast("B"))
    return h.hexdigest()


def clip_hash(frames) -> str:
    """SHA-256 of a clip's frames (float32 bytes and shape): the same footage gives the same hash."""
    a = np.ascontiguousarray(frames, dtype=np.float32)
    return hashlib.sha256(str(a.shape).encode() + memoryview(a).cast("B")).hexdigest()


def fitted_clips(fp: dict | None, clips) -> list[str]:
    """Names of the ``clips`` (``Clip`` objects) that are footage the model was fitted on."""
    known = set((fp or {}).get("hashes", {}).values()) if (fp or {}).get("kind") == "clips" else set()
    return [c.name for c in clips if known and clip_hash(c.frames) in known]


def row_hashes(X) -> np.ndarray:
    """``(n,)`` uint64: the first 8 bytes of BLAKE2b of each row's float64 bytes.

    >>> h = row_hashes(np.array([[1.0, 2.0], [1.0, 2.0], [-0.0, 2.0], [0.0, 2.0]]))
    >>> bool(h[0] == h[1]), bool(h[2] == h[3]), bool(h[0] == h[2])
    (True, True, False)
    """
    A = _canonical(X)
    if A.ndim != 2:
        raise ValueError(f"rows must be 2-D, got shape {A.shape}")
    out = np.empty(len(A), dtype=np.uint64)
    for i, row in enumerate(A):
        out[i] = int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8).digest(), "little")
    return out


def fingerprint_of(X, modality: str) -> dict | None:
    """The fingerprint of ``X`` in memory (a table's ``row_hashes`` included); None for data that
    has none (images)."""
    if isinstance(X, (str, Path)) or X is None:
        return None
    if modality == "video":  # one hash per clip: score says when it meets fitted footage again
        return {"format": FORMAT, "kind": "clips", "hashes": {c.name: clip_hash(c.frames) for c in X}}
    if modality not in ("tabular", "series"):
        return None
    A = _canonical(X)
    if modality == "series":
        return {"format": FORMAT, "kind": "series", "n": int(A.shape[0]), "channels": int(A.shape[1]),
                "sha256": _sha256(A), "first": [float(v) for v in A[0]]}
    hashes = row_hashes(A)
    return {"format": FORMAT, "kind": "rows", "n": int(A.shape[0]), "features": int(A.shape[1]),
            "sha256": _sha256(hashes), "file": FINGERPRINT_FILE, "row_hashes": hashes}


def store_fingerprint(folder, fp: dict) -> dict:
    """Write a table's row hashes to ``folder/fingerprint.safetensors``; returns the JSON part."""
    if "row_hashes" not in fp:
        return fp
    from safetensors.numpy import save_file

    from .._atomic import follow_umask

    save_file({"row_hashes": fp["row_hashes"]}, str(Path(folder) / FINGERPRINT_FILE))
    follow_umask(Path(folder) / FINGERPRINT_FILE)  # safetensors writes 0600
    return {k: v for k, v in fp.items() if k != "row_hashes"}


def load_fingerprint(model_dir, meta: dict) -> dict:
    """``meta`` (a model's ``cli.json``) with a table's row hashes read into
    ``meta["fingerprint"]["row_hashes"]``; a missing or unreadable fingerprint is dropped (the data
    is then scored as new)."""
    fp = meta.get("fingerprint")
    if not isinstance(fp, dict) or fp.get("kind") != "rows" or "row_hashes" in fp:
        return meta
    try:
        from safetensors.numpy import load_file

        hashes = load_file(str(Path(model_dir) / str(fp.get("file", FINGERPRINT_FILE))))["row_hashes"]
        if hashes.shape != (int(fp["n"]),) or _sha256(hashes) != fp.get("sha256"):
            raise ValueError("row hashes do not match their checksum")
        meta["fingerprint"] = dict(fp, row_hashes=hashes)
    except Exception:  # a damaged fingerprint only costs the in-sample detection
        meta.pop("fingerprint", None)
    return meta


# --- matching -------------------------------------------------------------------------------------
@dataclass
class InSample:
    """``positions``: the scored units that are fitted units; ``train_index``: which fitted unit
    each one is (an index into ``decision_scores_``)."""

    positions: np.ndarray
    train_index: np.ndarray
    kind: str                    # "series" or "rows"
    offset: int | None = None    # series: the scored step where the fitted series starts

    def __len__(self) -> int:
        return len(self.positions)


def match(meta: dict, X) -> InSample | None:
    """Where the fitted data lies in the scored array ``X`` (None: nowhere, or no fingerprint)."""
    fp = meta.get("fingerprint")
    if not isinstance(fp, dict) or X is None:
        return None
    A = _canonical(X)
    if A.ndim != 2:
        return None
    if fp.get("kind") == "series":
        n, first = int(fp["n"]), np.asarray(fp["first"], dtype=np.float64)
        if A.shape[1] != int(fp["channels"]) or len(A) < n or first.shape != (A.shape[1],):
            return None
        # the first step's value at offset k, then the whole block's hash (at most MAX_OFFSETS
        # candidates: a constant series would make every step one)
        for k in np.flatnonzero((A[: len(A) - n + 1] == first).all(axis=1))[:MAX_OFFSETS]:
            if _sha256(A[k : k + n]) == fp["sha256"]:
                return InSample(np.arange(k, k + n), np.arange(n), "series", int(k))
        return None
    if fp.get("kind") == "rows" and "row_hashes" in fp:
        train = np.asarray(fp["row_hashes"], dtype=np.uint64)
        if A.shape[1] != int(fp["features"]) or len(train) == 0:
            return None
        order = np.argsort(train, kind="stable")
        sorted_h = train[order]
        h = row_hashes(A)
        at = np.minimum(np.searchsorted(sorted_h, h), len(sorted_h) - 1)
        hit = sorted_h[at] == h
        if not hit.any():
            return None
        return InSample(np.flatnonzero(hit), order[at[hit]], "rows")
    return None


def substitute(det, result, found: InSample, X=None):
    """``result`` (a :class:`adgdm.results.Prediction`) with the in-sample units' scores replaced by
    their training scores, and flags and calibrated probabilities recomputed from the threshold.
    Explained results (and ``X``, the scored units) get those units' explanations from the
    evidence behind the training scores (:meth:`BaseDetector.explain_fitted`)."""
    train = np.asarray(det.decision_scores_, dtype=np.float64)
    score = np.array(result.score, dtype=np.float64)
    score[found.positions] = train[found.train_index]
    contributions = result.contributions
    if contributions is not None and X is not None:
        contributions = np.array(contributions, dtype=np.float64)
        contributions[found.positions] = det.explain_fitted(np.asarray(X)[found.positions], found.train_index)
    return replace(result, score=score, label=det._flags(score).astype(int),  # the drift rule too (series)
                   probability=det._proba(score, "calibrated")[:, 1], contributions=contributions)


def _note(det, found: InSample, total: int, unit: str) -> str:
    n = len(found)
    how = getattr(det, "training_scores", "in-sample")
    if found.kind == "series":
        head = (f"all {total:,} steps are" if n == total else
                f"steps {found.offset:,} to {found.offset + n - 1:,} ({n:,} of {total:,}) are")
        head += " the series the model was fitted on"
    else:
        head = f"{n:,} of {total:,} {unit}s were training {unit}s"
    if how.startswith("in-sample"):
        return (f"{head}: their training scores are used ({getattr(det, 'name', type(det).__name__)}'s are {how}: "
                f"they may look more normal than new data)")
    return f"{head}: their {how} training scores are used"


def det_unit(det) -> str:
    """What one score of ``det`` belongs to: ``"row"``, ``"step"``, ..."""
    from .base import get_modality

    return get_modality(getattr(det, "modality", "tabular")).unit


def apply(det, meta: dict, X, result, unit: str = "row"):
    """``(result, in_sample, notes)``: :func:`substitute` where :func:`match` finds fitted units;
    ``in_sample`` is the 0/1 column (None without a fingerprint)."""
    if not isinstance(meta.get("fingerprint"), dict) or X is None:
        return result, None, []
    in_sample = np.zeros(len(result.score), dtype=np.int64)
    found = match(meta, X)
    if found is None or not len(found):
        return result, in_sample, []
    train = getattr(det, "decision_scores_", None)
    n_fit = int(meta["fingerprint"]["n"])
    if train is None or len(train) != n_fit:
        return result, in_sample, [f"the data holds the {n_fit:,} fitted {unit}s, but the model's training scores "
                                   f"do not align with them: scored anew"]
    in_sample[found.positions] = 1
    return substitute(det, result, found, X), in_sample, [_note(det, found, len(result.score), unit)]
