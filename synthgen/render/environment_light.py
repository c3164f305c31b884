"""Environment maps for a rasterizer without image-based lighting.

pyrender has point, spot and directional lights and one uniform ambient colour, no
image-based lighting. An ``EnvironmentMap`` is approximated for it as:

1. The ``num_lights`` brightest regions (sun, lamps, windows: found on a 64 x 32
   downsampled map, each a disc of ``region_deg`` around its peak) become
   directional lights carrying the region's irradiance, sum(L * d_omega) per channel.
2. The rest of the map is reduced to its first two spherical-harmonic bands: with the
   clamped-cosine kernel's coefficients (1/4, 1/2) a map gives irradiance
   ``E(n) ~ pi * L_mean + n . V / 2`` (V = integral of L * omega), which equals one
   directional "sky" light of irradiance ``|V|`` along V plus a uniform ambient
   ``L_mean - |V| / (4 pi)``. pyrender's ambient term adds ``albedo * ambient``, the
   radiance a Lambertian surface returns under irradiance ``pi * ambient``.

What this misses: the map's higher frequencies (soft shadows and coloured bounce from
one side), reflections of the map in glossy and metallic surfaces (they reflect only
the extracted lights). A path tracer (issue 12's Cycles backend) uses the map exactly.

The map's convention (see ``EnvironmentMap``): row 0 up (+z); column 0 along +x,
columns advancing towards +y; ``rotation_deg`` turns the map about z.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import cv2
import numpy as np

from synthgen.core import Camera, EnvironmentMap, Light, equirect_directions

__all__ = ["EnvironmentLighting", "approximate_lighting", "direction_to_map", "environment_background"]

_GRID = (32, 64)  # rows, columns of the map the lights are fitted on
_CACHE: collections.OrderedDict[tuple, EnvironmentLighting] = collections.OrderedDict()
_CACHE_SIZE = 64


@dataclass(frozen=True)
class EnvironmentLighting:
    """A map as lights, in the map's own frame (before rotation and strength).

    Attributes:
        ambient: (3,) float64 uniform ambient radiance.
        directions: (N, 3) float64 unit directions towards each light (map frame).
        irradiance: (N, 3) float64 linear RGB irradiance of each light, W/m^2.
    """

    ambient: np.ndarray
    directions: np.ndarray
    irradiance: np.ndarray


def direction_to_map(directions: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Continuous map coordinates (column x, row y; texel centres at +0.5) of (..., 3) directions."""
    d = directions / np.maximum(np.linalg.norm(directions, axis=-1, keepdims=True), 1e-12)
    azimuth = np.mod(np.arctan2(d[..., 1], d[..., 0]), 2 * np.pi)
    latitude = np.arcsin(np.clip(d[..., 2], -1.0, 1.0))
    return azimuth / (2 * np.pi) * width, (np.pi / 2 - latitude) / np.pi * height


def _downsample(radiance: np.ndarray) -> np.ndarray:
    """Area-average a map to ``_GRID`` (energy kept), without OpenCV."""
    rows, cols = _GRID
    h, w = radiance.shape[:2]
    row_edges = np.linspace(0, h, rows + 1).astype(int)
    col_edges = np.linspace(0, w, cols + 1).astype(int)
    if h < rows or w < cols:  # small maps: nearest texel
        r = np.minimum((np.arange(rows) + 0.5) * h / rows, h - 1).astype(int)
        c = np.minimum((np.arange(cols) + 0.5) * w / cols, w - 1).astype(int)
        return radiance[r][:, c].astype(np.float64)
    sums = np.add.reduceat(np.add.reduceat(radiance.astype(np.float64), row_edges[:-1], axis=0), col_edges[:-1], axis=1)
    counts = np.outer(np.diff(row_edges), np.diff(col_edges))[..., None]
    return sums / counts


