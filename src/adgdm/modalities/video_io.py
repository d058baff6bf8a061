"""I/O of video: a video file, a folder of frames or a folder of clips (frame labels from a
``frame_labels.csv``); a score and an anomaly map per frame."""
from __future__ import annotations

import hashlib

import numpy as np

from .io import FitInput, ModalityIO, ReadSpec, ScoreResult, register_io
from .readers import read_data

__all__ = ["VideoIO", "clip_hash"]


def clip_hash(frames) -> str:
    """SHA-256 of a clip's frames (float32 bytes and shape): the same footage gives the same hash."""
    a = np.ascontiguousarray(frames, dtype=np.float32)
    return hashlib.sha256(str(a.shape).encode() + memoryview(a).cast("B")).hexdigest()


class VideoIO(ModalityIO):
    name = "video"
    id_column = "video"
    units = "frames"
    source = "folder"
    takes_columns = False
    plot = "clips"          # the report draws a score timeline per clip

    def fit_input(self, source, det, spec: ReadSpec, params: dict) -> FitInput:
        d = read_data(source, "video", spec.columns, spec.label, spec.time)
        fit = FitInput([c.frames for c in d.clips], len(d.ids), [], [])
        if d.labels is not None:
            fit.notes.append("video: the frame labels are ignored when fitting (fit on normal footage only)")
        fit.fingerprint_X = d.clips
        return fit

    def fingerprint(self, clips):
        # score says when it meets the fitted clips again
        return {"format": 1, "kind": "clips", "hashes": {c.name: clip_hash(c.frames) for c in clips}}

    def summary_units(self, n_units, source) -> str:
        return f"{n_units} rows"

    def score(self, det, card, source, *, spec: ReadSpec, explain=True, top_k=3, progress=None, given=None):
        d = read_data(source, "video")
        result = det.predict_result([c.frames for c in d.clips])
        fp = card.fingerprint_dict() or {}
        known = set((fp.get("hashes") or {}).values()) if fp.get("kind") == "clips" else set()
        again = [c.name for c in d.clips if known and clip_hash(c.frames) in known]
        notes = list(d.notes)
        if again:
            notes.append(f"clip(s) {', '.join(again)} are footage this model was fitted on: their scores are "
                         "in-sample (lower than new footage of the same scene would get); score held-out footage "
                         "to judge the model")
        lead = {self.id_column: d.ids, "frame": np.concatenate([np.arange(len(c)) for c in d.clips])}
        extras = {"clips": d.clips, "maps": result.anomaly_map}
        if result.anomaly_map is not None:  # the report's overlays: the 12 highest frame scores
            maps = result.anomaly_map
            extras["overlay"] = {"images": np.concatenate([c.frames for c in d.clips]),
                                 "maps": np.concatenate(list(maps)) if isinstance(maps, list) else maps,
                                 "top": 12, "bottom": 0, "id_columns": [self.id_column, "frame"],
                                 "title": "Top frames and their anomaly maps"}
        return ScoreResult(result, lead, d.labels, top_k=top_k, notes=notes, extras=extras)


register_io(VideoIO())
