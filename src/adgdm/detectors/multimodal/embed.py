"""Per-modality embeddings of multimodal records, one vector per record and modality.

* image: the frozen EfficientNet-Lite0 feature map (:class:`adgdm.nets.FeatureExtractor`, resized to
  ``image_size``), averaged over locations: 152 numbers (``image_encoder="efficientnet"``); or the
  image area-resized to 8 x 8 grey levels (``"pixels"``, no download: tests, tiny data);
* text: all-MiniLM-L6-v2 sentence embeddings (:class:`adgdm.nets.SentenceEncoder`, 384 numbers,
  ``text_encoder="minilm"``); or a hashed bag of character trigrams (``"hash"``, 256 numbers);
* numeric: the numbers themselves.

Raw embeddings are cached by content hash (SHA-1 of the image bytes or the text), so repeated
records and captions are encoded once per detector. At fit each modality gets a linear map to at
most ``n_components`` numbers: centred, projected on its principal axes and scaled so that the
average variance per number is 1 (:class:`Embedder`).

Example
-------
>>> from adgdm.modalities.multimodal import MultimodalModality
>>> rec = MultimodalModality.as_records({"x": np.random.default_rng(0).normal(size=(50, 5)), "t": ["a b"] * 50})
>>> emb = Embedder(text_encoder="hash", n_components=3).fit(rec)
>>> {k: v.shape for k, v in emb.transform(rec).items()}
{'x': (50, 3), 't': (50, 3)}
"""
from __future__ import annotations

import functools
import hashlib
import zlib

import numpy as np
import torch

__all__ = ["Embedder", "hash_text_embedding", "pixel_embedding"]

HASH_DIM = 256


def hash_text_embedding(texts, dim: int = HASH_DIM) -> np.ndarray:
    """Unit vectors of hashed character trigrams (of the lower-cased, space-padded text): a cheap,
    deterministic stand-in for a sentence encoder."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for i, t in enumerate(texts):
        s = f"  {t.lower().strip()}  "
        for j in range(len(s) - 2):
            out[i, zlib.crc32(s[j:j + 3].encode("utf-8")) % dim] += 1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def pixel_embedding(images: np.ndarray, side: int = 8) -> np.ndarray:
    """Images ``(n, H, W, C)`` -> grey levels area-resized to ``side`` x ``side``, flattened."""
    x = torch.from_numpy(np.ascontiguousarray(images.mean(axis=3)))[:, None]
    return torch.nn.functional.adaptive_avg_pool2d(x, side).flatten(1).numpy().astype(np.float32)


@functools.lru_cache(maxsize=4)
def _image_extractor(size: int):
    from ...nets import FeatureExtractor
    from ..image.feature import _backbone

    return FeatureExtractor(size=int(size), batch_size=128, net=_backbone())


@functools.lru_cache(maxsize=1)
def _sentence_encoder():
    from ...nets import SentenceEncoder

    return SentenceEncoder.load()


def _key(kind: str, value) -> bytes:
    if kind == "text":
        return hashlib.sha1(value.encode("utf-8")).digest()
    a = np.ascontiguousarray(value)
    return hashlib.sha1(str(a.shape).encode() + a.tobytes()).digest()


class Embedder:
    """Raw per-modality embeddings (cached) and their fitted reduction; see the module docstring."""

    def __init__(self, image_encoder: str = "efficientnet", text_encoder: str = "minilm", image_size: int = 64,
                 n_components: int = 64):
        if image_encoder not in ("efficientnet", "pixels"):
            raise ValueError(f"image_encoder must be 'efficientnet' or 'pixels', got {image_encoder!r}")
        if text_encoder not in ("minilm", "hash"):
            raise ValueError(f"text_encoder must be 'minilm' or 'hash', got {text_encoder!r}")
        if int(n_components) < 1:
            raise ValueError(f"n_components must be >= 1, got {n_components}")
        self.image_encoder, self.text_encoder = image_encoder, text_encoder
        self.image_size, self.n_components = int(image_size), int(n_components)
        self.maps: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}
        self._cache: dict[bytes, np.ndarray] = {}

    # --- raw embeddings ---------------------------------------------------------------------------
    def _encode(self, kind: str, values) -> np.ndarray:
        if kind == "text":
            if self.text_encoder == "hash":
                return hash_text_embedding(values)
            return np.asarray(_sentence_encoder().encode(list(values)), dtype=np.float32)
        if self.image_encoder == "pixels":
            return pixel_embedding(values)
        return _image_extractor(self.image_size).pooled(np.ascontiguousarray(values.transpose(0, 3, 1, 2))).numpy()

    def raw(self, records) -> dict[str, np.ndarray]:
        """``{name: (n, d) float64}`` before the reduction; images and texts through the cache."""
        out = {}
        for name, kind in records.kinds.items():
            col = records.columns[name]
            if kind == "numeric":
                out[name] = np.asarray(col, dtype=np.float64)
                continue
            keys = [_key(kind, v) for v in col]
            todo, seen = [], set()
            for i, k in enumerate(keys):
                if k not in self._cache and k not in seen:
                    todo.append(i)
                    seen.add(k)
            if todo:
                vals = [col[i] for i in todo] if kind == "text" else col[np.asarray(todo)]
                for i, v in zip(todo, self._encode(kind, vals)):
                    self._cache[keys[i]] = np.asarray(v, dtype=np.float64)
            out[name] = np.stack([self._cache[k] for k in keys])
        return out

    # --- the fitted reduction ---------------------------------------------------------------------
    def fit(self, records) -> "Embedder":
        self.maps = {}
        for name, E in self.raw(records).items():
            mean = E.mean(axis=0)
            k = min(self.n_components, E.shape[1], max(1, E.shape[0] - 1))
            _, s, vt = np.linalg.svd(E - mean, full_matrices=False)
            comps = vt[:k].T
            var = float((s[:k] ** 2).sum() / max(1, E.shape[0] - 1) / k)
            self.maps[name] = (mean, comps, float(np.sqrt(var)) if var > 1e-24 else 1.0)
        return self

    def transform(self, records) -> dict[str, np.ndarray]:
        """``{name: (n, k) float32}``: reduced, about unit variance per number."""
        raw = self.raw(records)
        return {name: (((raw[name] - m) @ c) / s).astype(np.float32) for name, (m, c, s) in self.maps.items()}

    def state(self) -> tuple[dict, dict]:
        meta = {"embed_scales": {n: s for n, (_, _, s) in self.maps.items()}, "embed_order": list(self.maps)}
        arrays = {}
        for n, (m, c, _) in self.maps.items():
            arrays[f"embed.{n}.mean"], arrays[f"embed.{n}.components"] = m, c
        return meta, arrays

    def restore(self, meta: dict, arrays: dict) -> "Embedder":
        self.maps = {n: (np.asarray(arrays[f"embed.{n}.mean"], dtype=np.float64),
                         np.asarray(arrays[f"embed.{n}.components"], dtype=np.float64), float(meta["embed_scales"][n]))
                     for n in meta["embed_order"]}
        return self
