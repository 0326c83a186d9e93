"""Synthetic demo set: drawn 48x48 faces with seven expressions, in the FER2013 CSV format.

A fresh clone has no FER2013, so the pipeline falls back to this set to run end to end. Each face is
drawn analytically: every feature (face oval, hair, brows, eyes, nose, mouth) is a signed-distance
shape evaluated on a per-face coordinate grid, and a pixel's coverage is a one-pixel ramp of that
distance, which anti-aliases for free. Pose jitter is applied by mapping the pixel grid into the
face's own frame, so a whole batch of faces is drawn with array operations, no per-face loop.

Expressions are blends of a neutral face and a class prototype (brow height / slant, eye opening,
mouth curve / opening / shape, nose wrinkle, cheek folds) at a random intensity, on top of per-face
resting variation, so weak expressions drift towards neutral and the prototypes that share action
units (fear / surprise, angry / disgust, sad / neutral) overlap the way the real classes do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_data.atomic import atomic_path

SYNTHETIC_NOTICE: str = (
    "SYNTHETIC DEMO DATA: these are procedurally drawn cartoon faces, not FER2013, so every number "
    "computed on them says nothing about emotion recognition on real FER2013."
)

SIDE = 48
# Overall FER2013 class counts (Angry, Disgust, Fear, Happy, Sad, Surprise, Neutral).
FER2013_CLASS_COUNTS = (4953, 547, 5121, 8989, 6077, 4002, 6198)
USAGE_SPLIT = (("Training", 0.8), ("PublicTest", 0.1), ("PrivateTest", 0.1))
MIN_PER_CLASS = 10
# Faces drawn per batch: small enough that the (B, 48, 48) float32 temporaries stay in cache. The
# sensor noise is drawn per batch, so this constant is part of what a seed produces.
_CHUNK = 128

Params = dict[str, np.ndarray]

# Expression prototypes as offsets from the neutral face, loosely after FACS action units. Units are
# pixels unless noted; "eye_open" and "mouth_w" are multipliers (neutral 1).
#   brow_up: brows raised; brow_in: inner ends raised relative to outer ends (AU1 vs AU4);
#   brow_sq: inner ends pulled together; arch: extra brow arch; eye_open: lid aperture;
#   mouth_w: mouth width; curve: corner lift (smile > 0); open: lip gap half-height;
#   round: O-shaped opening (0..1); press: thinned lips (0..1); lip_up: upper lip raised;
#   asym: one-sided corner lift (sneer); wrinkle: nose wrinkle (0..1);
#   folds: nasolabial folds (0..1); teeth: chance that an open mouth shows teeth.
_FIELDS = (
    "brow_up", "brow_in", "brow_sq", "arch", "eye_open", "mouth_w", "curve", "open",
    "round", "press", "lip_up", "asym", "wrinkle", "folds", "teeth",
)  # fmt: skip
_NEUTRAL = dict.fromkeys(_FIELDS, 0.0) | {"eye_open": 1.0, "mouth_w": 1.0}
_PROTOTYPES: tuple[dict[str, float], ...] = (
    # 0 Angry: lowered, knitted V brows, narrowed eyes, pressed lips.
    {"brow_up": -1.6, "brow_in": -2.2, "brow_sq": 1.3, "eye_open": 0.7, "mouth_w": 0.85,
     "curve": -0.6, "open": 0.3, "press": 0.8, "wrinkle": 0.25, "teeth": 0.3},
    # 1 Disgust: lowered brows, narrowed eyes, raised upper lip, sneer, wrinkled nose.
    {"brow_up": -1.2, "brow_in": -1.0, "brow_sq": 0.8, "eye_open": 0.65, "mouth_w": 0.95,
     "curve": -1.2, "open": 0.5, "lip_up": 1.2, "asym": 0.9, "wrinkle": 1.0, "folds": 0.7,
     "teeth": 0.3},
    # 2 Fear: raised brows with inner ends up, wide eyes, horizontally stretched open mouth.
    {"brow_up": 2.0, "brow_in": 1.3, "brow_sq": 0.8, "eye_open": 1.45, "mouth_w": 1.12,
     "curve": -0.6, "open": 1.5, "teeth": 0.7},
    # 3 Happy: smile, raised cheeks narrowing the eyes, nasolabial folds, often teeth.
    {"brow_up": 0.3, "eye_open": 0.8, "mouth_w": 1.2, "curve": 2.6, "open": 0.8, "folds": 1.0,
     "teeth": 0.8},
    # 4 Sad: inner brow ends raised, slightly lowered lids, corners down.
    {"brow_up": 0.2, "brow_in": 2.0, "brow_sq": 0.5, "eye_open": 0.85, "mouth_w": 0.95,
     "curve": -1.7, "press": 0.3},
    # 5 Surprise: high arched brows, wide eyes, dropped jaw with a round opening.
    {"brow_up": 3.0, "brow_in": 0.3, "arch": 1.0, "eye_open": 1.5, "mouth_w": 0.7, "open": 3.2,
     "round": 1.0, "teeth": 0.2},
    # 6 Neutral.
    {},
)  # fmt: skip


def synthetic_faces(n_rows: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``n_rows`` faces: (images uint8 (n, 48, 48), emotion int64 (n,), usage str (n,)).

    Rows come ordered Training, PublicTest, PrivateTest (shuffled within each), the same ``seed``
    gives the same set, and class sizes follow FER2013's imbalance with at least 10 rows per class.

    Parameters
    ----------
    n_rows : int
        Number of faces, at least 70 (10 per emotion class). Split about 80/10/10 into
        Training / PublicTest / PrivateTest, stratified by class.
    seed : int
        Non-negative seed of ``numpy.random.default_rng``; it fixes labels, faces and noise.

    Returns
    -------
    images : ndarray of shape (n_rows, 48, 48), uint8
        Gray-level faces (0-255).
    emotion : ndarray of shape (n_rows,), int64
        Class label 0-6, in the order of ``fer_data.faces.EMOTIONS``.
    usage : ndarray of shape (n_rows,), str
        ``"Training"``, ``"PublicTest"`` or ``"PrivateTest"``.

    Raises
    ------
    TypeError
        If ``n_rows`` or ``seed`` is not an int (bool is refused).
    ValueError
        If ``seed`` is negative or ``n_rows`` is below 70.
    """
    _validate(n_rows, seed)
    rng = np.random.default_rng(seed)
    emotion, usage = _labels_and_usage(n_rows, rng)
    params = _sample_params(emotion, rng)
    return _render(params, rng), emotion, usage


