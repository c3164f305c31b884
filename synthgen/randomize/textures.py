"""Procedural textures and user image folders for materials and backgrounds.

Procedural textures are pure functions of a generator: ``noise`` (fractal value
noise), ``checker``, ``stripes``, ``marble`` (turbulent sine veins) and ``cloth``
(a fine two-way weave). Each blends two colours with a pattern in [0, 1]. A
``PatternPool`` draws each of a fixed number of patterns once and colours it afresh per use.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from synthgen.core.caching import ByteBudgetCache
from synthgen.core.errors import ConfigError, InputError
from synthgen.core.validation import check_choices
from synthgen.io.input_checks import image_file, read_color_image

__all__ = ["PROCEDURAL_TEXTURES", "ImageFolder", "PatternPool", "check_texture_kinds", "procedural_texture", "random_color"]

PROCEDURAL_TEXTURES = ("noise", "checker", "stripes", "marble", "cloth")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def random_color(rng: np.random.Generator) -> np.ndarray:
    """(3,) float64 sRGB 0..255 colour of random hue, saturation 0..1 and value 0.2..1."""
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(0, 255), rng.uniform(51, 255)]]], dtype=np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float64)


def _value_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """(size, size) float32 smooth noise in [0, 1] from a random ``cells`` x ``cells`` grid."""
    grid = rng.uniform(0.0, 1.0, size=(cells + 1, cells + 1)).astype(np.float32)
    noise = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(noise, 0.0, 1.0, out=noise)


def _fractal_noise(rng: np.random.Generator, size: int, cells: int, octaves: int = 4) -> np.ndarray:
    # In place: a 1024 px texture's octaves are 4 MB each (same arithmetic, half the time).
    total = np.zeros((size, size), np.float32)
    weight_sum = 0.0
    for octave in range(octaves):
        weight = 0.5**octave
        noise = _value_noise(rng, size, cells * 2**octave)
        noise *= weight
        total += noise
        weight_sum += weight
    total /= weight_sum
    low, high = total.min(), total.max()
    total -= low
    total /= max(float(high - low), 1e-6)
    return total


def _pattern(kind: str, rng: np.random.Generator, size: int, repeats: float) -> np.ndarray:
    """(size, size) float32 pattern in [0, 1]."""
    coords = (np.arange(size, dtype=np.float32) + 0.5) / size * repeats
    x, y = coords[None, :], coords[:, None]  # broadcast: rows vary in y, columns in x
    if kind == "noise":
        return _fractal_noise(rng, size, max(int(repeats), 1))
    if kind == "checker":
        # 1 where the column's and the row's square numbers differ in parity (their sum is odd).
        return (np.floor(x) % 2 != np.floor(y) % 2).astype(np.float32)
    if kind == "stripes":
        angle = rng.uniform(0.0, np.pi)
        phase = x * np.float32(np.cos(angle)) + y * np.float32(np.sin(angle))
        return (np.sin(2 * np.pi * phase) > rng.uniform(-0.5, 0.5)).astype(np.float32)
    if kind == "marble":
        turbulence = _fractal_noise(rng, size, 4)
        turbulence *= np.float32(rng.uniform(3.0, 8.0))
        turbulence += np.float32(np.pi) * x
        veins = np.sin(turbulence, out=turbulence)
        veins *= 0.5
        veins += 0.5
        return np.sqrt(veins, out=veins)
    # cloth: threads crossing in two directions (over-under), with slub noise along them.
    threads = 8.0
    warp = 0.5 + 0.5 * np.cos(2 * np.pi * x * threads)
    weft = 0.5 + 0.5 * np.cos(2 * np.pi * y * threads)
    # Over where the column's and the row's thread numbers have the same parity (their sum is even).
    over = (np.floor(x * threads) % 2) == (np.floor(y * threads) % 2)
    weave = np.where(over, warp, weft).astype(np.float32, copy=False)
    weave *= 0.75
    slub = _fractal_noise(rng, size, 16)
    slub *= 0.25
    weave += slub
    return np.clip(weave, 0.0, 1.0, out=weave)


def procedural_texture(
    kind: str,
    rng: np.random.Generator,
    size: int,
    colors: tuple[np.ndarray, np.ndarray],
    repeats: float = 4.0,
) -> np.ndarray:
    """A procedural texture blending two colours.

    Args:
        kind: One of ``PROCEDURAL_TEXTURES``.
        rng: Source of every random draw.
        size: Edge length in pixels.
        colors: Two (3,) sRGB 0..255 colours (pattern 0 and pattern 1).
        repeats: Pattern periods across the texture (checker squares, stripes, noise cells).

    Returns:
        (size, size, 3) uint8 sRGB image.
    """
    return _colored(_levels(kind, rng, size, repeats), colors)


def _levels(kind: str, rng: np.random.Generator, size: int, repeats: float) -> np.ndarray:
    """(size, size) uint8 pattern levels 0..255."""
    if kind not in PROCEDURAL_TEXTURES:
        raise ValueError(f"unknown procedural texture {kind!r}; choose from {PROCEDURAL_TEXTURES}")
    pattern = _pattern(kind, rng, size, repeats)  # a new array: scaled in place
    pattern *= 255
    return np.rint(pattern, out=pattern).astype(np.uint8)


def _colored(levels: np.ndarray, colors: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """(h, w, 3) uint8: pattern ``levels`` (h, w) uint8 blending two (3,) sRGB 0..255 colours."""
    # A 256-entry colour table: the pattern's levels index the blend of the two colours.
    weights = np.linspace(0.0, 1.0, 256)[:, None]
    first, second = (np.asarray(c, dtype=np.float64) for c in colors)
    table = np.clip(first * (1 - weights) + second * weights + 0.5, 0, 255).astype(np.uint8)
    return cv2.LUT(cv2.merge([levels, levels, levels]), table[:, None, :])


_PATTERN_BYTES = 256 * 2**20


class PatternPool:
    """Procedural patterns drawn once per slot and reused, coloured afresh for each use.

    Drawing a large pattern (a 1024 px weave: ~11 ms) can cost more than rendering it; a
    pool of ``slots`` patterns per kind and size keeps the colours, contrast and the
    choice of slot random per object while paying for each pattern once per process.
    A slot's pattern (and its ``repeats``) is a pure function of the slot, so output does
    not depend on which process or thread drew it first, nor on what the cache kept.

    Args:
        slots: Distinct patterns per kind and size (>= 1).
        repeats: [min, max] pattern periods, drawn once per slot.
    """

    def __init__(self, slots: int, repeats: tuple[float, float]):
        self.slots = slots
        self.repeats = repeats
        self._levels: ByteBudgetCache[np.ndarray] = ByteBudgetCache(_PATTERN_BYTES, lambda levels: levels.nbytes)

    def texture(self, kind: str, rng: np.random.Generator, size: int,
                colors: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """(size, size, 3) uint8 sRGB: the pattern of a slot drawn from ``rng``, in ``colors``.

        Args:
            kind: One of ``PROCEDURAL_TEXTURES``.
            rng: Draws the slot (one integer).
            size: Edge length in pixels.
            colors: Two (3,) sRGB 0..255 colours (pattern 0 and pattern 1).
        """
        slot = int(rng.integers(self.slots))
        return _colored(self._levels.get((kind, size, slot), lambda: self._draw(kind, size, slot)), colors)

    def _draw(self, kind: str, size: int, slot: int) -> np.ndarray:
        rng = np.random.default_rng([PROCEDURAL_TEXTURES.index(kind), size, slot])
        return _levels(kind, rng, size, rng.uniform(*self.repeats))


_CACHE_IMAGES = 32
_MAX_EDGE = 1024


class ImageFolder:
    """Images in a user folder (PNG, JPEG, BMP, TIFF, WebP), read on demand.

    The most recently used images are kept, downscaled to at most 1024 pixels on
    their longer edge (textures and backgrounds need no more), so memory stays flat.

    Args:
        path: Folder, searched recursively; must hold at least one image.
        name: Config key named in errors.

    Raises:
        ConfigError: The folder does not exist or holds no images.
    """

    def __init__(self, path: str, name: str):
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise ConfigError(f"{name}: folder {str(path)!r} does not exist; give a folder of images or null")
        self.files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not self.files:
            raise ConfigError(f"{name}: folder {str(path)!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        self.name, self.root = name, folder
        self._cache: dict[Path, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.files)

    def load(self, index: int) -> np.ndarray:
        """(h, w, 3) uint8 RGB image ``index`` (sorted by path).

        Raises:
            InputError: The file cannot be decoded; the message names it.
        """
        path = self.files[index]
        if path in self._cache:
            self._cache[path] = self._cache.pop(path)  # most recently used last
            return self._cache[path]
        self._cache[path] = cv2.cvtColor(read_color_image(path, _MAX_EDGE), cv2.COLOR_BGR2RGB)
        if len(self._cache) > _CACHE_IMAGES:
            self._cache.pop(next(iter(self._cache)))
        return self._cache[path]

    def check_readable(self) -> None:
        """Raise ConfigError naming the first file a run would fail on midway: one whose header
        no image library recognises, over the readers' pixel limit, or a link leading out of the
        folder (the readers' own header check, ``io.input_checks.image_file``; header-only, so
        cheap for large folders)."""
        for path in self.files:
            try:
                image_file(self.root, path, self.name)
            except InputError as error:
                raise ConfigError(f"{self.name}: {path.name} cannot be read or is refused: {error}") from error

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """A random image of the folder."""
        return self.load(int(rng.integers(len(self.files))))


def check_texture_kinds(name: str, kinds: Sequence[str]) -> tuple[str, ...]:
    """Validate a (possibly empty) list of procedural texture names."""
    return check_choices(name, kinds, PROCEDURAL_TEXTURES, allow_empty=True)