def _fit(env: EnvironmentMap, num_lights: int, region_deg: float) -> EnvironmentLighting:
    small = _downsample(env.radiance)
    directions, solid_angle = equirect_directions(*_GRID)
    energy = small * solid_angle[..., None]
    remaining = np.ones(_GRID, dtype=bool)
    cos_region = np.cos(np.deg2rad(region_deg))
    light_dirs, light_irr = [], []
    luminance = energy @ np.array([0.2126, 0.7152, 0.0722])
    mean_luminance = luminance.sum() / (4 * np.pi)
    for _ in range(num_lights):
        peak = np.unravel_index(np.argmax(np.where(remaining, small @ [0.2126, 0.7152, 0.0722], -1.0)), _GRID)
        if not remaining[peak]:
            break
        # A light only where the map has a peak well above its mean (a sun, a lamp), not in a flat sky.
        if (small[peak] @ [0.2126, 0.7152, 0.0722]) < 4.0 * mean_luminance:
            break
        region = remaining & (directions @ directions[peak] >= cos_region)
        irradiance = energy[region].sum(axis=0)
        direction = (energy[region] @ [0.2126, 0.7152, 0.0722]) @ directions[region]
        light_dirs.append(direction / max(np.linalg.norm(direction), 1e-12))
        light_irr.append(irradiance)
        remaining &= ~region
    rest = energy * remaining[..., None]
    mean = rest.sum(axis=(0, 1)) / (4 * np.pi)
    moment = np.einsum("hwc,hwk->ck", rest, directions)  # (3 channels, 3 axes)
    grey = moment.T @ [0.2126, 0.7152, 0.0722]
    if np.linalg.norm(grey) > 1e-9:
        sky = grey / np.linalg.norm(grey)
        sky_irradiance = np.clip(moment @ sky, 0.0, None)
        ambient = mean - sky_irradiance / (4 * np.pi)
        scale = np.where(ambient < 0, mean / np.maximum(sky_irradiance / (4 * np.pi), 1e-12), 1.0)
        sky_irradiance = sky_irradiance * np.minimum(scale, 1.0)
        light_dirs.append(sky)
        light_irr.append(sky_irradiance)
        ambient = np.clip(mean - sky_irradiance / (4 * np.pi), 0.0, None)
    else:
        ambient = mean
    return EnvironmentLighting(np.asarray(ambient, float), np.reshape(light_dirs, (-1, 3)), np.reshape(light_irr, (-1, 3)))


def _rotation(env: EnvironmentMap) -> np.ndarray:
    angle = np.deg2rad(env.rotation_deg)
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def approximate_lighting(env: EnvironmentMap, num_lights: int = 3,
                         region_deg: float = 20.0) -> tuple[np.ndarray, tuple[Light, ...]]:
    """The map as an ambient colour and directional lights (see the module docstring).

    The fit runs once per map (cached by ``EnvironmentMap.key``); rotation and strength
    are applied per call.

    Args:
        env: The environment.
        num_lights: How many bright regions become lights (besides the sky light).
        region_deg: Angular radius of each region, degrees.

    Returns:
        ambient: (3,) float64 linear ambient radiance.
        lights: Directional lights (world frame), brightest first, the sky light last.
    """
    key = (env.key, num_lights, region_deg)
    if key not in _CACHE:
        _CACHE[key] = _fit(env, num_lights, region_deg)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    fitted = _CACHE[key]
    rotation = _rotation(env)
    lights = []
    for direction, irradiance in zip(fitted.directions, fitted.irradiance):
        intensity = float(irradiance.max()) * env.strength
        if intensity <= 0:
            continue
        lights.append(Light("directional", irradiance / irradiance.max(), intensity, direction=-(rotation @ direction)))
    return fitted.ambient * env.strength, tuple(lights)


_RAYS: collections.OrderedDict[tuple, np.ndarray] = collections.OrderedDict()
_BACKGROUND_STEP = 4  # the map is looked up every 4th pixel, then upscaled: maps are smooth at that scale


def _camera_rays(camera: Camera, step: int) -> np.ndarray:
    """(h, w, 3) float32 camera-frame rays through the centres of ``step`` x ``step`` pixel blocks."""
    key = (camera.K.tobytes(), camera.width, camera.height, step)
    if key not in _RAYS:
        columns = (np.arange(0, camera.width, step, dtype=np.float64) + step / 2).clip(0, camera.width)
        rows = (np.arange(0, camera.height, step, dtype=np.float64) + step / 2).clip(0, camera.height)
        u, v = np.meshgrid(columns, rows)
        _RAYS[key] = (np.stack([u, v, np.ones_like(u)], axis=-1) @ np.linalg.inv(camera.K).T).astype(np.float32)
        while len(_RAYS) > 8:
            _RAYS.popitem(last=False)
    return _RAYS[key]


def environment_background(env: EnvironmentMap, camera: Camera) -> np.ndarray:
    """The map as the camera sees it (looked up every 4th pixel and upscaled bilinearly).

    Returns:
        (height, width, 3) float32 linear radiance (times ``strength``).
    """
    rays = _camera_rays(camera, _BACKGROUND_STEP)
    to_map = (_rotation(env).T @ camera.world_to_camera[:3, :3].T).astype(np.float32)  # camera -> world -> map
    h, w = env.radiance.shape[:2]
    x, y = direction_to_map(rays @ to_map.T, h, w)
    # One texel of padding: columns wrap around in azimuth, rows repeat at the poles.
    padded = np.concatenate([env.radiance[:, -1:], env.radiance, env.radiance[:, :1]], axis=1)
    padded = np.concatenate([padded[:1], padded, padded[-1:]], axis=0)
    small = cv2.remap(padded, (x + 0.5).astype(np.float32), (y + 0.5).astype(np.float32), cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)
    full = cv2.resize(small, (camera.width, camera.height), interpolation=cv2.INTER_LINEAR)
    return full * np.float32(env.strength)
