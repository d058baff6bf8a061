"""I/O of video: a video file, a folder of frames or a folder of clips (frame labels from a
``frame_labels.csv``); a score and an anomaly map per frame."""
from __future__ import annotations

import numpy as np

from .fingerprint import fingerprint_of, fitted_clips
from .io import FitInput, ModalityIO, ReadSpec, ScoreResult, register_io
from .options import ReaderOptions
from .readers import read_data

__all__ = ["VideoIO"]


class VideoIO(ModalityIO):
    name = "video"
    id_column = "video"
    source = "folder"
    takes_columns = False
    holds_out = True
    takes_frames = True
    plot = "clips"          # the report draws a score timeline per clip

    @staticmethod
    def _frames(spec: ReadSpec) -> dict:
        """The reader options that change frames (``--frame-size``, ``--frame-channels``)."""
        return {k: getattr(spec.reader, k) for k in ("frame_size", "frame_channels")}

    def fit_input(self, source, det, spec: ReadSpec, params: dict) -> FitInput:
        d = read_data(source, "video", spec.columns, spec.label, spec.time, **self._frames(spec))
        notes = ["video: the frame labels are ignored when fitting (fit on normal footage only)"] \
            if d.labels is not None else []
        # the clips keep their names (the folder or file name) for every message; the frame options
        # go into the model card so that scoring reads frames the same way
        keep = ReaderOptions(**self._frames(spec))
        return FitInput(d.clips, len(d.ids), [], notes, reader=keep, fingerprint_X=d.clips)

    def fit_notes(self, det) -> list:
        h, w = det.frame_shape_
        colour = "gray" if det.n_channels_ == 1 else "RGB"
        return super().fit_notes(det) + [
            f"video: fitted on {h}x{w} (HxW) {colour} frames; clips scored must be the same (or resized to it "
            f"when read: --frame-size {h}x{w})"]

    def fingerprint(self, clips):
        return fingerprint_of(clips, self.name)

    def score(self, det, card, source, *, spec: ReadSpec, explain=True, top_k=3, progress=None, given=None):
        d = read_data(source, "video", **self._frames(spec))
        result = det.predict_result(d.clips)
        again = fitted_clips(card.fingerprint, d.clips)
        notes = list(d.notes)
        if again:
            notes.append(f"clip(s) {', '.join(again)} are footage this model was fitted on: their scores are "
                         "in-sample (lower than new footage of the same scene would get); score held-out footage "
                         "to judge the model")
        lead = {self.id_column: d.ids, "frame": np.concatenate([np.arange(len(c)) for c in d.clips])}
        extras = {"clips": d.clips, "maps": result.anomaly_map}
        images = np.concatenate([c.frames for c in d.clips]) if result.anomaly_map is not None or \
            callable(getattr(det, "objects", None)) else None
        if result.anomaly_map is not None:  # the report's overlays: the 12 highest frame scores
            maps = result.anomaly_map
            extras["overlay"] = {"images": images,
                                 "maps": np.concatenate(list(maps)) if isinstance(maps, list) else maps,
                                 "top": 12, "bottom": 0, "id_columns": [self.id_column, "frame"],
                                 "title": "Top frames and their anomaly maps"}
        if callable(getattr(det, "objects", None)):  # the report's top objects (found when it asks: a report only)
            extras["objects"] = {"images": images, "objects": lambda: det.objects(d.clips), "top": 8,
                                 "id_columns": [self.id_column, "frame"], "title": "Top objects"}
        return ScoreResult(result, lead, d.labels, top_k=top_k, notes=notes, extras=extras)


register_io(VideoIO())
