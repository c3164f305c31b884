"""A camera sensor and lens model that keeps every label consistent with the image.

Stages, in the order light goes through a camera (each with a probability):

1. **Depth of field** (thin lens, from the depth map): a pixel at depth d, with the
   lens focused at s, focal length f (from K and ``sensor_width_mm``) and f-number N,
   is blurred by a disc of diameter ``f^2 / (N (s - f)) * |d - s| / d`` on the sensor
   (converted to pixels; nothing hit counts as infinitely far). The image is blurred
   with discs at a few radii and each pixel blends the two nearest. Labels are of the
   scene, not of the blur: they stay as rendered.
2. **Motion blur** (sequences with optical flow): the image is averaged along each
   pixel's flow over the ``shutter`` share of the frame interval. Labels stay those of
   the frame's instant.
3. **Lens distortion** (Brown-Conrady ``k1, k2, p1, p2, k3``, OpenCV's model with the
   camera's own K): the image, id map, depth and amodal masks are warped (ids, depth and
   masks nearest-neighbour); keypoints, cuboid corners and polylines move with the
   model; masks, boxes, areas and occlusion are re-derived from the warped maps. The
   coefficients are written with K (``camera.distortion`` in every record and export
   that carries the camera), so ``cv2.undistort`` with them gives the pinhole image back.
4. **Noise**: shot noise (Poisson in linear light, ``photons`` at full scale) and read
   noise (Gaussian, ``read_noise`` of full scale), then 8-bit quantisation.
5. **JPEG** at a drawn quality (encoded and decoded, as a camera writes it).
6. Any albumentations ``transforms`` (``synthgen.augment.augmenter.Augmenter``) last.

Every draw comes from the sample's augmentation seed: the same seed, the same result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from synthgen.augment.augmenter import Augmenter, relabel, sample_points
from synthgen.core import Sample, distort_normalized
from synthgen.core.color import linear_to_srgb8, srgb_to_linear
from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_number, check_range_pair

__all__ = ["SensorModel", "distortion_maps"]

_BLUR_RADII = (0.0, 1.0, 2.0, 3.5, 5.5, 8.0, 12.0)
_LINEAR = srgb_to_linear(np.arange(256, dtype=np.float64)).astype(np.float32)


def _disc(radius: float) -> np.ndarray:
    size = int(np.ceil(radius)) * 2 + 1
    y, x = np.mgrid[:size, :size] - size // 2
    # Anti-aliased disc: coverage falls off over one pixel at the rim.
    kernel = np.clip(radius + 0.5 - np.hypot(x, y), 0.0, 1.0).astype(np.float32)
    return kernel / kernel.sum()


def _options(value: Mapping | None, name: str, defaults: dict) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name}: must be a mapping of its settings or null, got {value!r}")
    unknown = sorted(set(value) - set(defaults))
    if unknown:
        raise ConfigError(f"{name}: unknown settings {unknown}; it takes {sorted(defaults)}")
    return {**defaults, **dict(value)}


def distortion_maps(K: np.ndarray, coefficients: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Where each pixel of the distorted image comes from in the pinhole image.

    Args:
        K: (3, 3) intrinsics (synthgen's continuous pixel coordinates).
        coefficients: (5,) ``k1, k2, p1, p2, k3``.
        width: Image width.
        height: Image height.

    Returns:
        map_x, map_y: (height, width) float32 source coordinates for ``cv2.remap``
        (OpenCV's convention: pixel centres at integers).
    """
    # OpenCV's pixel centres are at integers, synthgen's at +0.5: shift the principal point.
    K_cv = np.asarray(K, dtype=np.float64).copy()
    K_cv[0, 2] -= 0.5
    K_cv[1, 2] -= 0.5
    u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    grid = np.stack([u.ravel(), v.ravel()], axis=1)[:, None, :]
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 20, 1e-6)
    source = cv2.undistortPointsIter(grid, K_cv, np.asarray(coefficients, np.float64), None, K_cv, criteria)
    source = source.reshape(height, width, 2).astype(np.float32)
    return source[..., 0], source[..., 1]


