"""Classical synthetic defects for image anomaly detection: Perlin masks and pastes (DRAEM), CutPaste.

Images are float32 ``(N, H, W, C)`` arrays with values in [0, 1]; masks are uint8 ``(N, H, W)``
arrays of 0/1 (1 = synthetic defect). ``rng`` is a numpy ``Generator`` or an int seed; the same
seed gives the same output. Pixels outside a returned mask are left exactly as they were.

Example
-------
>>> images = np.full((2, 32, 32, 3), 0.5, dtype=np.float32)
>>> out, masks = perlin_paste(images, rng=0)
>>> out.shape, masks.shape, bool((out[masks == 0] == 0.5).all())
((2, 32, 32, 3), (2, 32, 32), True)
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .._validation import read_array

__all__ = ["perlin_noise", "perlin_mask", "blob_mask", "perlin_paste", "cutpaste"]

MAX_TRIES = 1000  # perlin_mask redraws before giving up on the area bounds
# CutPaste-scar size in pixels on a 256-pixel image (Li et al. 2021); scaled with the image side
SCAR_WIDTH = (2.0, 16.0)
SCAR_LENGTH = (10.0, 25.0)
SCAR_ANGLE = 45.0  # degrees, either way


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def _rng(rng) -> np.random.Generator:
    if isinstance(rng, bool) or not (rng is None or isinstance(rng, (numbers.Integral, np.random.Generator))):
        raise ValueError(f"rng must be a numpy Generator or an int seed, got {type(rng).__name__}")
    return np.random.default_rng(rng)


def _shape(shape) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise ValueError(f"shape must be (H, W), got {shape!r}") from None
    if h < 1 or w < 1:
        raise ValueError(f"shape must be positive, got {(h, w)}")
    return h, w


def _images(images, name: str = "images") -> np.ndarray:
    a = read_array(images, name)
    if not np.issubdtype(a.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {a.dtype}")
    if a.ndim != 4:
        hint = "; add a channel axis, e.g. x[..., None]" if a.ndim == 3 else ""
        raise ValueError(f"{name} must be 4-D (N, H, W, C), got shape {a.shape}{hint}")
    if a.size == 0:
        raise ValueError(f"{name} is empty, shape {a.shape}")
    a = a.astype(np.float32)  # always a copy: callers' arrays are never written to
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contain NaN or inf")
    lo, hi = float(a.min()), float(a.max())
    if lo < 0 or hi > 1:
        hint = "; divide 8-bit images by 255" if hi > 1 else ""
        raise ValueError(f"{name} must lie in [0, 1], got values in [{lo:g}, {hi:g}]{hint}")
    return a


def _range(r, name: str, lo: float, hi: float, open_lo: bool = False) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in r)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high), got {r!r}") from None
    if not (a <= b and (a > lo if open_lo else a >= lo) and b <= hi):
        raise ValueError(f"{name} must satisfy {lo:g} {'<' if open_lo else '<='} low <= high <= {hi:g}, got {r!r}")
    return a, b


# --------------------------------------------------------------------------------------------
# noise and masks
# --------------------------------------------------------------------------------------------
def _fade(t: np.ndarray) -> np.ndarray:
    return t * t * t * (t * (6 * t - 15) + 10)  # Perlin's quintic: zero 1st and 2nd derivative at 0 and 1


def perlin_noise(shape: tuple[int, int], scale: int | tuple[int, int], rng) -> np.ndarray:
    """2-D Perlin (gradient) noise, numpy only.

    Random unit gradients sit on a lattice of ``scale`` cells per axis; each pixel blends the
    dot products of its four corners with the quintic fade. Cells need not be whole pixels, so any
    ``(H, W)`` works (the noise is generated on the lattice and sampled at the pixel positions,
    which is the same as generating on a padded grid and cropping, without the padding).

    Parameters
    ----------
    shape : (H, W)
    scale : int or (int, int)
        Number of lattice cells along (H, W); larger = finer structure.
    rng : numpy Generator or int seed

    Returns
    -------
    ndarray, float64, (H, W), values in [-1, 1] (scaled by sqrt(2), DRAEM's convention, so the
    theoretical extremes are +-1), 0 on the lattice points.

    Examples
    --------
    >>> n = perlin_noise((64, 48), 4, rng=0)
    >>> n.shape, bool(np.abs(n).max() <= 1), abs(float(n[0, 0]))
    ((64, 48), True, 0.0)
    """
    h, w = _shape(shape)
    if isinstance(scale, numbers.Integral):
        scale = (scale, scale)
    try:
        sy, sx = (int(v) for v in scale)
        ok = all(isinstance(v, numbers.Integral) for v in scale)
    except (TypeError, ValueError):
        ok = False
    if not ok or sy < 1 or sx < 1:
        raise ValueError(f"scale must be a positive int or a pair of them, got {scale!r}")
    gen = _rng(rng)
    angles = gen.uniform(0, 2 * np.pi, size=(sy + 1, sx + 1))
    grad = np.stack([np.cos(angles), np.sin(angles)], axis=-1)

    y = np.arange(h) * (sy / h)  # lattice coordinates of the pixels
    x = np.arange(w) * (sx / w)
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    fy, fx = (y - y0)[:, None], (x - x0)[None, :]

    def corner(dy: int, dx: int) -> np.ndarray:
        g = grad[(y0 + dy)[:, None], (x0 + dx)[None, :]]
        return g[..., 0] * (fy - dy) + g[..., 1] * (fx - dx)

    uy, ux = _fade(fy), _fade(fx)
    top = corner(0, 0) + ux * (corner(0, 1) - corner(0, 0))
    bottom = corner(1, 0) + ux * (corner(1, 1) - corner(1, 0))
    return math.sqrt(2) * (top + uy * (bottom - top))


def perlin_mask(shape, rng, threshold: float = 0.5, min_area: float = 0.005,
                max_area: float = 0.3) -> np.ndarray:
    """DRAEM-style defect mask: Perlin noise above ``threshold``, redrawn until its area fits.

    Each draw picks the lattice scale independently per axis from ``2**[0..5]`` (capped at the
    image side), as DRAEM does (without its random rotation of the noise).

    Parameters
    ----------
    shape : (H, W)
    rng : numpy Generator or int seed
    threshold : float in (-1, 1), default 0.5
    min_area, max_area : float, defaults 0.005 and 0.3
        Bounds on the fraction of pixels in the mask, ``0 <= min_area <= max_area <= 1``.

    Returns
    -------
    ndarray, uint8, (H, W) of 0/1

    Raises
    ------
    ValueError
        On bad arguments, or if no draw met the area bounds in ``MAX_TRIES`` attempts.

    Examples
    --------
    >>> m = perlin_mask((64, 64), rng=0)
    >>> m.dtype, bool(0.005 <= m.mean() <= 0.3)
    (dtype('uint8'), True)
    """
    h, w = _shape(shape)
    if not -1 < threshold < 1:
        raise ValueError(f"threshold must be in (-1, 1), got {threshold!r}")
    if not 0 <= min_area <= max_area <= 1:
        raise ValueError(f"need 0 <= min_area <= max_area <= 1, got {min_area!r}, {max_area!r}")
    gen = _rng(rng)
    max_pow_y, max_pow_x = min(5, int(math.log2(h))), min(5, int(math.log2(w)))
    for _ in range(MAX_TRIES):
        scale = (2 ** int(gen.integers(0, max_pow_y + 1)), 2 ** int(gen.integers(0, max_pow_x + 1)))
        mask = perlin_noise((h, w), scale, gen) > threshold
        if min_area <= mask.mean() <= max_area:
            return mask.astype(np.uint8)
    raise ValueError(f"no Perlin mask with area in [{min_area}, {max_area}] after {MAX_TRIES} draws "
                     f"on a {h}x{w} image; lower threshold ({threshold}) or widen the area bounds")


def blob_mask(shape, rng, min_radius: float = 0.05, max_radius: float = 0.2) -> np.ndarray:
    """A random filled ellipse, entirely inside the image.

    Parameters
    ----------
    shape : (H, W)
    rng : numpy Generator or int seed
    min_radius, max_radius : float, defaults 0.05 and 0.2
        Bounds on each semi-axis as a fraction of the shorter image side,
        ``0 < min_radius <= max_radius <= 0.5``. The ellipse gets a random rotation.

    Returns
    -------
    ndarray, uint8, (H, W) of 0/1, at least one pixel set.

    Examples
    --------
    >>> m = blob_mask((64, 64), rng=0)
    >>> m.dtype, int(m.max()), bool(m[0].max() == m[-1].max() == 0)
    (dtype('uint8'), 1, True)
    """
    h, w = _shape(shape)
    if not 0 < min_radius <= max_radius <= 0.5:
        raise ValueError(f"need 0 < min_radius <= max_radius <= 0.5, got {min_radius!r}, {max_radius!r}")
    gen = _rng(rng)
    side = min(h, w)
    a, b = gen.uniform(min_radius, max_radius, size=2) * side
    theta = gen.uniform(0, np.pi)
    c, s = math.cos(theta), math.sin(theta)
    # half extents of the rotated ellipse's bounding box, so the centre keeps it inside
    ey, ex = math.hypot(a * s, b * c), math.hypot(a * c, b * s)
    cy = gen.uniform(min(ey, (h - 1) / 2), max(h - 1 - ey, (h - 1) / 2))
    cx = gen.uniform(min(ex, (w - 1) / 2), max(w - 1 - ex, (w - 1) / 2))
    yy, xx = np.mgrid[0:h, 0:w]
    u = (xx - cx) * c + (yy - cy) * s
    v = -(xx - cx) * s + (yy - cy) * c
    mask = (u / a) ** 2 + (v / b) ** 2 <= 1
    mask[int(round(cy)), int(round(cx))] = True  # a sub-pixel ellipse still marks its centre
    return mask.astype(np.uint8)


# --------------------------------------------------------------------------------------------
# pastes
# --------------------------------------------------------------------------------------------
def _texture(h: int, w: int, c: int, gen: np.random.Generator) -> np.ndarray:
    """Synthetic texture: Perlin noise at a random scale with fine grain, between two random colours."""
    scale = 2 ** int(gen.integers(1, 1 + max(1, min(5, int(math.log2(min(h, w)))))))
    t = 0.5 + 0.4 * perlin_noise((h, w), scale, gen) + gen.uniform(-0.1, 0.1, size=(h, w))
    t = np.clip(t, 0, 1)[..., None]
    c0, c1 = gen.uniform(0, 1, size=c), gen.uniform(0, 1, size=c)
    return (c0 + (c1 - c0) * t).astype(np.float32)


def perlin_paste(images, rng, source=None, beta=(0.1, 1.0), masks=None) -> tuple[np.ndarray, np.ndarray]:
    """DRAEM's augmentation: blend a texture into each image inside a (Perlin) mask.

    ``image' = (1 - m) * image + m * ((1 - b) * image + b * texture)`` with ``b ~ U(beta)`` drawn
    per image. Pixels outside the mask are copied exactly.

    Parameters
    ----------
    images : array-like, (N, H, W, C), values in [0, 1]
    rng : numpy Generator or int seed
    source : array-like, (N_src, H, W, C), optional
        Texture images (DRAEM uses DTD), one drawn at random per image. Without it, a synthetic
        texture (Perlin noise with grain between two random colours) is made per image.
    beta : (low, high), default (0.1, 1.0)
        Range of the texture weight ``b``, ``0 <= low <= high <= 1``.
    masks : array-like, (N, H, W) of 0/1, optional
        Where to paste; by default :func:`perlin_mask` per image (area 0.5 %-30 %).

    Returns
    -------
    (images float32 (N, H, W, C), masks uint8 (N, H, W))

    Examples
    --------
    >>> x = np.random.default_rng(0).random((3, 32, 32, 1), dtype=np.float32)
    >>> out, m = perlin_paste(x, rng=1)
    >>> bool((out[m == 0] == x[m == 0]).all()), bool((out[m == 1] != x[m == 1]).any())
    (True, True)
    """
    x = _images(images)
    n, h, w, c = x.shape
    gen = _rng(rng)
    b_lo, b_hi = _range(beta, "beta", 0.0, 1.0)
    src = None
    if source is not None:
        src = _images(source, "source")
        if src.shape[1:] != x.shape[1:]:
            raise ValueError(f"source images {src.shape[1:]} must match images {x.shape[1:]} in (H, W, C)")
    if masks is None:
        m = np.stack([perlin_mask((h, w), gen) for _ in range(n)])
    else:
        m = np.asarray(masks)
        if m.shape != (n, h, w):
            raise ValueError(f"masks must have shape (N, H, W) = {(n, h, w)}, got {m.shape}")
        if not np.isin(m, (0, 1)).all():
            raise ValueError("masks must be 0/1")
        m = m.astype(np.uint8)
    out = x.copy()
    for i in range(n):
        tex = src[gen.integers(len(src))] if src is not None else _texture(h, w, c, gen)
        b = np.float32(gen.uniform(b_lo, b_hi))
        inside = m[i].astype(bool)
        # np.where leaves the outside bit-exact; the clip only catches float32 rounding past 1
        out[i] = np.where(inside[..., None], np.clip((1 - b) * x[i] + b * tex, 0, 1), x[i])
    return out, m


def _jitter(patch: np.ndarray, strength: float, gen: np.random.Generator) -> np.ndarray:
    """Brightness, contrast and (colour images) saturation jitter, each factor in 1 +- strength."""
    f_b, f_c, f_s = gen.uniform(1 - strength, 1 + strength, size=3)
    p = patch * f_b
    p = (p - p.mean()) * f_c + p.mean()
    if p.shape[-1] == 3:
        grey = p @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        p = (p - grey[..., None]) * f_s + grey[..., None]
    return np.clip(p, 0, 1)


def cutpaste(images, rng, area=(0.02, 0.15), aspect=(0.3, 3.3), scar: bool = False,
             jitter: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """CutPaste (Li et al. 2021): copy a patch of each image and paste it elsewhere in the same image.

    The patch is a rectangle of ``area`` fraction of the image with height/width ratio drawn
    log-uniformly from ``aspect`` (``scar=False``), or a thin "scar" rectangle of 2-16 x 10-25
    pixels (scaled from 256-pixel images to the shorter side) rotated by up to +-45 degrees
    (``scar=True``; ``area`` and ``aspect`` are then unused). The patch gets a colour jitter and
    is pasted at another random location (nearest-neighbour sampling under the rotation).

    Parameters
    ----------
    images : array-like, (N, H, W, C), values in [0, 1]
    rng : numpy Generator or int seed
    area : (low, high), default (0.02, 0.15)
        Patch area as a fraction of the image, ``0 < low <= high <= 1``.
    aspect : (low, high), default (0.3, 3.3)
        Patch height / width, ``0 < low <= high``; the patch is clipped to the image.
    scar : bool, default False
    jitter : float in [0, 1), default 0.1
        Brightness / contrast / saturation factors are drawn from ``1 +- jitter``; 0 disables.

    Returns
    -------
    (images float32 (N, H, W, C), masks uint8 (N, H, W)), mask = the pasted pixels.

    Examples
    --------
    >>> x = np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32)
    >>> out, m = cutpaste(x, rng=0)
    >>> bool((out[m == 0] == x[m == 0]).all()), bool(0.01 < m[0].mean() < 0.2)
    (True, True)
    """
    x = _images(images)
    n, h, w, c = x.shape
    gen = _rng(rng)
    a_lo, a_hi = _range(area, "area", 0.0, 1.0, open_lo=True)
    r_lo, r_hi = _range(aspect, "aspect", 0.0, math.inf, open_lo=True)
    if not 0 <= jitter < 1:
        raise ValueError(f"jitter must be in [0, 1), got {jitter!r}")
    out, masks = x.copy(), np.zeros((n, h, w), dtype=np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(n):
        if scar:
            k = min(h, w) / 256
            ph = min(h, max(2, round(gen.uniform(*SCAR_LENGTH) * k)))
            pw = min(w, max(1, round(gen.uniform(*SCAR_WIDTH) * k)))
            theta = math.radians(gen.uniform(-SCAR_ANGLE, SCAR_ANGLE))
        else:
            frac, ratio = gen.uniform(a_lo, a_hi), math.exp(gen.uniform(math.log(r_lo), math.log(r_hi)))
            ph = min(h, max(1, round(math.sqrt(frac * ratio) * h)))
            pw = min(w, max(1, round(math.sqrt(frac / ratio) * w)))
            theta = 0.0
        # source: axis-aligned ph x pw block; destination: the same block rotated by theta
        sy, sx = int(gen.integers(0, h - ph + 1)), int(gen.integers(0, w - pw + 1))
        cs, sn = math.cos(theta), math.sin(theta)
        ey = (abs(ph * cs) + abs(pw * sn)) / 2  # half extents of the rotated block
        ex = (abs(ph * sn) + abs(pw * cs)) / 2
        for _ in range(20):  # a destination on top of the source would change nothing
            cy = gen.uniform(min(ey, h / 2), max(h - ey, h / 2))
            cx = gen.uniform(min(ex, w / 2), max(w - ex, w / 2))
            if h == ph and w == pw or abs(cy - ph / 2 - sy) >= 1 or abs(cx - pw / 2 - sx) >= 1 or theta:
                break
        # inverse-rotate destination pixel centres into the patch frame (u: rows, v: columns)
        dy, dx = yy + 0.5 - cy, xx + 0.5 - cx
        u = dy * cs + dx * sn + ph / 2
        v = -dy * sn + dx * cs + pw / 2
        inside = (u >= 0) & (u < ph) & (v >= 0) & (v < pw)
        if not inside.any():  # a sub-pixel scar: keep its centre pixel
            inside[min(h - 1, int(cy)), min(w - 1, int(cx))] = True
        pu = np.clip(np.floor(u[inside]).astype(int), 0, ph - 1)
        pv = np.clip(np.floor(v[inside]).astype(int), 0, pw - 1)
        patch = x[i, sy:sy + ph, sx:sx + pw]
        if jitter > 0:
            patch = _jitter(patch, jitter, gen)
        out[i][inside] = patch[pu, pv]
        masks[i] = inside
    return out, masks