def synthetic_fer2013_csv(path: Path, n_rows: int, seed: int) -> Path:
    """Write the synthetic set as a Kaggle-format ``fer2013.csv`` at ``path`` atomically.

    The file has the header ``emotion,pixels,Usage`` and one row per face: the label, the 2304
    gray levels (row-major 48x48) separated by spaces, and the usage.

    Parameters
    ----------
    path : pathlib.Path
        Destination CSV; missing parent folders are created.
    n_rows, seed : int
        As in :func:`synthetic_faces`.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError, ValueError
        As in :func:`synthetic_faces`; nothing is written then.
    OSError
        If the file cannot be written; ``path`` is then left as it was.
    """
    images, emotion, usage = synthetic_faces(n_rows, seed)
    # Look-up table of decimal strings: much faster than formatting 2304 ints per row one by one.
    digits = np.array([str(v) for v in range(256)])
    target = Path(path)
    with atomic_path(target) as tmp, open(tmp, "w", encoding="ascii", newline="\n") as handle:
        handle.write("emotion,pixels,Usage\n")
        for image, label, split in zip(
            images.reshape(len(images), -1), emotion, usage, strict=True
        ):
            handle.write(f"{label},{' '.join(digits[image].tolist())},{split}\n")
    return target


# ----------------------------------------------------------------------------- labels and splits