class SensorModel:
    """Depth of field, motion blur, lens distortion, noise and JPEG (see the module docstring).

    Args:
        depth_of_field: ``{probability, f_number: [min, max], focus: instance | [min, max]
            metres, sensor_width_mm}`` or null. ``focus: instance`` focuses on the median
            depth of a random labeled instance.
        motion_blur: ``{probability, shutter: [min, max]}`` (share of the frame interval)
            or null; applies to sequence frames with optical flow.
        lens_distortion: ``{probability, k1: [min, max], k2: [min, max], p: max |p1|, |p2|,
            k3: [min, max]}`` or null.
        noise: ``{probability, photons: [min, max] at full scale, read_noise: [min, max]
            share of full scale}`` or null.
        jpeg_quality: [min, max] JPEG quality 1..100, or null.
        transforms: Albumentations transforms applied last (see ``Augmenter``).
        min_visible_pixels: Instances left with fewer visible pixels after a warp are
            no longer labeled.
    """

    def __init__(
        self,
        depth_of_field: Mapping | None = None,
        motion_blur: Mapping | None = None,
        lens_distortion: Mapping | None = None,
        noise: Mapping | None = None,
        jpeg_quality: Sequence[int] | None = None,
        transforms: Sequence[Mapping] = (),
        min_visible_pixels: int = 20,
    ):
        self.dof = _options(depth_of_field, "depth_of_field",
                            {"probability": 0.5, "f_number": [1.8, 8.0], "focus": "instance", "sensor_width_mm": 36.0})
        if self.dof is not None:
            check_number("depth_of_field.probability", self.dof["probability"], minimum=0, maximum=1)
            self.dof["f_number"] = check_range_pair("depth_of_field.f_number", self.dof["f_number"], minimum=0.5)
            check_number("depth_of_field.sensor_width_mm", self.dof["sensor_width_mm"], minimum=1)
            if self.dof["focus"] != "instance":
                self.dof["focus"] = check_range_pair("depth_of_field.focus", self.dof["focus"], minimum=0.01)
        self.motion = _options(motion_blur, "motion_blur", {"probability": 1.0, "shutter": [0.3, 0.8]})
        if self.motion is not None:
            check_number("motion_blur.probability", self.motion["probability"], minimum=0, maximum=1)
            self.motion["shutter"] = check_range_pair("motion_blur.shutter", self.motion["shutter"], minimum=0, maximum=1)
        self.lens = _options(lens_distortion, "lens_distortion",
                             {"probability": 0.5, "k1": [-0.25, 0.1], "k2": [-0.05, 0.05], "p": 0.002, "k3": [0.0, 0.0]})
        if self.lens is not None:
            check_number("lens_distortion.probability", self.lens["probability"], minimum=0, maximum=1)
            for key in ("k1", "k2", "k3"):
                self.lens[key] = check_range_pair(f"lens_distortion.{key}", self.lens[key], minimum=-2, maximum=2)
            check_number("lens_distortion.p", self.lens["p"], minimum=0, maximum=0.1)
        self.noise = _options(noise, "noise", {"probability": 0.5, "photons": [300, 3000], "read_noise": [0.002, 0.01]})
        if self.noise is not None:
            check_number("noise.probability", self.noise["probability"], minimum=0, maximum=1)
            self.noise["photons"] = check_range_pair("noise.photons", self.noise["photons"], minimum=1)
            self.noise["read_noise"] = check_range_pair("noise.read_noise", self.noise["read_noise"], minimum=0, maximum=1)
        self.jpeg = None if jpeg_quality is None else check_range_pair("jpeg_quality", jpeg_quality, minimum=1, maximum=100)
        self.min_visible_pixels = check_number("min_visible_pixels", min_visible_pixels, minimum=1, integer=True)
        self.augmenter = Augmenter(transforms, min_visible_pixels) if transforms else None

    def __call__(self, sample: Sample, seed: int) -> Sample:
        """The sample as the sensor records it; the same ``seed`` gives the same result."""
        rng = np.random.default_rng(seed)
        if self.dof is not None and rng.uniform() < self.dof["probability"]:
            sample = self._depth_of_field(sample, rng)
        if self.motion is not None and rng.uniform() < self.motion["probability"]:
            sample = self._motion_blur(sample, rng)
        if self.lens is not None and rng.uniform() < self.lens["probability"]:
            sample = self._distort(sample, rng)
        if self.noise is not None and rng.uniform() < self.noise["probability"]:
            sample = self._noise(sample, rng)
        if self.jpeg is not None:
            sample = self._jpeg(sample, rng)
        if self.augmenter is not None:
            sample = self.augmenter(sample, int(rng.integers(2**31)))
        return sample

    def _depth_of_field(self, sample: Sample, rng: np.random.Generator) -> Sample:
        height, width = sample.instance_ids.shape
        f_number = rng.uniform(*self.dof["f_number"])
        focal_mm = sample.camera.K[0, 0] * self.dof["sensor_width_mm"] / width
        depth = sample.depth.astype(np.float64)
        if self.dof["focus"] == "instance":
            if not sample.instances:
                return sample
            instance = sample.instances[int(rng.integers(len(sample.instances)))]
            focus_m = float(np.median(depth[instance.mask]))
        else:
            focus_m = rng.uniform(*self.dof["focus"])
        focus_mm = max(focus_m * 1000.0, focal_mm * 1.01)
        distance_mm = np.where(depth > 0, depth * 1000.0, np.inf)
        with np.errstate(invalid="ignore", divide="ignore"):
            relative = np.where(np.isinf(distance_mm), 1.0, np.abs(distance_mm - focus_mm) / distance_mm)
        coc_mm = focal_mm**2 / (f_number * (focus_mm - focal_mm)) * relative
        radius_px = np.clip(coc_mm * width / self.dof["sensor_width_mm"] / 2.0, 0.0, _BLUR_RADII[-1])
        if radius_px.max() < 0.5:
            return sample
        image = _LINEAR[sample.image]
        levels = [image if r == 0 else cv2.filter2D(image, -1, _disc(r), borderType=cv2.BORDER_REFLECT)
                  for r in _BLUR_RADII if r == 0 or r <= radius_px.max() + 2.0]
        radii = np.array(_BLUR_RADII[:len(levels)])
        upper = np.clip(np.searchsorted(radii, radius_px), 1, len(radii) - 1)
        lower = upper - 1
        weight = ((radius_px - radii[lower]) / (radii[upper] - radii[lower])).clip(0, 1)[..., None].astype(np.float32)
        stack = np.stack(levels)
        rows, cols = np.indices(radius_px.shape)
        blurred = stack[lower, rows, cols] * (1 - weight) + stack[upper, rows, cols] * weight
        return self._with_image(sample, linear_to_srgb8(blurred), f"DepthOfField(f/{f_number:.1f})")

    def _motion_blur(self, sample: Sample, rng: np.random.Generator) -> Sample:
        flow, sign = (sample.flow_forward, 1.0) if sample.flow_forward is not None else (sample.flow_backward, -1.0)
        if flow is None:
            return sample
        shutter = rng.uniform(*self.motion["shutter"])
        motion = np.nan_to_num(np.asarray(flow.flow, dtype=np.float32)) * np.float32(sign * shutter)
        steps = int(np.clip(np.ceil(np.abs(motion).max()), 1, 16))
        height, width = sample.instance_ids.shape
        u, v = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
        image = _LINEAR[sample.image]
        total = np.zeros_like(image)
        # Centred on the frame's instant: the exposure spans -shutter/2 .. +shutter/2 of the motion.
        for t in np.linspace(-0.5, 0.5, steps + 1, dtype=np.float32):
            total += cv2.remap(image, u - motion[..., 0] * t, v - motion[..., 1] * t, cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
        return self._with_image(sample, linear_to_srgb8(total / (steps + 1)), f"MotionBlur(shutter={shutter:.2f})")

    def _distort(self, sample: Sample, rng: np.random.Generator) -> Sample:
        coefficients = np.array([rng.uniform(*self.lens["k1"]), rng.uniform(*self.lens["k2"]),
                                 rng.uniform(-1, 1) * self.lens["p"], rng.uniform(-1, 1) * self.lens["p"],
                                 rng.uniform(*self.lens["k3"])])
        height, width = sample.instance_ids.shape
        camera = sample.camera
        if camera.has_distortion:
            raise ConfigError("lens_distortion: the camera is already distorted; apply one lens model")
        map_x, map_y = distortion_maps(camera.K, coefficients, width, height)
        image = cv2.remap(sample.image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        maps = [sample.instance_ids.astype(np.float32), sample.depth.astype(np.float32)]
        maps += [instance.amodal_mask.astype(np.float32) for instance in sample.instances]
        warped = np.stack([cv2.remap(m, map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
                           for m in maps])
        points, slices = sample_points(sample)
        moved = _distort_pixels(points, camera.K, coefficients)
        # The area scale at the image centre (the warp is close to a scaling there).
        centre = np.array([[width / 2, height / 2], [width / 2 + 8, height / 2], [width / 2, height / 2 + 8]])
        probe = _distort_pixels(centre, camera.K, coefficients)
        (ax, ay), (bx, by) = probe[1] - probe[0], probe[2] - probe[0]
        ratio = abs(ax * by - ay * bx) / 64.0
        name = "LensDistortion(" + ", ".join(f"{c:.4f}" for c in coefficients) + ")"
        distorted = relabel(sample, image, warped, moved, slices, ratio, (name,), self.min_visible_pixels)
        return dataclasses.replace(distorted, camera=dataclasses.replace(camera, distortion=coefficients))

    def _noise(self, sample: Sample, rng: np.random.Generator) -> Sample:
        photons = rng.uniform(*self.noise["photons"])
        read = rng.uniform(*self.noise["read_noise"])
        linear = _LINEAR[sample.image].astype(np.float64)
        noisy = rng.poisson(linear * photons) / photons + rng.normal(0.0, read, size=linear.shape)
        return self._with_image(sample, linear_to_srgb8(noisy), f"SensorNoise(photons={photons:.0f}, read={read:.4f})")

    def _jpeg(self, sample: Sample, rng: np.random.Generator) -> Sample:
        quality = int(rng.integers(int(self.jpeg[0]), int(self.jpeg[1]) + 1))
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(sample.image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
        image = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        return self._with_image(sample, image, f"JPEG(quality={quality})")

    @staticmethod
    def _with_image(sample: Sample, image: np.ndarray, name: str) -> Sample:
        return dataclasses.replace(sample, image=np.ascontiguousarray(image), augmentations=sample.augmentations + (name,))


def _distort_pixels(points: np.ndarray, K: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """(N, 2) pinhole pixel coordinates -> where the distorted lens images them (NaN stays NaN)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    normalised = (points - K[:2, 2]) @ np.linalg.inv(K[:2, :2]).T
    return distort_normalized(normalised, coefficients) @ K[:2, :2].T + K[:2, 2]
