"""Procedural drawings of the synthetic dataset: object sprites (a shape per YouTube-Objects class,
textured from a shared pool except for a small class patch), class-neutral distractors, and
cluttered scene backgrounds. :mod:`wsvol.data.synthetic` plans videos with them and writes the
dataset."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from wsvol.data.classes import YOUTUBE_OBJECTS_CLASSES as CLASSES

_CANVAS = 256  # side of the square on which sprites are drawn
_TEXTURE_SCALE = 0.5  # sprites are textured at half the drawing resolution


@dataclass
class Sprite:
    """An object drawn on its own canvas: colour, coverage and the class patch."""

    rgb: np.ndarray  # float32 (h, w, 3) in [0, 1]
    alpha: np.ndarray  # float32 (h, w), 1 on the object
    patch: np.ndarray  # bool (h, w), the class-discriminative part


# ----------------------------------------------------------------------------------- colours


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    """RGB in [0, 1] of a hue in degrees and saturation/value in [0, 1]."""
    px = np.array([[[round(h % 360 / 2) % 180, round(s * 255), round(v * 255)]]], np.uint8)
    return cv2.cvtColor(px, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32) / 255


def _smooth_noise(h: int, w: int, cell: float, rng: np.random.Generator) -> np.ndarray:
    """Low-frequency noise in [0, 1], one random value every ``cell`` pixels, cubic in between."""
    g = rng.random((max(2, int(h / cell) + 2), max(2, int(w / cell) + 2))).astype(np.float32)
    n = cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
    lo, hi = float(n.min()), float(n.max())
    return (n - lo) / max(hi - lo, 1e-6)


def _generic_texture(h: int, w: int, rng: np.random.Generator, dark: bool = False) -> np.ndarray:
    """A non-periodic texture from the pool shared by all classes and by the distractors."""
    c1 = _hsv(
        rng.uniform(0, 360),
        rng.uniform(0.2, 0.85),
        rng.uniform(0.15, 0.4) if dark else rng.uniform(0.35, 0.95),
    )
    c2 = np.clip(
        c1 * rng.uniform(0.6, 1.3) + 0.08 * rng.standard_normal(3, np.float32), 0, 1
    ).astype(np.float32)
    kind = rng.integers(4)
    if kind == 0:  # flat
        f = np.zeros((h, w), np.float32)
    elif kind == 1:  # linear gradient
        a = rng.uniform(0, np.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        f = xx * np.cos(a) + yy * np.sin(a)
        f = (f - f.min()) / max(float(np.ptp(f)), 1e-6)
    elif kind == 2:  # blotches
        f = _smooth_noise(h, w, rng.uniform(10, 30), rng)
    else:  # speckle
        f = cv2.GaussianBlur(rng.random((h, w), np.float32), (0, 0), 1.0)
        f = (f - f.min()) / max(float(np.ptp(f)), 1e-6)
    tex = c1 * (1 - f[..., None]) + c2 * f[..., None]
    return np.clip(tex + 0.025 * rng.standard_normal((h, w, 1), np.float32), 0, 1)


# Per class: pattern, two colours (hue, saturation, value). Pairs differ from class to class.
def _stripes(u, v, p, cx, cy):
    return (u // (p / 2)) % 2 == 0


def _dots(u, v, p, cx, cy):
    return ((u % p - p / 2) ** 2 + (v % p - p / 2) ** 2) < (0.3 * p) ** 2


def _checker(u, v, p, cx, cy):
    return ((u // (p / 2)) + (v // (p / 2))) % 2 == 0


def _diagonal(u, v, p, cx, cy):
    return ((u + v) / np.sqrt(2) // (p / 2)) % 2 == 0


def _rings(u, v, p, cx, cy):
    return (np.hypot(u - cx, v - cy) // (p / 2)) % 2 == 0


def _vertical(u, v, p, cx, cy):
    return (v // (p / 2)) % 2 == 0


def _grid(u, v, p, cx, cy):
    return (u % p < 0.3 * p) | (v % p < 0.3 * p)


def _zigzag(u, v, p, cx, cy):
    tri = np.abs((u / p) % 1 - 0.5) * p
    return ((v + tri) // (p / 2)) % 2 == 0


def _diamonds(u, v, p, cx, cy):
    return (np.abs(u % p - p / 2) + np.abs(v % p - p / 2)) < 0.3 * p


_PATTERNS: dict[str, tuple[Callable, tuple, tuple]] = {
    "aeroplane": (_stripes, (0, 0.85, 0.85), (0, 0.0, 0.97)),
    "bird": (_dots, (55, 0.9, 0.95), (230, 0.85, 0.45)),
    "boat": (_checker, (28, 0.95, 0.95), (0, 0.0, 0.08)),
    "car": (_diagonal, (120, 0.85, 0.75), (300, 0.8, 0.9)),
    "cat": (_rings, (20, 0.7, 0.9), (45, 0.25, 0.97)),
    "cow": (None, (0, 0.0, 0.05), (0, 0.0, 0.95)),  # black/white blotches
    "dog": (_vertical, (25, 0.75, 0.45), (185, 0.85, 0.9)),
    "horse": (_grid, (0, 0.0, 1.0), (350, 0.85, 0.5)),
    "motorbike": (_zigzag, (215, 0.9, 0.85), (60, 0.9, 0.95)),
    "train": (_diamonds, (275, 0.8, 0.65), (90, 0.85, 0.9)),
}


def _class_texture(
    name: str, h: int, w: int, cx: float, cy: float, rng: np.random.Generator
) -> np.ndarray:
    """The class's own texture: its pattern in its two colours, with small random variation."""
    fn, col1, col2 = _PATTERNS[name]
    c1, c2 = (
        _hsv(c[0] + rng.uniform(-8, 8), c[1], np.clip(c[2] * rng.uniform(0.9, 1.1), 0, 1))
        for c in (col1, col2)
    )
    if fn is None:
        on = _smooth_noise(h, w, rng.uniform(4, 6), rng) > 0.55
    else:
        a, p = rng.uniform(-0.2, 0.2), rng.uniform(12, 16)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        u, v = xx * np.cos(a) + yy * np.sin(a), -xx * np.sin(a) + yy * np.cos(a)
        ucx, vcy = cx * np.cos(a) + cy * np.sin(a), -cx * np.sin(a) + cy * np.cos(a)
        on = fn(u + rng.uniform(0, p), v + rng.uniform(0, p), p, ucx, vcy)
    return np.where(on[..., None], c1, c2).astype(np.float32)