def _validate(n_rows: int, seed: int) -> None:
    for name, value in (("n_rows", n_rows), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed}")
    minimum = MIN_PER_CLASS * len(FER2013_CLASS_COUNTS)
    if n_rows < minimum:
        raise ValueError(
            f"n_rows must be at least {minimum} ({MIN_PER_CLASS} per emotion class) so every class "
            f"appears in every split; got {n_rows}"
        )


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Integer counts summing to ``total`` and proportional to ``weights`` (Hamilton's method)."""
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def _class_counts(n_rows: int) -> np.ndarray:
    """FER2013's class proportions, with small classes lifted to MIN_PER_CLASS."""
    weights = np.asarray(FER2013_CLASS_COUNTS, dtype=np.float64)
    fixed = np.zeros(len(weights), dtype=bool)
    while True:
        counts = np.full(len(weights), MIN_PER_CLASS, dtype=np.int64)
        free = ~fixed
        counts[free] = _largest_remainder(n_rows - MIN_PER_CLASS * fixed.sum(), weights[free])
        short = free & (counts < MIN_PER_CLASS)
        if not short.any():
            return counts
        fixed |= short


def _split_table(class_counts: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Rows per (class, usage): each class split ~80/10/10 and each usage's total exact.

    Rounding each class on its own would always hand ties to the same usage (176/174 instead of
    175/175), so the leftover rows are handed out greedily under both margins.
    """
    totals = _largest_remainder(int(class_counts.sum()), fractions)
    exact = np.outer(class_counts, fractions)
    table = np.floor(exact).astype(np.int64)
    for flat in np.argsort(-(exact - table), axis=None, kind="stable"):
        c, k = divmod(int(flat), len(fractions))
        if table[c].sum() < class_counts[c] and table[:, k].sum() < totals[k]:
            table[c, k] += 1
    for c in range(len(class_counts)):  # rare leftovers: any usage still short
        while table[c].sum() < class_counts[c]:
            table[c, np.argmax(totals - table.sum(axis=0))] += 1
    return table


def _labels_and_usage(n_rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Stratified 80/10/10 split; rows ordered by usage, shuffled within each usage."""
    fractions = np.array([fraction for _, fraction in USAGE_SPLIT])
    table = _split_table(_class_counts(n_rows), fractions)
    labels = np.arange(len(table))
    emotion = np.concatenate(
        [rng.permutation(np.repeat(labels, table[:, k])) for k in range(table.shape[1])]
    )
    usage = np.repeat(np.array([name for name, _ in USAGE_SPLIT]), table.sum(axis=0))
    return emotion, usage


# ----------------------------------------------------------------------------- face parameters


def _sample_params(emotion: np.ndarray, rng: np.random.Generator) -> Params:
    """Per-face parameters as float32 arrays of shape (n, 1, 1), ready to broadcast over pixels."""
    n = len(emotion)
    params = _sample_pose(n, rng) | _sample_shape(n, rng) | _sample_looks(n, rng)
    params |= _sample_expression(emotion, rng)
    return {
        key: np.asarray(value, dtype=np.float32).reshape(n, 1, 1) for key, value in params.items()
    }


def _sample_pose(n: int, rng: np.random.Generator) -> Params:
    return {
        "angle": np.deg2rad(rng.normal(0.0, 5.0, n).clip(-13, 13)),
        "scale": rng.uniform(0.9, 1.1, n),
        "tx": rng.normal(0.0, 1.0, n).clip(-2.5, 2.5),
        "ty": rng.normal(0.0, 1.0, n).clip(-2.5, 2.5),
        "yaw": rng.normal(0.0, 1.0, n).clip(-2.5, 2.5),  # inner features shift sideways (head turn)
    }


def _sample_shape(n: int, rng: np.random.Generator) -> Params:
    """Identity: proportions that differ from person to person (geometry after real FER crops)."""
    return {
        "face_a": rng.uniform(18.5, 21.5, n),  # face half-width
        "face_b": rng.uniform(25.0, 27.5, n),  # face half-height (chin near the bottom edge)
        "jaw": rng.uniform(0.1, 0.3, n),  # narrowing of the lower face
        "eye_dx": rng.uniform(8.0, 9.8, n),  # half the distance between the eyes
        "eye_y": rng.uniform(16.5, 18.8, n),
        "eye_w": rng.uniform(3.0, 3.8, n),
        "eye_h": rng.uniform(1.3, 1.8, n),
        "brow_gap": rng.uniform(5.0, 6.5, n),
        "brow_th": rng.uniform(0.75, 1.25, n),
        "nose_y": rng.uniform(29.0, 31.0, n),
        "nose_w": rng.uniform(1.8, 2.6, n),
        "mouth_y": rng.uniform(36.0, 38.0, n),
        "mouth_hw": rng.uniform(5.8, 7.4, n),
        "lip": rng.uniform(0.8, 1.6, n),
        "hairline": rng.uniform(-1.0, 8.0, n),
        "hair_len": rng.uniform(14.0, 50.0, n),  # how far down the sides the hair falls
        "hair_side": rng.uniform(1.0, 5.0, n),
    }


def _sample_looks(n: int, rng: np.random.Generator) -> Params:
    """Albedos, lighting and camera nuisance."""
    skin = rng.uniform(0.45, 0.85, n)
    light = rng.uniform(0.0, 2.0 * np.pi, n)
    tilt = rng.uniform(0.0, 0.75, n)  # how far the light is from frontal
    return {
        "skin": skin,
        # Mostly dark hair; light hair is rarer and kept below white so it does not read as a halo.
        "hair": np.where(
            rng.random(n) < 0.93, rng.uniform(0.04, 0.35, n), rng.uniform(0.45, 0.75, n)
        ),
        "background": rng.uniform(0.05, 0.95, n),
        "bg_grad": rng.normal(0.0, 0.006, n),
        "brow_dark": rng.uniform(0.1, 0.4, n),
        "iris": rng.uniform(0.05, 0.3, n),
        "lip_tone": rng.uniform(0.7, 0.9, n),
        "gaze": rng.normal(0.0, 0.5, n).clip(-1.0, 1.0),
        "lx": np.sin(tilt) * np.cos(light),
        "ly": np.sin(tilt) * np.sin(light),
        "lz": np.cos(tilt),
        "ambient": rng.uniform(0.25, 0.5, n),
        "gamma": np.exp(rng.normal(0.0, 0.15, n)),
        "lo": rng.uniform(0.0, 0.12, n),
        "hi": rng.uniform(0.82, 1.0, n),
        "noise": rng.uniform(0.005, 0.035, n),
        "blur": rng.uniform(0.0, 1.0, n),
        "stretch": rng.uniform(0.3, 1.0, n),
    }


def _sample_expression(emotion: np.ndarray, rng: np.random.Generator) -> Params:
    """Neutral + intensity * (prototype - neutral) + resting-face variation, per face."""
    n = len(emotion)
    table = np.array([[(_NEUTRAL | proto)[f] for f in _FIELDS] for proto in _PROTOTYPES])
    neutral = np.array([_NEUTRAL[f] for f in _FIELDS])
    # Weak expressions are common in the wild: they are what makes sad vs neutral hard.
    intensity = rng.uniform(0.3, 1.1, n)[:, None]
    values = neutral + intensity * (table[emotion] - neutral)
    out = dict(zip(_FIELDS, values.T, strict=True))
    # Resting-face variation shared by every class: some people frown or smile a little at rest.
    out["brow_up"] = out["brow_up"] + rng.normal(0.0, 0.6, n)
    out["brow_in"] = out["brow_in"] + rng.normal(0.0, 0.5, n)
    out["eye_open"] = out["eye_open"] * np.exp(rng.normal(0.0, 0.1, n))
    out["curve"] = out["curve"] + rng.normal(0.0, 0.4, n)
    out["open"] = np.maximum(out["open"] + rng.normal(0.0, 0.25, n), 0.0)
    out["asym"] = out["asym"] * rng.choice([-1.0, 1.0], n)  # a sneer lifts either corner
    out["teeth"] = (rng.random(n) < out["teeth"]).astype(np.float64)
    return out


# ----------------------------------------------------------------------------- drawing primitives


def _coverage(dist: np.ndarray, ppu: np.ndarray) -> np.ndarray:
    """Pixel coverage from a signed distance (negative inside) in face units; ppu = pixels/unit."""
    return np.clip(0.5 - dist * ppu, 0.0, 1.0)


def _ellipse_dist(x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """First-order signed distance to an axis-aligned ellipse centred at the origin."""
    xa, yb = x / a, y / b
    grad = 2.0 * np.sqrt((xa / a) ** 2 + (yb / b) ** 2) + 1e-3
    return (xa * xa + yb * yb - 1.0) / grad


def _blend(canvas: np.ndarray, value: np.ndarray | float, alpha: np.ndarray) -> None:
    canvas += alpha * (value - canvas)


# ----------------------------------------------------------------------------- rendering

# A feature's box in the face frame: (x_min, x_max, y_min, y_max), per face.
Box = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class _Canvas:
    """A pixel window of a batch: face-frame coordinates and the albedo to paint, all views."""

    x: np.ndarray
    y: np.ndarray
    ppu: np.ndarray  # pixels per face unit, (B, 1, 1)
    out: np.ndarray

    def cover(self, dist: np.ndarray) -> np.ndarray:
        """Coverage (0-1) of a shape from its signed distance (face units, negative inside)."""
        return _coverage(dist, self.ppu)

    def paint(self, value: np.ndarray | float, alpha: np.ndarray) -> None:
        """Blend ``value`` into the albedo in place with opacity ``alpha`` (0-1)."""
        _blend(self.out, value, alpha)

    def darken(self, factor: np.ndarray) -> None:
        """Multiply the albedo in place by ``factor``."""
        np.multiply(self.out, factor, out=self.out)


def _render(params: Params, rng: np.random.Generator) -> np.ndarray:
    n = len(params["angle"])
    images = np.empty((n, SIDE, SIDE), dtype=np.uint8)
    for start in range(0, n, _CHUNK):
        chunk = {key: value[start : start + _CHUNK] for key, value in params.items()}
        images[start : start + _CHUNK] = _render_chunk(chunk, rng)
    return images


def _render_chunk(p: Params, rng: np.random.Generator) -> np.ndarray:
    x, y = _face_frame(p)
    ppu = p["scale"]
    albedo, shade = _draw_head(p, x, y, ppu)
    for draw, box, sides in _FEATURES:
        for side in sides:
            # Draw each feature only inside the pixel window its box covers in this batch.
            win = (slice(None), *_window(p, box(p, side)))
            draw(p, side, _Canvas(x[win], y[win], ppu, albedo[win]))
    return np.rint(_camera(p, albedo * shade, rng) * 255.0).astype(np.uint8)


def _face_frame(p: Params) -> tuple[np.ndarray, np.ndarray]:
    """Map every pixel into the face's own frame (x from the face's midline, y from the top).

    Drawing in this frame applies rotation, scale and translation exactly, with no resampling.
    """
    cols = np.arange(SIDE, dtype=np.float32)
    px = cols[None, None, :] - 23.5 - p["tx"]
    py = cols[None, :, None] - 24.0 - p["ty"]
    cos, sin = np.cos(p["angle"]), np.sin(p["angle"])
    x = (cos * px + sin * py) / p["scale"]
    y = (cos * py - sin * px) / p["scale"] + 24.0
    return x, y


def _window(p: Params, box: Box) -> tuple[slice, slice]:
    """Pixel rows and columns that hold a face-frame box for any face of the batch."""
    x0, x1, y0, y1 = (np.broadcast_to(v, p["angle"].shape).ravel() for v in box)
    xs = np.stack([x0, x1, x0, x1]) * p["scale"].ravel()
    ys = (np.stack([y0, y0, y1, y1]) - 24.0) * p["scale"].ravel()
    cos, sin = np.cos(p["angle"]).ravel(), np.sin(p["angle"]).ravel()
    cols = 23.5 + p["tx"].ravel() + cos * xs - sin * ys
    rows = 24.0 + p["ty"].ravel() + sin * xs + cos * ys
    return _span(rows), _span(cols)


def _span(coords: np.ndarray) -> slice:
    low = int(np.clip(np.floor(coords.min()) - 1, 0, SIDE))
    high = int(np.clip(np.ceil(coords.max()) + 2, low, SIDE))
    return slice(low, high)


def _draw_head(
    p: Params, x: np.ndarray, y: np.ndarray, ppu: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Background, neck, hair and face oval; returns (albedo, lighting multiplier)."""
    cy = 47.5 - p["face_b"]  # the chin sits near the bottom edge as in FER crops
    fy = y - cy
    # The lower face narrows towards the chin.
    a = p["face_a"] * (1.0 - p["jaw"] * np.clip(fy / p["face_b"], 0.0, 1.0))
    face = _coverage(_ellipse_dist(x, fy, a, p["face_b"]), ppu)
    albedo = p["background"] + p["bg_grad"] * (x + y - 48.0)
    neck = _coverage(np.maximum(np.abs(x) - 0.62 * p["face_a"], cy - y), ppu)
    _blend(albedo, 0.65 * p["skin"], neck)  # in the shadow of the chin
    head = _ellipse_dist(x, fy + 2.0, p["face_a"] + p["hair_side"], p["face_b"] + 3.0)
    _blend(albedo, p["hair"], _coverage(np.maximum(head, y - p["hair_len"]), ppu))
    # Hairline: highest at the middle, dipping at the temples.
    hairline = p["hairline"] + 5.0 * (x / p["face_a"]) ** 2
    _blend(albedo, p["skin"], face * _coverage(hairline - y, ppu))
    return albedo, _lambert(p, x / a, fy / p["face_b"], face)


def _lambert(p: Params, nx: np.ndarray, ny: np.ndarray, face: np.ndarray) -> np.ndarray:
    """Diffuse light on the face as an ellipsoid, flat light elsewhere: the face reads as 3D."""
    nz = np.sqrt(np.clip(1.0 - nx * nx - ny * ny, 0.0, 1.0))
    diffuse = np.clip(nx * p["lx"] + ny * p["ly"] + nz * p["lz"], 0.0, 1.0)
    flat = p["ambient"] + (1.0 - p["ambient"]) * p["lz"]
    return flat + face * (p["ambient"] + (1.0 - p["ambient"]) * diffuse - flat)


def _bump(u: np.ndarray, v: np.ndarray | float) -> np.ndarray:
    """Smooth blob of radius 1 with compact support (a cheap stand-in for a gaussian)."""
    return np.square(np.clip(1.0 - u * u - v * v, 0.0, 1.0))


def _brow_box(p: Params, side: float) -> Box:
    base = p["eye_y"] - p["brow_gap"] - p["brow_up"]
    inner, outer = side * 0.5 + p["yaw"], side * (p["eye_dx"] + p["eye_w"] + 1.5) + p["yaw"]
    reach = np.abs(p["brow_in"]) + p["arch"] + 4.0
    return np.minimum(inner, outer), np.maximum(inner, outer), base - reach, base + reach


def _draw_brow(p: Params, side: float, c: _Canvas) -> None:
    x, y = c.x, c.y
    base = p["eye_y"] - p["brow_gap"] - p["brow_up"] + 0.5
    inner = side * (2.4 - 0.8 * p["brow_sq"]) + p["yaw"]
    outer = side * (p["eye_dx"] + p["eye_w"] + 0.8) + p["yaw"]
    s = (x - inner) / (outer - inner)  # 0 at the inner end, 1 at the outer end
    sc = np.clip(s, 0.0, 1.0)
    inner_y = base - p["brow_in"]
    centre = inner_y + (base - inner_y) * sc - (1.2 + p["arch"]) * 4.0 * sc * (1.0 - sc)
    thick = p["brow_th"] * (1.0 - 0.45 * sc)  # brows taper towards the temples
    dist = np.maximum(np.abs(y - centre) - thick, (np.abs(s - 0.5) - 0.5) * np.abs(outer - inner))
    c.paint(p["brow_dark"] * p["skin"], c.cover(dist))


def _eye_box(p: Params, side: float) -> Box:
    ex = side * p["eye_dx"] + p["yaw"]
    reach = 1.8 * p["eye_w"]  # the socket shadow
    top = p["eye_y"] - np.maximum(4.5, p["eye_h"] * p["eye_open"] + 1.5)
    return ex - reach, ex + reach, top, p["eye_y"] + 4.0


def _draw_eye(p: Params, side: float, c: _Canvas) -> None:
    x, y = c.x, c.y
    dx, dy = x - side * p["eye_dx"] - p["yaw"], y - p["eye_y"]
    # Socket shadow: real eye regions are darker than the cheeks around them.
    c.darken(1.0 - 0.25 * _bump(dx / (1.8 * p["eye_w"]), (dy + 0.5) / 4.0))
    lid = 1.0 - np.square(np.clip(dx / p["eye_w"], -1.0, 1.0))
    upper = -p["eye_h"] * p["eye_open"] * lid
    lower = 0.65 * p["eye_h"] * np.sqrt(p["eye_open"]) * lid
    side_d = np.abs(dx) - p["eye_w"]
    eye = c.cover(np.maximum(np.maximum(upper - dy, dy - lower), side_d))
    c.paint(np.minimum(p["skin"] + 0.2, 0.95), eye)
    radius = np.hypot(dx - p["gaze"], dy + 0.1)
    c.paint(p["iris"], c.cover(radius - 0.5 * p["eye_w"]) * eye)
    c.paint(0.03, c.cover(radius - 0.2 * p["eye_w"]) * eye)
    # Upper lid and lashes: the strongest dark edge of the eye.
    lash = np.maximum(np.maximum(np.abs(dy - upper + 0.35) - 0.45, side_d - 0.3), -lid - 0.1)
    c.paint(0.5 * p["iris"], c.cover(lash))


def _ridge_box(p: Params, side: float) -> Box:
    nx = 1.4 * p["yaw"]
    return nx - 3.8, nx + 3.8, p["eye_y"] + 1.5, p["nose_y"] + 0.5


def _draw_ridge(p: Params, side: float, c: _Canvas) -> None:
    """Shadow along the side of the nose away from the light."""
    x, y = c.x, c.y
    away = -np.sign(p["lx"])
    fade = np.clip((y - p["eye_y"] - 2.0) / 8.0, 0.0, 1.0) * (y < p["nose_y"] + 0.5)
    ridge = _bump((x - 1.4 * p["yaw"] - away * 1.8) / 1.8, 0.0) * fade
    c.darken(1.0 - (0.08 + 0.3 * np.abs(p["lx"])) * ridge)


def _nose_box(p: Params, side: float) -> Box:
    nx = 1.4 * p["yaw"]  # the nose tip sticks out, so it moves most when the head turns
    return nx - p["nose_w"] - 2.5, nx + p["nose_w"] + 2.5, p["nose_y"] - 2.5, p["nose_y"] + 1.5


def _draw_nose(p: Params, side: float, c: _Canvas) -> None:
    x, y = c.x, c.y
    nx, dy = x - 1.4 * p["yaw"], y - p["nose_y"]
    for sign in (-1.0, 1.0):
        nostril = _ellipse_dist(nx - sign * 0.55 * p["nose_w"], dy, 0.9, 0.55)
        c.paint(0.45 * p["skin"], c.cover(nostril))
        wing = np.abs(np.hypot((nx - sign * p["nose_w"]) / 1.2, dy + 0.3) - 1.0) - 0.25
        c.paint(0.75 * p["skin"], 0.6 * c.cover(wing) * (dy > -1.5))


def _wrinkle_box(p: Params, side: float) -> Box:
    return p["yaw"] - 3.0, p["yaw"] + 3.0, p["eye_y"] + 0.5, p["eye_y"] + 5.0


def _draw_wrinkles(p: Params, side: float, c: _Canvas) -> None:
    """Disgust: short creases across the bridge of the nose, fading towards their ends."""
    x, y = c.x, c.y
    u = (x - p["yaw"]) / 2.4
    strength = np.clip(p["wrinkle"], 0.0, 1.0) * np.clip(1.0 - u * u, 0.0, 1.0)
    for k in range(2):
        line = np.abs(y - p["eye_y"] - 2.2 - 1.8 * k + 0.6 * u * u) - 0.3
        c.paint(0.55 * p["skin"], strength * c.cover(line))


def _fold_box(p: Params, side: float) -> Box:
    reach = side * (p["mouth_hw"] * p["mouth_w"] + 3.5) + p["yaw"]
    start = side * 1.5 + p["yaw"]
    return np.minimum(start, reach), np.maximum(start, reach), p["nose_y"] - 1.5, p["mouth_y"] + 2.0


def _draw_fold(p: Params, side: float, c: _Canvas) -> None:
    """Nasolabial fold: from the nose wing down and out, past the mouth corner (smile, sneer)."""
    x, y = c.x, c.y
    top, bottom = p["nose_y"] - 1.0, p["mouth_y"] + 2.0
    t = (y - top) / (bottom - top)
    tc = np.clip(t, 0.0, 1.0)
    start = side * (p["nose_w"] + 1.5) + 1.2 * p["yaw"]
    end = side * (p["mouth_hw"] * p["mouth_w"] + 2.2) + p["yaw"]
    centre = start + (end - start) * tc + side * 0.8 * np.sin(np.pi * tc)
    # Fade in and out along the fold so it reads as a crease, not a drawn line.
    fade = np.sin(np.pi * tc) * (np.abs(t - 0.5) < 0.5)
    strength = np.clip(0.1 + 0.35 * p["folds"], 0.0, 0.5) * fade
    c.paint(0.6 * p["skin"], strength * c.cover(np.abs(x - centre) - 0.45))


def _mouth_box(p: Params, side: float) -> Box:
    hw = p["mouth_hw"] * p["mouth_w"] + 1.5
    up = 3.0 + np.abs(p["curve"]) + p["open"] + p["lip_up"] + np.abs(p["asym"])
    down = 4.0 + np.abs(p["curve"]) + p["open"] + np.abs(p["asym"])
    return p["yaw"] - hw, p["yaw"] + hw, p["mouth_y"] - up, p["mouth_y"] + down


def _draw_mouth(p: Params, side: float, c: _Canvas) -> None:
    x, y = c.x, c.y
    hw = p["mouth_hw"] * p["mouth_w"]
    dx = x - p["yaw"]
    t = np.clip(dx / hw, -1.0, 1.0)
    span = 1.0 - t * t
    side_d = np.abs(dx) - hw
    # Centre line: corners lift for a smile, drop for a frown; asym lifts one corner (sneer).
    centre = p["mouth_y"] - p["curve"] * t * t - p["asym"] * 0.5 * (t + t * np.abs(t))
    # Round mouths open as an ellipse, stretched ones as a flatter lens.
    gap = p["open"] * span ** (1.0 - 0.5 * p["round"])
    top = centre - gap - p["lip_up"] * span - 0.45 * span**0.3
    bottom = centre + gap + 0.3 * span**0.3
    lip = p["lip"] * (1.0 - 0.7 * np.clip(p["press"], 0.0, 1.0)) * np.sqrt(span)
    lips = np.maximum(np.maximum(top - 0.8 * lip - y, y - bottom - 1.2 * lip), side_d)
    c.paint(p["lip_tone"] * p["skin"], c.cover(lips))
    opening = c.cover(np.maximum(np.maximum(top - y, y - bottom), side_d + 0.3))
    c.paint(0.12, opening)
    teeth = opening * c.cover(y - top - np.minimum(1.3, bottom - top - 0.6))
    c.paint(0.9, p["teeth"] * teeth * (p["open"] > 0.5))


_Draw = Callable[[Params, float, _Canvas], None]
_BOTH, _ONCE = (-1.0, 1.0), (0.0,)
# Drawing order matters: later features paint over earlier ones.
_FEATURES: tuple[tuple[_Draw, Callable[[Params, float], Box], tuple[float, ...]], ...] = (
    (_draw_brow, _brow_box, _BOTH),
    (_draw_eye, _eye_box, _BOTH),
    (_draw_ridge, _ridge_box, _ONCE),
    (_draw_wrinkles, _wrinkle_box, _ONCE),
    (_draw_nose, _nose_box, _ONCE),
    (_draw_fold, _fold_box, _BOTH),
    (_draw_mouth, _mouth_box, _ONCE),
)


def _camera(p: Params, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Blur, contrast stretch, gamma and sensor noise, then clip to [0, 1]."""
    soft = image.copy()
    soft[:, 1:-1, :] = 0.25 * image[:, :-2, :] + 0.5 * image[:, 1:-1, :] + 0.25 * image[:, 2:, :]
    rows = soft.copy()
    soft[:, :, 1:-1] = 0.25 * rows[:, :, :-2] + 0.5 * rows[:, :, 1:-1] + 0.25 * rows[:, :, 2:]
    image = image + p["blur"] * (soft - image)
    # FER crops are mostly auto-exposed: stretch each face towards the full range.
    low = image.min(axis=(1, 2), keepdims=True)
    high = image.max(axis=(1, 2), keepdims=True)
    image = image + p["stretch"] * ((image - low) / (high - low + 1e-3) - image)
    image = np.clip(image, 0.0, 1.0) ** p["gamma"]
    image = p["lo"] + (p["hi"] - p["lo"]) * image
    image = image + p["noise"] * rng.standard_normal(image.shape, dtype=np.float32)
    return np.clip(image, 0.0, 1.0)
