"""Environment light: equirectangular maps (HDR or LDR) or a procedural sky.

``EnvironmentRandomizer`` puts an ``EnvironmentMap`` into the scene: one of your maps
(``.hdr``, ``.exr``, ``.jpg``, ``.png``, ...; equirectangular, 2:1) or, when none are
given, a procedural sky (a sun disc plus a zenith-to-horizon gradient over a ground
colour). Maps have no common absolute scale, so each is scaled to deliver a drawn
irradiance on an upward-facing surface (the same unit as ``Lighting.intensity``), then
turned about the vertical by a drawn angle. The renderer lights the scene with it
(pyrender approximates it, see ``synthgen.render.environment_light``; a path tracer
uses it exactly) and shows it where no surface is hit.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from synthgen.core import EnvironmentMap, SceneSpec, equirect_directions
from synthgen.core.color import kelvin_to_linear_rgb, srgb_to_linear
from synthgen.core.errors import ConfigError, InputError
from synthgen.core.validation import check_number, check_range_pair, check_vector

__all__ = ["ENVIRONMENT_SUFFIXES", "EnvironmentRandomizer", "load_environment_map", "procedural_sky",
           "upward_irradiance"]

ENVIRONMENT_SUFFIXES = (".hdr", ".exr", ".png", ".jpg", ".jpeg", ".tif", ".tiff")
_HDR_SUFFIXES = (".hdr", ".exr")


def _cv2():
    # OpenCV reads OpenEXR only when told to, before its first use.
    os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
    import cv2

    return cv2


def load_environment_map(path: str | Path, max_width: int = 1024) -> np.ndarray:
    """Read an equirectangular map as linear radiance.

    Args:
        path: ``.hdr``/``.exr`` (linear floats) or an 8/16-bit image (sRGB, decoded to linear).
        max_width: Maps wider than this are area-downsampled (lighting needs no more).

    Returns:
        (h, w, 3) float32 linear RGB.

    Raises:
        InputError: The file cannot be decoded or is not about 2:1; the message names it.
    """
    cv2 = _cv2()
    path = Path(path)
    flags = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_COLOR if path.suffix.lower() in _HDR_SUFFIXES else cv2.IMREAD_UNCHANGED
    try:
        image = cv2.imread(str(path), flags)
    except cv2.error as error:
        image, reason = None, str(error).strip().splitlines()[-1]
    else:
        reason = "not a readable image"
    if image is None:
        raise InputError(f"environment map {str(path)!r}: {reason}; give an equirectangular .hdr, .exr, .png or .jpg")
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2RGB)
    h, w = image.shape[:2]
    if not 1.5 <= w / h <= 2.5:
        raise InputError(f"environment map {str(path)!r} is {w}x{h}; an equirectangular map is twice as wide as high")
    if image.dtype == np.uint8:
        radiance = srgb_to_linear(image.astype(np.float64)).astype(np.float32)
    elif image.dtype == np.uint16:
        radiance = srgb_to_linear(image.astype(np.float64) / 257.0).astype(np.float32)
    else:
        radiance = np.nan_to_num(image.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0).clip(0, None)
    if w > max_width:
        radiance = cv2.resize(radiance, (max_width, max(2, round(h * max_width / w))), interpolation=cv2.INTER_AREA)
    return radiance


def upward_irradiance(radiance: np.ndarray) -> float:
    """Irradiance (luminance, W/m^2 in the map's scale) on a surface facing straight up."""
    directions, solid_angle = equirect_directions(*radiance.shape[:2])
    weight = np.clip(directions[..., 2], 0, None) * solid_angle  # cosine to the up direction
    luminance = radiance[..., :3] @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
    return float((luminance * weight).sum())


def procedural_sky(rng: np.random.Generator, sun_elevation_deg: tuple[float, float], sun_share: tuple[float, float],
                   zenith: np.ndarray, horizon: np.ndarray, ground: np.ndarray, sun_temperature_k: tuple[float, float],
                   width: int = 256) -> np.ndarray:
    """A sky map: a sun disc (radius 2 degrees) and a gradient sky over a uniform ground.

    Args:
        rng: Source of the sun's elevation, azimuth, colour and share.
        sun_elevation_deg: [min, max] degrees above the horizon.
        sun_share: [min, max] share of the upward irradiance that comes from the sun.
        zenith: (3,) sRGB 0..255 sky colour straight up.
        horizon: (3,) sRGB 0..255 sky colour at the horizon.
        ground: (3,) sRGB 0..255 colour below the horizon.
        sun_temperature_k: [min, max] colour temperature of the sun.
        width: Map width (height is half).

    Returns:
        (width / 2, width, 3) float32 linear radiance, scaled so the upward irradiance is 1.
    """
    directions, _ = equirect_directions(width // 2, width)
    lat = np.arcsin(directions[..., 2])
    t = np.sqrt(np.clip(lat / (np.pi / 2), 0, 1))[..., None]
    sky = srgb_to_linear(horizon) * (1 - t) + srgb_to_linear(zenith) * t
    radiance = np.where(lat[..., None] > 0, sky, srgb_to_linear(ground) * 0.3)
    radiance = radiance / max(upward_irradiance(radiance.astype(np.float32)), 1e-9)
    elevation = np.deg2rad(rng.uniform(*sun_elevation_deg))
    sun_azimuth = rng.uniform(0, 2 * np.pi)
    sun = np.array([np.cos(elevation) * np.cos(sun_azimuth), np.cos(elevation) * np.sin(sun_azimuth), np.sin(elevation)])
    disc = (directions @ sun >= np.cos(np.deg2rad(2.0))).astype(np.float64)
    if disc.sum() == 0:  # a disc smaller than a texel: its nearest texel
        disc.flat[np.argmax(directions.reshape(-1, 3) @ sun)] = 1.0
    disc_map = disc[..., None] * kelvin_to_linear_rgb(rng.uniform(*sun_temperature_k))
    disc_map /= max(upward_irradiance(disc_map.astype(np.float32)), 1e-9)
    share = rng.uniform(*sun_share)
    return ((1 - share) * radiance + share * disc_map).astype(np.float32)


class EnvironmentRandomizer:
    """Lights the scene with an environment map (see the module docstring).

    Args:
        maps: A folder of equirectangular maps or a list of files; null or empty for
            the procedural sky.
        probability: Share of images that get an environment, 0..1.
        irradiance: [min, max] irradiance the map delivers to an upward-facing surface,
            W/m^2 (as ``Lighting.intensity``; 2-4 is daylight-like for these scenes).
        rotation_deg: [min, max] turn of the map about the vertical, degrees.
        visible: Show the map where no surface is hit (else the scene's background).
        replace_lights: The environment is the only light (the scene's lights and
            ambient are removed); false adds it to them.
        sun_elevation_deg: Procedural sky: [min, max] sun elevation, degrees.
        sun_share: Procedural sky: [min, max] share of the irradiance from the sun, 0..1.
        sun_temperature_k: Procedural sky: [min, max] colour temperature of the sun.
        zenith_color: Procedural sky: [r, g, b] sRGB 0..255 straight up.
        horizon_color: Procedural sky: [r, g, b] sRGB 0..255 at the horizon.
        ground_color: Procedural sky: [r, g, b] sRGB 0..255 below the horizon.
        max_width: Maps are downsampled to at most this width, pixels.
    """

    def __init__(
        self,
        maps: str | Sequence[str] | None = None,
        probability: float = 1.0,
        irradiance: Sequence[float] = (2.0, 3.5),
        rotation_deg: Sequence[float] = (0.0, 360.0),
        visible: bool = True,
        replace_lights: bool = True,
        sun_elevation_deg: Sequence[float] = (20.0, 75.0),
        sun_share: Sequence[float] = (0.5, 0.85),
        sun_temperature_k: Sequence[float] = (4500.0, 6500.0),
        zenith_color: Sequence[float] = (70, 120, 200),
        horizon_color: Sequence[float] = (190, 205, 225),
        ground_color: Sequence[float] = (110, 100, 90),
        max_width: int = 1024,
    ):
        self.files = _map_files(maps)
        self.probability = check_number("probability", probability, minimum=0.0, maximum=1.0)
        self.irradiance = check_range_pair("irradiance", irradiance, minimum=0.0)
        self.rotation_deg = check_range_pair("rotation_deg", rotation_deg, minimum=-3600.0, maximum=3600.0)
        self.visible = bool(visible)
        self.replace_lights = bool(replace_lights)
        self.sun_elevation_deg = check_range_pair("sun_elevation_deg", sun_elevation_deg, minimum=0.0, maximum=90.0)
        self.sun_share = check_range_pair("sun_share", sun_share, minimum=0.0, maximum=1.0)
        self.sun_temperature_k = check_range_pair("sun_temperature_k", sun_temperature_k, minimum=1000.0, maximum=40000.0)
        self.zenith = np.array(check_vector("zenith_color", zenith_color, 3, minimum=0, maximum=255))
        self.horizon = np.array(check_vector("horizon_color", horizon_color, 3, minimum=0, maximum=255))
        self.ground = np.array(check_vector("ground_color", ground_color, 3, minimum=0, maximum=255))
        self.max_width = check_number("max_width", max_width, minimum=16, maximum=16384, integer=True)
        self._maps: dict[Path, tuple[np.ndarray, float, str]] = {}
        for path in self.files[:1]:
            self._map(path)  # a broken first map is reported when the config is built

    def _map(self, path: Path) -> tuple[np.ndarray, float, str]:
        """A map file's radiance (unit upward irradiance), read once."""
        if path not in self._maps:
            radiance = load_environment_map(path, self.max_width)
            irradiance = upward_irradiance(radiance)
            if irradiance <= 0:
                raise InputError(f"environment map {str(path)!r} is black above the horizon; it would give no light")
            self._maps[path] = (radiance / np.float32(irradiance), irradiance, f"map:{path}:{self.max_width}")
        return self._maps[path]

    def __call__(self, spec: SceneSpec, rng: np.random.Generator) -> SceneSpec:
        if rng.uniform() >= self.probability:
            return spec
        if self.files:
            radiance, _, key = self._map(self.files[int(rng.integers(len(self.files)))])
        else:
            radiance = procedural_sky(rng, self.sun_elevation_deg, self.sun_share, self.zenith, self.horizon,
                                      self.ground, self.sun_temperature_k)
            key = ""
        environment = EnvironmentMap(radiance, rotation_deg=float(rng.uniform(*self.rotation_deg)),
                                     strength=float(rng.uniform(*self.irradiance)), visible=self.visible, key=key)
        if self.replace_lights:
            return dataclasses.replace(spec, environment=environment, lights=(), ambient=np.zeros(3))
        return dataclasses.replace(spec, environment=environment)


def _map_files(maps) -> list[Path]:
    if maps is None or (not isinstance(maps, str) and len(maps) == 0):
        return []
    if isinstance(maps, str):
        folder = Path(maps).expanduser()
        if folder.is_dir():
            files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in ENVIRONMENT_SUFFIXES and p.is_file())
            if not files:
                raise ConfigError(f"maps: folder {maps!r} holds no environment maps ({', '.join(ENVIRONMENT_SUFFIXES)})")
            return files
        maps = [maps]
    files = [Path(m).expanduser() for m in maps]
    for i, path in enumerate(files):
        if not path.is_file():
            raise ConfigError(f"maps[{i}]: {str(path)!r} not found; give equirectangular map files or a folder")
        if path.suffix.lower() not in ENVIRONMENT_SUFFIXES:
            raise ConfigError(f"maps[{i}]: {str(path)!r}: unsupported type; use one of {list(ENVIRONMENT_SUFFIXES)}")
    return files
