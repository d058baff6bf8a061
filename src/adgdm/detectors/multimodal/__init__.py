"""Multimodal detectors (records with image, text and numeric modalities): ``mm-cross``,
``mm-late``, ``mm-early`` and the default ``multimodal``; see :mod:`.detectors`."""
from .detectors import STRATEGIES, MMCross, MMEarly, MMLate, MultimodalBase, MultimodalDefault
from .embed import Embedder

__all__ = ["MMCross", "MMEarly", "MMLate", "MultimodalBase", "MultimodalDefault", "Embedder", "STRATEGIES"]
