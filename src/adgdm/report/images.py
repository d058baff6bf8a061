"""PNG tiles for the report (PIL + a matplotlib colormap), embedded as base64 ``data:`` URIs.

Example
-------
>>> import numpy as np
>>> from adgdm.report.images import overlay_tile, data_uri
>>> img, amap = np.random.default_rng(0).random((2, 32, 32))
>>> uri = data_uri(overlay_tile(img, amap, vmin=0.0, vmax=1.0))   # "data:image/png;base64,..."
"""
from __future__ import annotations

import base64
import io

import numpy as np

__all__ = ["to_rgb", "overlay_tile", "plain_tile", "boxed_tile", "data_uri"]

MISSING = "the report needs the [report] extra: pip install 'adgdm[report]'"
MASK_RGB = np.array([0, 230, 64], np.uint8)  # green outline: distinct from the blue-red heat colours
GAP = 4  # white pixels between the image and its overlay


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(MISSING) from None
    return Image


def to_rgb(img: np.ndarray) -> np.ndarray:
    """``(H, W)`` or ``(H, W, C)`` in uint8/bool/[0, 1] floats -> ``(H, W, 3)`` uint8 (alpha dropped)."""
    a = np.asarray(img)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif a.dtype != np.uint8:
        a = (np.clip(a, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    if a.ndim == 2:
        a = a[..., None]
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    return np.ascontiguousarray(a[..., :3])


def _scale(h: int, w: int, target: int) -> tuple[int, int]:
    """Display size: small images are enlarged (crisp, nearest) and large ones reduced to ``target``."""
    f = target / max(h, w)
    if f > 1:
        f = max(1, int(f))  # integer factor keeps pixels square
    return max(1, round(h * f)), max(1, round(w * f))


def _resize(a: np.ndarray, size: tuple[int, int], smooth: bool) -> np.ndarray:
    Image = _pil()
    h, w = size
    if a.shape[:2] == (h, w):
        return a
    resample = Image.Resampling.BILINEAR if smooth else Image.Resampling.NEAREST
    if a.dtype == bool:
        return np.asarray(Image.fromarray(a.astype(np.uint8) * 255).resize((w, h), Image.Resampling.NEAREST)) > 127
    if a.dtype == np.float32 or a.dtype == np.float64:
        return np.asarray(Image.fromarray(a.astype(np.float32)).resize((w, h), resample))
    return np.asarray(Image.fromarray(a).resize((w, h), resample))


def _outline(mask: np.ndarray) -> np.ndarray:
    """Pixels on the mask border, two pixels wide (inner edge and one pixel out)."""
    m = np.pad(mask, 1)
    inner = m[1:-1, 1:-1] & ~(m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:])
    p = np.pad(inner, 1)
    return inner | p[:-2, 1:-1] | p[2:, 1:-1] | p[1:-1, :-2] | p[1:-1, 2:]


def _draw_mask(rgb: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    if mask is None or not mask.any():
        return rgb
    out = rgb.copy()
    out[_outline(mask)] = MASK_RGB
    return out


def plain_tile(img, mask=None, size: int = 192) -> np.ndarray:
    """The image (RGB uint8) at display size, with the mask outline if given."""
    rgb = to_rgb(img)
    hw = _scale(*rgb.shape[:2], size)
    smooth = max(rgb.shape[:2]) > size
    rgb = _resize(rgb, hw, smooth)
    return _draw_mask(rgb, None if mask is None else _resize(np.asarray(mask, bool), hw, False))


def boxed_tile(img, boxes, size: int = 192, colour=(255, 0, 0)) -> np.ndarray:
    """The image (RGB uint8) at display size with ``boxes`` ``[x0, y0, x1, y1]`` (image pixels,
    end exclusive) drawn as two-pixel rectangles.

    >>> boxed_tile(np.zeros((8, 8)), [[2, 2, 5, 6]], size=16).shape
    (16, 16, 3)
    """
    rgb = plain_tile(img, None, size)
    h, w = np.asarray(img).shape[:2]
    fy, fx = rgb.shape[0] / h, rgb.shape[1] / w
    out = rgb.copy()
    for x0, y0, x1, y1 in boxes:
        r0, r1 = int(np.clip(round(y0 * fy), 0, rgb.shape[0] - 1)), int(np.clip(round(y1 * fy) - 1, 0, rgb.shape[0] - 1))
        c0, c1 = int(np.clip(round(x0 * fx), 0, rgb.shape[1] - 1)), int(np.clip(round(x1 * fx) - 1, 0, rgb.shape[1] - 1))
        for d in range(2):  # two pixels wide, inwards
            out[min(r0 + d, r1), c0:c1 + 1] = colour
            out[max(r1 - d, r0), c0:c1 + 1] = colour
            out[r0:r1 + 1, min(c0 + d, c1)] = colour
            out[r0:r1 + 1, max(c1 - d, c0)] = colour
    return out


def overlay_tile(img, amap, vmin: float, vmax: float, mask=None, size: int = 192, cmap: str = "jet",
                 alpha: float = 0.45) -> np.ndarray:
    """``[image | heat overlay]`` side by side (RGB uint8). The map is scaled to ``[vmin, vmax]`` and
    the mask outline is drawn on both halves."""
    try:
        from matplotlib import colormaps
    except ImportError:
        raise ImportError(MISSING) from None
    left = plain_tile(img, None, size)
    hw = left.shape[:2]
    m = _resize(np.asarray(amap, np.float32), hw, True)
    m = np.clip((m - vmin) / (vmax - vmin), 0.0, 1.0) if vmax > vmin else np.zeros_like(m)
    heat = (colormaps[cmap](m)[..., :3] * 255).astype(np.float32)
    right = ((1 - alpha) * left.astype(np.float32) + alpha * heat + 0.5).astype(np.uint8)
    mk = None if mask is None else _resize(np.asarray(mask, bool), hw, False)
    gap = np.full((hw[0], GAP, 3), 255, np.uint8)
    return np.concatenate([_draw_mask(left, mk), gap, _draw_mask(right, mk)], axis=1)


def colorbar(cmap: str = "jet", width: int = 160, height: int = 10) -> np.ndarray:
    """A horizontal colour scale strip (low on the left)."""
    from matplotlib import colormaps

    row = (colormaps[cmap](np.linspace(0, 1, width))[:, :3] * 255).astype(np.uint8)
    return np.repeat(row[None], height, axis=0)


def data_uri(rgb: np.ndarray) -> str:
    """PNG-encode an RGB uint8 array as a ``data:image/png;base64,...`` URI."""
    Image = _pil()
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
