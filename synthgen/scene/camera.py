"""Camera rigs: draw intrinsics and a look-at pose from user-meaningful ranges."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from synthgen.types import Camera
from synthgen.validation import check_number, check_range_pair, check_vector

__all__ = ["LookAtCamera", "intrinsics_from_fov", "look_at"]


def intrinsics_from_fov(width: int, height: int, fov_y_deg: float) -> np.ndarray:
    """(3, 3) float64 intrinsics with square pixels and the principal point at the centre.

    Args:
        width: Image width in pixels.
        height: Image height in pixels.
        fov_y_deg: Vertical field of view in degrees.
    """
    focal = (height / 2.0) / np.tan(np.deg2rad(fov_y_deg) / 2.0)
    return np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray = np.array([0.0, 0.0, 1.0])) -> np.ndarray:
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


class LookAtCamera:
    """A camera on a sphere around a target point, looking at it.

    Args:
        distance: [min, max] distance to the target in metres.
        elevation_deg: [min, max] angle above the horizontal plane, degrees (90: top-down).
        azimuth_deg: [min, max] angle around the vertical axis, degrees (0: from +x).
        fov_deg: [min, max] vertical field of view, degrees.
        target: [x, y, z] point looked at, metres.
        target_jitter: Each target coordinate moves by up to this many metres.
    """

    def __init__(
        self,
        distance: Sequence[float] = (0.7, 1.0),
        elevation_deg: Sequence[float] = (35.0, 70.0),
        azimuth_deg: Sequence[float] = (0.0, 360.0),
        fov_deg: Sequence[float] = (45.0, 55.0),
        target: Sequence[float] = (0.0, 0.0, 0.0),
        target_jitter: float = 0.03,
    ):
        self.distance = check_range_pair("distance", distance, minimum=0.01)
        self.elevation_deg = check_range_pair("elevation_deg", elevation_deg, minimum=-90.0, maximum=90.0)
        self.azimuth_deg = check_range_pair("azimuth_deg", azimuth_deg, minimum=-360.0, maximum=720.0)
        self.fov_deg = check_range_pair("fov_deg", fov_deg, minimum=1.0, maximum=170.0)
        self.target = np.array(check_vector("target", target, 3))
        self.target_jitter = check_number("target_jitter", target_jitter, minimum=0.0)

    def sample(self, rng: np.random.Generator, width: int, height: int) -> Camera:
        """Draw a camera for a ``width`` x ``height`` image."""
        distance = rng.uniform(*self.distance)
        elevation = np.deg2rad(rng.uniform(*self.elevation_deg))
        azimuth = np.deg2rad(rng.uniform(*self.azimuth_deg))
        fov = rng.uniform(*self.fov_deg)
        target = self.target + rng.uniform(-self.target_jitter, self.target_jitter, size=3)
        direction = np.array(
            [np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)]
        )
        eye = target + distance * direction
        return Camera(intrinsics_from_fov(width, height, fov), look_at(eye, target), width, height)
