"""Modalities: each adapter validates its input once, records what the detector was fitted on
(and saves it), and names the unit a score belongs to (row, step, image, ...).

A new modality is an adapter (subclass :class:`Modality`, ``register_modality``) plus detectors
whose ``modality`` names it; the base detector does the rest (thresholds, ``predict``,
``predict_proba``, save/load, ``explain``, ``predict_result``).
"""
from .base import Modality, get_modality, list_modalities, register_modality
from .image import ImageModality
from .multimodal import MultimodalModality, Records
from .series import SeriesModality
from .tabular import TabularModality
from .video import VideoModality
from . import image_io, multimodal_io, table_io, video_io  # noqa: F401  (register each modality's I/O)

__all__ = ["Modality", "TabularModality", "SeriesModality", "ImageModality", "VideoModality", "MultimodalModality", "Records", "get_modality", "list_modalities",
           "register_modality"]