# ------------------------------------------------------------------------------------ shapes
# Each draws onto `lab` (1 = body, 2 = secondary parts, both with generic textures) and onto
# `pr` the region of the class patch; `u` draws uniform numbers. Objects face right.


def _pt(x, y):
    return int(round(x)), int(round(y))


def _ell(img, c, axes, val, angle=0.0):
    cv2.ellipse(img, _pt(*c), _pt(*axes), angle, 0, 360, val, -1)


def _poly(img, pts, val):
    cv2.fillPoly(img, [np.round(np.asarray(pts, np.float64)).astype(np.int32)], val)


def _line(img, p, q, th, val):
    cv2.line(img, _pt(*p), _pt(*q), val, max(1, int(round(th))))


def _aeroplane(lab, pr, u):
    L, fw = u(190, 235), u(11, 17)
    x0, cy = 128 - L / 2, 128
    _ell(lab, (128, cy), (L / 2, fw), 1)
    xr, ch, span, sw = 128 + u(-10, 15), u(35, 50), u(70, 100), u(10, 35)
    for s in (-1, 1):
        _poly(
            lab,
            [
                (xr + ch / 2, cy),
                (xr - ch / 2, cy),
                (xr - ch / 2 - sw, cy + s * span),
                (xr - ch / 2 - sw + 0.4 * ch, cy + s * span),
            ],
            1,
        )
        _poly(
            lab,
            [(x0 + 35, cy), (x0 + 15, cy), (x0 + 5, cy + s * u(28, 40)), (x0 + 17, cy + s * 30)],
            1,
        )
        if u(0, 1) < 0.7:
            _ell(lab, (xr - ch / 2 - sw * 0.4 + 8, cy + s * span * 0.45), (14, 6), 2)
    _poly(pr, [(x0 - 5, 0), (x0 + L * u(0.22, 0.28), 0), (x0 + L * 0.25, 255), (x0 - 5, 255)], 1)


