"""Camera rigs: draw intrinsics and a look-at pose from user-meaningful ranges."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from synthgen.core import Camera
from synthgen.core.validation import check_number, check_range_pair, check_vector

__all__ = ["ForwardCamera", "LookAtCamera", "intrinsics_from_fov", "look_at", "roll"]


def intrinsics_from_fov(width: int, height: int, fov_y_deg: float) -> np.ndarray:
    """(3, 3) float64 intrinsics with square pixels and the principal point at the centre.

    Args:
        width: Image width in pixels.
        height: Image height in pixels.
        fov_y_deg: Vertical field of view in degrees.
    """
    focal = (height / 2.0) / np.tan(np.deg2rad(fov_y_deg) / 2.0)
    return np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])


_Z_UP = np.array([0.0, 0.0, 1.0])
_Z_UP.flags.writeable = False  # a shared default: never modified


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray = _Z_UP) -> np.ndarray:
    """(4, 4) float64 world -> OpenCV camera transform of a camera at ``eye`` facing ``target``.

    The image's "up" (negative camera y) points as close to ``up`` as possible; when
    looking straight along ``up`` the world y axis is used instead.
    """
    eye = np.asarray(eye, dtype=np.float64)
    forward = np.asarray(target, dtype=np.float64) - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, up)
    if np.linalg.norm(right) < 1e-9:
        right = np.cross(forward, np.array([0.0, 1.0, 0.0]))
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    world_to_camera = np.eye(4)
    world_to_camera[:3, :3] = np.stack([right, down, forward])
    world_to_camera[:3, 3] = -world_to_camera[:3, :3] @ eye
    return world_to_camera


def roll(world_to_camera: np.ndarray, angle_deg: float) -> np.ndarray:
    """(4, 4) float64 extrinsics turned by ``angle_deg`` about the optical axis (clockwise in the image)."""
    c, s = np.cos(np.deg2rad(angle_deg)), np.sin(np.deg2rad(angle_deg))
    turn = np.eye(4)
    turn[:2, :2] = [[c, s], [-s, c]]
    return turn @ world_to_camera


class _Lens:
    """Field of view, given directly or as a focal length on a sensor."""

    def __init__(self, fov_deg, focal_length_mm, sensor_height_mm):
        self.fov_deg = check_range_pair("fov_deg", fov_deg, minimum=1.0, maximum=170.0)
        self.focal_length_mm = (
            None if focal_length_mm is None
            else check_range_pair("focal_length_mm", focal_length_mm, minimum=0.1, maximum=5000.0)
        )
        self.sensor_height_mm = check_number("sensor_height_mm", sensor_height_mm, minimum=0.1, exclusive_minimum=True)

    def intrinsics(self, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
        if self.focal_length_mm is None:
            return intrinsics_from_fov(width, height, rng.uniform(*self.fov_deg))
        focal = rng.uniform(*self.focal_length_mm)
        fov = np.rad2deg(2.0 * np.arctan(self.sensor_height_mm / (2.0 * focal)))
        return intrinsics_from_fov(width, height, fov)


class LookAtCamera:
    """A camera on a sphere around a target point, looking at it.

    Args:
        distance: [min, max] distance to the target in metres.
        elevation_deg: [min, max] angle above the horizontal plane, degrees (90: top-down).
        azimuth_deg: [min, max] angle around the vertical axis, degrees (0: from +x).
        fov_deg: [min, max] vertical field of view, degrees.
        target: [x, y, z] point looked at, metres.
        target_jitter: Each target coordinate moves by up to this many metres.
        roll_deg: [min, max] turn about the optical axis, degrees.
        focal_length_mm: [min, max] focal length in millimetres on a sensor of
            ``sensor_height_mm``; replaces ``fov_deg`` when given.
        sensor_height_mm: Sensor height in millimetres (24: full frame).
    """

    def __init__(
        self,
        distance: Sequence[float] = (0.5, 0.8),
        elevation_deg: Sequence[float] = (35.0, 75.0),
        azimuth_deg: Sequence[float] = (0.0, 360.0),
        fov_deg: Sequence[float] = (45.0, 55.0),
        target: Sequence[float] = (0.0, 0.0, 0.03),
        target_jitter: float = 0.03,
        roll_deg: Sequence[float] = (0.0, 0.0),
        focal_length_mm: Sequence[float] | None = None,
        sensor_height_mm: float = 24.0,
    ):
        self.distance = check_range_pair("distance", distance, minimum=0.01)
        self.elevation_deg = check_range_pair("elevation_deg", elevation_deg, minimum=-90.0, maximum=90.0)
        self.azimuth_deg = check_range_pair("azimuth_deg", azimuth_deg, minimum=-360.0, maximum=720.0)
        self.lens = _Lens(fov_deg, focal_length_mm, sensor_height_mm)
        self.target = np.array(check_vector("target", target, 3))
        self.target_jitter = check_number("target_jitter", target_jitter, minimum=0.0)
        self.roll_deg = check_range_pair("roll_deg", roll_deg, minimum=-180.0, maximum=180.0)

    def sample(self, rng: np.random.Generator, width: int, height: int) -> Camera:
        """Draw a camera for a ``width`` x ``height`` image."""
        distance = rng.uniform(*self.distance)
        elevation = np.deg2rad(rng.uniform(*self.elevation_deg))
        azimuth = np.deg2rad(rng.uniform(*self.azimuth_deg))
        K = self.lens.intrinsics(rng, width, height)
        target = self.target + rng.uniform(-self.target_jitter, self.target_jitter, size=3)
        direction = np.array(
            [np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)]
        )
        eye = target + distance * direction
        extrinsics = roll(look_at(eye, target), rng.uniform(*self.roll_deg))
        return Camera(K, extrinsics, width, height)


class ForwardCamera:
    """A camera mounted on a vehicle: at a height above the ground, looking ahead along +x.

    KITTI's camera sits 1.65 m above the road with a level view and about 80 degrees
    of horizontal field of view.

    Args:
        height_m: [min, max] camera height above the ground plane (z = 0), metres.
        lateral_m: [min, max] sideways offset (world y), metres.
        pitch_deg: [min, max] downward tilt, degrees.
        yaw_deg: [min, max] turn left (+) or right (-), degrees.
        roll_deg: [min, max] turn about the optical axis, degrees.
        fov_deg: [min, max] vertical field of view, degrees.
        focal_length_mm: [min, max] focal length on a ``sensor_height_mm`` sensor
            (replaces ``fov_deg`` when given).
        sensor_height_mm: Sensor height in millimetres.
    """

    def __init__(
        self,
        height_m: Sequence[float] = (1.55, 1.75),
        lateral_m: Sequence[float] = (-0.3, 0.3),
        pitch_deg: Sequence[float] = (0.0, 4.0),
        yaw_deg: Sequence[float] = (-3.0, 3.0),
        roll_deg: Sequence[float] = (-1.0, 1.0),
        fov_deg: Sequence[float] = (55.0, 65.0),
        focal_length_mm: Sequence[float] | None = None,
        sensor_height_mm: float = 24.0,
    ):
        self.height_m = check_range_pair("height_m", height_m, minimum=0.01)
        self.lateral_m = check_range_pair("lateral_m", lateral_m)
        self.pitch_deg = check_range_pair("pitch_deg", pitch_deg, minimum=-89.0, maximum=89.0)
        self.yaw_deg = check_range_pair("yaw_deg", yaw_deg, minimum=-180.0, maximum=180.0)
        self.roll_deg = check_range_pair("roll_deg", roll_deg, minimum=-180.0, maximum=180.0)
        self.lens = _Lens(fov_deg, focal_length_mm, sensor_height_mm)

    def sample(self, rng: np.random.Generator, width: int, height: int) -> Camera:
        """Draw a camera for a ``width`` x ``height`` image."""
        eye = np.array([0.0, rng.uniform(*self.lateral_m), rng.uniform(*self.height_m)])
        pitch, yaw = np.deg2rad(rng.uniform(*self.pitch_deg)), np.deg2rad(rng.uniform(*self.yaw_deg))
        forward = np.array([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), -np.sin(pitch)])
        K = self.lens.intrinsics(rng, width, height)
        extrinsics = roll(look_at(eye, eye + forward), rng.uniform(*self.roll_deg))
        return Camera(K, extrinsics, width, height)
