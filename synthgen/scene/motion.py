"""Motion for sequences: objects and camera moving along smooth, randomized trajectories (numpy only).

A motion model draws, once per clip, a :class:`Trajectory` from the clip's first scene
and the clip's generator; the trajectory poses every object and the camera at any time.
Objects translate at constant velocity in the ground plane and turn about their own
vertical axis at a constant rate; the camera orbits a vertical axis through the point
it looks at. Labeled instances keep their instance id in every frame: the id is the
track id.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from synthgen.types import Camera, SceneSpec
from synthgen.validation import check_number, check_range_pair

__all__ = ["ConstantVelocity", "Trajectory"]


def _rotation_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    rotation = np.eye(4)
    rotation[:2, :2] = [[c, -s], [s, c]]
    return rotation


def _about_vertical_axis(point: np.ndarray, angle: float) -> np.ndarray:
    """(4, 4) rotation by ``angle`` radians about the vertical (z) axis through ``point``."""
    shift, back = np.eye(4), np.eye(4)
    shift[:3, 3], back[:3, 3] = -point, point
    return back @ _rotation_z(angle) @ shift


def _look_target(camera: Camera) -> np.ndarray:
    """Where the optical axis meets the ground plane z = 0 (else 1 m ahead)."""
    direction = camera.world_to_camera[2, :3]  # camera +z in world coordinates
    centre = camera.position
    distance = -centre[2] / direction[2] if direction[2] < -1e-6 else 1.0
    return centre + distance * direction


@dataclasses.dataclass(frozen=True)
class Trajectory:
    """Where everything is at time ``t`` seconds after a clip's first frame.

    Attributes:
        velocities: Instance id -> (3,) float64 world velocity in m/s.
        yaw_rates: Instance id -> turn rate about the object's vertical axis in rad/s.
        orbit_rate: Camera orbit rate about the vertical axis through ``orbit_centre`` (rad/s).
        orbit_centre: (3,) float64 world point the camera orbits.
    """

    velocities: dict
    yaw_rates: dict
    orbit_rate: float
    orbit_centre: np.ndarray

    def object_pose(self, instance_id: int, pose: np.ndarray, t: float) -> np.ndarray:
        """(4, 4) pose at time ``t`` of an object whose first-frame pose is ``pose``."""
        velocity = self.velocities.get(instance_id)
        if velocity is None:
            return pose
        turned = _about_vertical_axis(pose[:3, 3], self.yaw_rates[instance_id] * t) @ pose
        turned[:3, 3] += velocity * t
        return turned

    def camera(self, camera: Camera, t: float) -> Camera:
        """The first frame's camera moved to time ``t``."""
        orbit = _about_vertical_axis(self.orbit_centre, self.orbit_rate * t)
        return dataclasses.replace(camera, world_to_camera=camera.world_to_camera @ np.linalg.inv(orbit))

    def at(self, spec: SceneSpec, t: float) -> SceneSpec:
        """The first frame's scene at time ``t`` (objects and camera moved, all else kept)."""
        objects = tuple(dataclasses.replace(obj, pose=self.object_pose(obj.instance_id, obj.pose, t))
                        if obj.is_instance else obj for obj in spec.objects)
        return dataclasses.replace(spec, objects=objects, camera=self.camera(spec.camera, t))

    def motions(self, spec: SceneSpec, t0: float, t1: float) -> dict[int, np.ndarray]:
        """Instance id -> (4, 4) world rigid motion from ``t0`` to ``t1`` (for optical flow)."""
        result = {}
        for obj in spec.objects:
            if obj.is_instance and obj.instance_id in self.velocities:
                start = self.object_pose(obj.instance_id, obj.pose, t0)
                result[obj.instance_id] = self.object_pose(obj.instance_id, obj.pose, t1) @ np.linalg.inv(start)
        return result


class ConstantVelocity:
    """Objects glide and turn at constant rates; the camera orbits its target.

    Args:
        speed: [min, max] object speed in m/s, drawn per object; direction uniform in the ground plane.
        yaw_rate_deg: [min, max] object turn rate in degrees/s.
        moving_fraction: Share of labeled objects that move (the rest stay put).
        camera_orbit_deg: [min, max] camera orbit rate in degrees/s (sign drawn too: either way round).
    """

    def __init__(self, speed: Sequence[float] = (0.0, 0.1), yaw_rate_deg: Sequence[float] = (-45.0, 45.0),
                 moving_fraction: float = 1.0, camera_orbit_deg: Sequence[float] = (0.0, 10.0)):
        self.speed = check_range_pair("speed", speed, minimum=0.0, maximum=50.0)
        self.yaw_rate_deg = check_range_pair("yaw_rate_deg", yaw_rate_deg, minimum=-720.0, maximum=720.0)
        self.moving_fraction = check_number("moving_fraction", moving_fraction, minimum=0.0, maximum=1.0)
        self.camera_orbit_deg = check_range_pair("camera_orbit_deg", camera_orbit_deg, minimum=0.0, maximum=360.0)

    def draw(self, spec: SceneSpec, rng: np.random.Generator) -> Trajectory:
        """A trajectory for the clip that starts with ``spec``."""
        velocities, yaw_rates = {}, {}
        for obj in spec.objects:
            if not obj.is_instance:
                continue
            moves = rng.random() < self.moving_fraction
            speed, heading = rng.uniform(*self.speed), rng.uniform(0.0, 2 * np.pi)
            yaw_rate = np.deg2rad(rng.uniform(*self.yaw_rate_deg))
            if moves:
                velocities[obj.instance_id] = speed * np.array([np.cos(heading), np.sin(heading), 0.0])
                yaw_rates[obj.instance_id] = float(yaw_rate)
        orbit = np.deg2rad(rng.uniform(*self.camera_orbit_deg)) * rng.choice([-1.0, 1.0])
        return Trajectory(velocities, yaw_rates, float(orbit), _look_target(spec.camera))