def _bird(lab, pr, u):
    ax, ay = u(55, 70), u(32, 40)
    bx, by = 118, 140
    _ell(lab, (bx, by), (ax, ay), 1, u(-20, -5))
    r = u(22, 28)
    hx, hy = bx + ax * 0.8, by - ay - r * 0.3
    _ell(lab, (hx, hy), (r, r), 1)
    _poly(lab, [(hx + r - 3, hy - 6), (hx + r + u(16, 26), hy + 2), (hx + r - 3, hy + 8)], 2)
    _poly(
        lab,
        [
            (bx - ax + 10, by - 10),
            (bx - ax - u(30, 45), by - u(5, 30)),
            (bx - ax - 30, by + 20),
            (bx - ax + 10, by + 12),
        ],
        1,
    )
    _ell(lab, (bx - 10, by - 5), (ax * 0.6, ay * 0.55), 2, u(-25, 0))
    for dx in (-12, 12):
        _line(lab, (bx + dx, by + ay - 4), (bx + dx + 4, by + ay + u(20, 30)), 4, 2)
    _ell(pr, (hx, hy), (r + 3, r + 3), 1)


def _boat(lab, pr, u):
    deck, keel = 160, 160 + u(30, 45)
    _poly(lab, [(20, deck), (236, deck), (236 - u(25, 45), keel), (20 + u(10, 25), keel)], 1)
    cx0 = u(55, 80)
    _poly(
        lab,
        [(cx0, deck), (cx0 + u(45, 65), deck), (cx0 + 50, deck - u(22, 32)), (cx0, deck - 28)],
        2,
    )
    mx, top = u(135, 150), u(40, 60)
    _line(lab, (mx, deck), (mx, top), 4, 2)
    sail = [(mx + 2, top + 5), (mx + 2, deck - 8), (mx + u(55, 75), deck - 8)]
    _poly(lab, sail, 1)
    _poly(pr, sail, 1)


def _rounded_rect(img, x0, y0, x1, y1, r, val):
    cv2.rectangle(img, _pt(x0 + r, y0), _pt(x1 - r, y1), val, -1)
    cv2.rectangle(img, _pt(x0, y0 + r), _pt(x1, y1 - r), val, -1)
    for x, y in ((x0 + r, y0 + r), (x1 - r, y0 + r), (x0 + r, y1 - r), (x1 - r, y1 - r)):
        cv2.circle(img, _pt(x, y), int(r), val, -1)


def _car(lab, pr, u):
    x0, x1, y0, y1 = u(15, 30), u(220, 240), u(112, 125), u(175, 190)
    _rounded_rect(lab, x0, y0, x1, y1, u(10, 22), 1)
    c0, c1, top = x0 + u(45, 65), x1 - u(30, 55), y0 - u(35, 50)
    _poly(lab, [(c0 - 15, y0 + 2), (c1 + 15, y0 + 2), (c1 - 10, top), (c0 + 10, top)], 1)
    _poly(lab, [(c0, y0 - 2), (c1, y0 - 2), (c1 - 16, top + 7), (c0 + 16, top + 7)], 2)
    r = u(20, 27)
    for x in (x0 + 45, x1 - 45):
        cv2.circle(lab, _pt(x, y1), int(r), 2, -1)
    xm = (c0 + c1) / 2
    cv2.rectangle(pr, _pt(xm - 24, top), _pt(xm + 24, y1 - 6), 1, -1)


def _cat(lab, pr, u):
    ax, ay = u(48, 62), u(52, 66)
    by = 238 - ay
    _ell(lab, (128, by), (ax, ay), 1)
    r = u(32, 40)
    hy = by - ay - r * 0.55
    _ell(lab, (128, hy), (r, r), 1)
    for s in (-1, 1):
        _poly(
            lab,
            [
                (128 + s * r * 0.25, hy - r * 0.8),
                (128 + s * r * 0.95, hy - r * 0.45),
                (128 + s * r * u(0.75, 0.95), hy - r - u(18, 28)),
            ],
            1,
        )
    tail = np.array(
        [
            (128 + ax - 8, by + ay - 12),
            (128 + ax + 22, by + 10),
            (128 + ax + u(15, 30), by - u(30, 60)),
        ],
        np.int32,
    )
    cv2.polylines(lab, [tail], False, 2, int(u(9, 13)))
    _ell(pr, (128, hy + 3), (r * 0.8, r * 0.7), 1)


def _cow(lab, pr, u):
    x0, x1, y0, y1 = 35, u(180, 195), u(85, 95), u(155, 170)
    _rounded_rect(lab, x0, y0, x1, y1, 14, 1)
    for x in (x0 + 12, x0 + 38, x1 - 40, x1 - 16):
        cv2.rectangle(lab, _pt(x - 7, y1 - 5), _pt(x + 7, y1 + u(40, 55)), 2, -1)
    hx, hy = x1 + 20, y0 + u(0, 12)
    _ell(lab, (hx, hy), (u(24, 30), u(17, 21)), 1, 30)
    for s in (-1, 1):
        _line(lab, (hx - 6, hy - 12), (hx - 6 + s * 12, hy - 30), 4, 2)
    _line(lab, (x0 + 2, y0 + 8), (x0 - 12, y0 + u(55, 70)), 5, 2)
    _ell(pr, ((x0 + x1) / 2 - 5, (y0 + y1) / 2), (u(34, 42), u(20, 25)), 1)


def _dog(lab, pr, u):
    bx, by, ax, ay = 115, 125, u(58, 70), u(25, 31)
    _ell(lab, (bx, by), (ax, ay), 1)
    for x in (bx - ax + 15, bx - ax + 35, bx + ax - 35, bx + ax - 15):
        _line(lab, (x, by + 5), (x + u(-4, 4), by + u(60, 75)), 11, 1)
    r = u(21, 27)
    hx, hy = bx + ax + 5, by - ay - r * 0.5
    _ell(lab, (hx, hy), (r, r), 1)
    _ell(lab, (hx + r + 4, hy + 7), (u(13, 18), 9), 1)
    _ell(lab, (hx - r * 0.4, hy + 8), (8, u(15, 20)), 2, 15)
    _line(lab, (bx - ax + 5, by - 8), (bx - ax - u(15, 25), by - u(35, 50)), 7, 1)
    _ell(pr, (hx + 6, hy + 2), (r + 12, r + 6), 1)


def _horse(lab, pr, u):
    bx, by, ax, ay = 112, 115, u(68, 78), u(28, 35)
    _ell(lab, (bx, by), (ax, ay), 1)
    for x in (bx - ax + 15, bx - ax + 32, bx + ax - 30, bx + ax - 14):
        _line(lab, (x, by + 10), (x + u(-5, 5), by + u(95, 110)), 9, 2)
    nx, ny = bx + ax - 12, by - 15
    hx, hy = nx + u(30, 40), ny - u(55, 70)
    _poly(lab, [(nx - 15, ny + 10), (nx + 18, ny + 5), (hx + 6, hy + 8), (hx - 10, hy - 6)], 1)
    _ell(lab, (hx + 12, hy + 6), (u(20, 25), 10), 1, 40)
    _line(lab, (bx - ax + 4, by - 12), (bx - ax - u(10, 20), by + u(40, 55)), 8, 2)
    cv2.rectangle(pr, _pt(bx - 25, by - ay - 5), _pt(bx + 25, by + 8), 1, -1)


def _motorbike(lab, pr, u):
    r, y = u(33, 42), 190
    w0, w1 = 20 + r, 236 - r
    for x in (w0, w1):
        cv2.circle(lab, _pt(x, y), int(r), 2, int(u(11, 15)))
        cv2.circle(lab, _pt(x, y), 6, 2, -1)
    top = y - u(60, 75)
    _poly(
        lab, [(w0, y), (128, y + 5), (w1 - 25, y - 20), (w1 - 45, top + 5), (w0 + 30, top + 10)], 1
    )
    _line(lab, (w1, y), (w1 - 25, top - 15), 8, 2)
    _line(lab, (w1 - 30, top - 18), (w1 - 10, top - 25), 7, 2)
    _poly(lab, [(w0 + 5, top + 8), (118, top + 4), (118, top - 8), (w0 + 12, top - 4)], 2)
    _ell(lab, (140, top), (u(26, 34), u(13, 17)), 1)
    _ell(pr, (140, top + 2), (36, 21), 1)


def _train(lab, pr, u):
    x1, y0, y1 = u(205, 220), u(85, 100), u(160, 175)
    cv2.rectangle(lab, _pt(5, y0), _pt(x1, y1), 1, -1)
    _poly(lab, [(x1, y0), (x1, y1), (250, y1), (250, y0 + u(25, 45))], 1)
    for x in np.arange(20, x1 - 30, u(26, 34)):
        cv2.rectangle(lab, _pt(x, y0 + 12), _pt(x + 16, y0 + 30), 2, -1)
    for x in np.arange(20, 250, u(34, 44)):
        cv2.circle(lab, _pt(x, y1 + 2), 9, 2, -1)
    cv2.rectangle(pr, _pt(x1 - 20, 0), _pt(255, 255), 1, -1)


_SHAPES: dict[str, Callable] = {
    "aeroplane": _aeroplane,
    "bird": _bird,
    "boat": _boat,
    "car": _car,
    "cat": _cat,
    "cow": _cow,
    "dog": _dog,
    "horse": _horse,
    "motorbike": _motorbike,
    "train": _train,
}


def _crop_to_content(*arrays: np.ndarray, pad: int = 3) -> list[np.ndarray]:
    """Label maps cropped to the first one's content (plus ``pad``), at texturing resolution."""
    x, y, w, h = cv2.boundingRect((arrays[0] > 0).astype(np.uint8))
    y0, x0 = max(y - pad, 0), max(x - pad, 0)
    small = [a[y0 : y + h + pad, x0 : x + w + pad] for a in arrays]
    size = tuple(max(1, round(n * _TEXTURE_SCALE)) for n in small[0].shape[1::-1])
    return [cv2.resize(a, size, interpolation=cv2.INTER_NEAREST) for a in small]


def object_sprite(name: str, rng: np.random.Generator) -> Sprite:
    """A random member of class ``name``: generic body textures plus the class's patch."""
    if name not in _SHAPES:
        raise ValueError(f"unknown synthetic class {name!r}; classes: {', '.join(CLASSES)}")
    lab = np.zeros((_CANVAS, _CANVAS), np.uint8)
    pr = np.zeros_like(lab)
    _SHAPES[name](lab, pr, rng.uniform)
    lab, pr = _crop_to_content(lab, pr)
    patch = (pr > 0) & (lab > 0)
    h, w = lab.shape
    ys, xs = np.nonzero(patch)
    tex = np.where(
        (lab == 2)[..., None],
        _generic_texture(h, w, rng, dark=rng.random() < 0.6),
        _generic_texture(h, w, rng),
    )
    tex = np.where(patch[..., None], _class_texture(name, h, w, xs.mean(), ys.mean(), rng), tex)
    shade = np.linspace(1.08, 0.9, h, dtype=np.float32)[:, None, None]
    return Sprite(np.clip(tex * shade, 0, 1), (lab > 0).astype(np.float32), patch)


def distractor_sprite(rng: np.random.Generator) -> Sprite:
    """A class-neutral clutter object (blob, ring, star, rounded box, capsule or crescent)."""
    lab = np.zeros((_CANVAS, _CANVAS), np.uint8)
    c, R = 128, rng.uniform(60, 110)
    kind = rng.integers(6)
    if kind == 0:  # blob: a circle with random low harmonics
        t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        r = R * (
            1
            + sum(rng.uniform(-0.18, 0.18) * np.cos(k * t + rng.uniform(0, 6.3)) for k in (2, 3, 4))
        )
        _poly(lab, np.stack([c + r * np.cos(t), c + r * np.sin(t)], 1), 1)
    elif kind == 1:  # ring
        cv2.ellipse(
            lab,
            (c, c),
            _pt(R, R * rng.uniform(0.6, 1)),
            rng.uniform(0, 180),
            0,
            360,
            1,
            int(R * rng.uniform(0.2, 0.45)),
        )
    elif kind == 2:  # star
        n = int(rng.integers(5, 9))
        t = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False) + rng.uniform(0, 1)
        r = np.where(np.arange(2 * n) % 2 == 0, R, R * rng.uniform(0.4, 0.6))
        _poly(lab, np.stack([c + r * np.cos(t), c + r * np.sin(t)], 1), 1)
    elif kind == 3:  # rounded box
        h = R * rng.uniform(0.4, 1)
        _rounded_rect(lab, c - R, c - h, c + R, c + h, rng.uniform(5, 0.9 * h), 1)
    elif kind == 4:  # capsule
        a = rng.uniform(0, np.pi)
        _line(
            lab,
            (c - R * np.cos(a), c - R * np.sin(a)),
            (c + R * np.cos(a), c + R * np.sin(a)),
            R * rng.uniform(0.3, 0.7),
            1,
        )
    else:  # crescent
        _ell(lab, (c, c), (R, R), 1)
        _ell(lab, (c + R * rng.uniform(0.3, 0.6), c - R * rng.uniform(0, 0.3)), (R, R), 0)
    (lab,) = _crop_to_content(lab)
    tex = _generic_texture(*lab.shape, rng, dark=rng.random() < 0.3)
    return Sprite(tex, lab.astype(np.float32), np.zeros(lab.shape, bool))


def placement(sprite: Sprite, cx: float, cy: float, sx: float, sy: float, deg: float) -> np.ndarray:
    """2x3 matrix placing the sprite's centre at (cx, cy), scaled by (sx, sy), rotated by ``deg``."""
    h, w = sprite.alpha.shape
    a = np.deg2rad(deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ np.diag([sx, sy])
    return np.hstack([rot, np.array([[cx], [cy]]) - rot @ np.array([[w / 2], [h / 2]])])


def warp(sprite: Sprite, m: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The sprite's colour and coverage placed on a ``size`` (w, h) frame by the affine ``m``."""
    rgb = cv2.warpAffine(sprite.rgb, m, size, flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    alpha = cv2.warpAffine(sprite.alpha, m, size, flags=cv2.INTER_LINEAR, borderValue=0)
    return rgb, alpha


def composite(img: np.ndarray, rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``rgb`` over ``img`` with coverage ``alpha``."""
    return img * (1 - alpha[..., None]) + rgb * alpha[..., None]


def scene_background(cw: int, ch: int, frame_area: float, rng: np.random.Generator) -> np.ndarray:
    """A wide textured scene: two-tone ground/sky, low-frequency shading, clutter, distractors."""
    top = _hsv(rng.uniform(0, 360), rng.uniform(0.05, 0.45), rng.uniform(0.45, 0.9))
    bottom = _hsv(rng.uniform(0, 360), rng.uniform(0.05, 0.45), rng.uniform(0.25, 0.75))
    yy = np.arange(ch, dtype=np.float32)[:, None, None]
    w = 1 / (1 + np.exp(-(yy - rng.uniform(0.3, 0.7) * ch) / rng.uniform(2, 12)))
    img = top * (1 - w) + bottom * w
    img = img * (0.8 + 0.4 * _smooth_noise(ch, cw, rng.uniform(15, 50), rng)[..., None])
    img = np.broadcast_to(img, (ch, cw, 3)).astype(np.float32)
    side = np.sqrt(frame_area)
    for _ in range(int(rng.integers(12, 30))):  # clutter
        m = np.zeros((ch, cw), np.uint8)
        x, y = rng.uniform(0, cw), rng.uniform(0, ch)
        s = side * rng.uniform(0.04, 0.3)
        kind = rng.integers(4)
        if kind == 0:
            cv2.rectangle(
                m, _pt(x, y), _pt(x + s * rng.uniform(0.3, 2), y + s * rng.uniform(0.3, 2)), 1, -1
            )
        elif kind == 1:
            _ell(m, (x, y), (s, s * rng.uniform(0.2, 1)), 1, rng.uniform(0, 180))
        elif kind == 2:
            _line(
                m,
                (x, y),
                (x + rng.uniform(-3, 3) * s, y + rng.uniform(-3, 3) * s),
                rng.uniform(1, 0.2 * s + 2),
                1,
            )
        else:
            _poly(m, np.array([x, y]) + rng.uniform(-s, s, (3, 2)), 1)
        col = _hsv(rng.uniform(0, 360), rng.uniform(0.0, 0.6), rng.uniform(0.15, 0.9))
        opacity = np.float32(rng.uniform(0.3, 0.85))
        x, y, w, h = cv2.boundingRect(m)
        roi = (slice(y, y + h), slice(x, x + w))
        a = opacity * m[roi][..., None]
        img[roi] = img[roi] * (1 - a) + col * a
    for _ in range(int(rng.integers(2, 5))):  # distractors, fixed in the scene
        d = distractor_sprite(rng)
        s = np.sqrt(rng.uniform(0.03, 0.12) * frame_area / d.alpha.size)
        m = placement(d, rng.uniform(0, cw), rng.uniform(0, ch), s, s, rng.uniform(-30, 30))
        img = composite(img, *warp(d, m, (cw, ch)))
    img = img + 0.03 * rng.standard_normal((ch, cw, 1), np.float32)
    return np.clip(img, 0, 1).astype(np.float32)
