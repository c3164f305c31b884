"""Motion for sequences: objects and camera moving along smooth, randomized trajectories (numpy/scipy).

A motion model draws, once per clip, a :class:`Trajectory` from the clip's first scene,
the clip's duration and the clip's generator; the trajectory poses every labeled object
and the camera at any time. Objects translate in the ground plane and turn about their
own vertical axis; the camera orbits a vertical axis through the point it looks at.
Unlabeled objects (distractors, ground, occluders) stay where they are. Labeled objects
keep their instance id in every frame: the id is the track id.

Models (conf/motion/): :class:`ConstantVelocity` (glide and turn at constant rates;
``pass_at: middle`` centres each path on the sampled pose, so fast objects enter and
leave the view), :class:`SplineKeyframes` (cubic splines through random keyframes) and
:class:`Driving` (the camera rig drives forward, vehicles drive along their headings).
Objects of role ``parked`` never move. Poses can be asked for at many times at once
(``object_poses``, ``camera_to_world``): a LiDAR sweep needs one per firing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from scipy.interpolate import CubicSpline

from synthgen.core import Camera, SceneSpec
from synthgen.core.validation import check_choice, check_number, check_range_pair

__all__ = ["ConstantVelocity", "Driving", "LinearPath", "MotionModel", "SplineKeyframes", "SplinePath", "Trajectory"]


def _rotations_z(angles: np.ndarray) -> np.ndarray:
    """(T, 4, 4) rotations about z by each of (T,) angles (radians)."""
    c, s = np.cos(angles), np.sin(angles)
    rotation = np.tile(np.eye(4), (len(angles), 1, 1))
    rotation[:, 0, 0], rotation[:, 0, 1], rotation[:, 1, 0], rotation[:, 1, 1] = c, -s, s, c
    return rotation


def _about_vertical_axis(point: np.ndarray, angle) -> np.ndarray:
    """(4, 4) rotation by ``angle`` radians about the vertical (z) axis through ``point``;
    (T, 4, 4) for (T,) angles."""
    shift, back = np.eye(4), np.eye(4)
    shift[:3, 3], back[:3, 3] = -point, point
    rotation = _rotations_z(np.atleast_1d(angle))
    return back @ (rotation[0] if np.ndim(angle) == 0 else rotation) @ shift


def _look_target(camera: Camera) -> np.ndarray:
    """Where the optical axis meets the ground plane z = 0 (else 1 m ahead)."""
    direction = camera.world_to_camera[2, :3]  # camera +z in world coordinates
    centre = camera.position
    distance = -centre[2] / direction[2] if direction[2] < -1e-6 else 1.0
    return centre + distance * direction


@dataclasses.dataclass(frozen=True)
class LinearPath:
    """Constant velocity and turn rate; at ``reference_time`` the object is at its sampled pose.

    Attributes:
        velocity: (3,) float64 world velocity in m/s.
        yaw_rate: Turn rate about the object's vertical axis in rad/s.
        reference_time: Seconds at which the offset is zero.
    """

    velocity: np.ndarray
    yaw_rate: float
    reference_time: float = 0.0

    def offset(self, t):
        """(3,) float64 world translation from the sampled position at time ``t`` ((T, 3) for (T,) times)."""
        return np.multiply.outer(np.asarray(t, dtype=np.float64) - self.reference_time, self.velocity)

    def yaw(self, t):
        """Turn (radians) from the sampled orientation at time ``t`` ((T,) for (T,) times)."""
        return self.yaw_rate * (np.asarray(t, dtype=np.float64) - self.reference_time)


@dataclasses.dataclass(frozen=True)
class SplinePath:
    """Cubic splines (natural ends) through keyframe offsets and turns.

    Attributes:
        times: (K,) float64 keyframe times in seconds, increasing, the first 0.
        offsets: (K, 3) float64 world translations from the sampled position (the first 0).
        yaws: (K,) float64 turns in radians (the first 0).
    """

    times: np.ndarray
    offsets: np.ndarray
    yaws: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "_offset", CubicSpline(self.times, self.offsets, bc_type="natural"))
        object.__setattr__(self, "_yaw", CubicSpline(self.times, self.yaws, bc_type="natural"))

    def offset(self, t):
        return np.asarray(self._offset(t), dtype=np.float64)

    def yaw(self, t):
        return np.asarray(self._yaw(t), dtype=np.float64)


@dataclasses.dataclass(frozen=True)
class Trajectory:
    """Where everything is at time ``t`` seconds after a clip's first frame.

    Attributes:
        paths: Instance id -> path (``offset(t)``, ``yaw(t)``) of each moving object.
        orbit_rate: Camera orbit rate about the vertical axis through ``orbit_centre`` (rad/s).
        orbit_centre: (3,) float64 world point the camera orbits.
        ego_velocity: (3,) float64 world velocity of the camera rig in m/s (driving), added
            to the orbit.
    """

    paths: dict
    orbit_rate: float
    orbit_centre: np.ndarray
    ego_velocity: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(3))

    def object_pose(self, instance_id: int, pose: np.ndarray, t: float) -> np.ndarray:
        """(4, 4) pose at time ``t`` of an object whose sampled pose is ``pose``."""
        path = self.paths.get(instance_id)
        if path is None:
            return pose
        turned = _about_vertical_axis(pose[:3, 3], float(path.yaw(t))) @ pose
        turned[:3, 3] += path.offset(t)
        return turned

    def object_poses(self, instance_id: int, pose: np.ndarray, times: np.ndarray) -> np.ndarray:
        """(T, 4, 4) poses at (T,) ``times`` of an object whose sampled pose is ``pose``."""
        times = np.asarray(times, dtype=np.float64).reshape(-1)
        path = self.paths.get(instance_id)
        if path is None:
            return np.broadcast_to(pose, (len(times), 4, 4)).copy()
        turned = _about_vertical_axis(pose[:3, 3], np.atleast_1d(path.yaw(times))) @ pose
        turned[:, :3, 3] += np.asarray(path.offset(times)).reshape(len(times), 3)
        return turned

    def camera_to_world(self, camera: Camera, times: np.ndarray) -> np.ndarray:
        """(T, 4, 4) camera -> world transforms at (T,) ``times`` of the first frame's camera."""
        times = np.asarray(times, dtype=np.float64).reshape(-1)
        moved = _about_vertical_axis(self.orbit_centre, self.orbit_rate * times) @ np.linalg.inv(camera.world_to_camera)
        moved[:, :3, 3] += np.multiply.outer(times, self.ego_velocity)
        return moved

    def camera(self, camera: Camera, t: float) -> Camera:
        """The first frame's camera moved to time ``t``."""
        if not np.any(self.ego_velocity):  # the orbit alone, computed as before (bytes unchanged)
            orbit = _about_vertical_axis(self.orbit_centre, self.orbit_rate * t)
            return dataclasses.replace(camera, world_to_camera=camera.world_to_camera @ np.linalg.inv(orbit))
        return dataclasses.replace(camera, world_to_camera=np.linalg.inv(self.camera_to_world(camera, t)[0]))

    def at(self, spec: SceneSpec, t: float) -> SceneSpec:
        """The sampled scene at time ``t`` (objects and camera moved, all else kept)."""
        objects = tuple(dataclasses.replace(obj, pose=self.object_pose(obj.instance_id, obj.pose, t))
                        if obj.is_instance and obj.instance_id in self.paths else obj for obj in spec.objects)
        return dataclasses.replace(spec, objects=objects, camera=self.camera(spec.camera, t))

    def motions(self, spec: SceneSpec, t0: float, t1: float) -> dict[int, np.ndarray]:
        """Instance id -> (4, 4) world rigid motion from ``t0`` to ``t1`` (for optical flow)."""
        result = {}
        for obj in spec.instances:
            if obj.instance_id in self.paths:
                start = self.object_pose(obj.instance_id, obj.pose, t0)
                result[obj.instance_id] = self.object_pose(obj.instance_id, obj.pose, t1) @ np.linalg.inv(start)
        return result


class MotionModel:
    """Base of motion models: per-object paths plus the camera orbit."""

    moving_fraction: float
    camera_orbit_deg: tuple[float, float]

    def _path(self, rng: np.random.Generator, duration: float, obj):  # pragma: no cover - abstract
        raise NotImplementedError

    def draw(self, spec: SceneSpec, rng: np.random.Generator, duration: float) -> Trajectory:
        """A trajectory for the clip that starts with ``spec`` and lasts ``duration`` seconds."""
        paths = {}
        for obj in spec.instances:
            moves = rng.random() < self.moving_fraction
            path = self._path(rng, duration, obj)  # drawn either way: a fraction change keeps other draws
            if moves and obj.role != "parked":
                paths[obj.instance_id] = path
        orbit = np.deg2rad(rng.uniform(*self.camera_orbit_deg)) * rng.choice([-1.0, 1.0])
        return Trajectory(paths, float(orbit), _look_target(spec.camera), self._ego_velocity(rng))

    def _ego_velocity(self, rng: np.random.Generator) -> np.ndarray:
        return np.zeros(3)


class ConstantVelocity(MotionModel):
    """Objects glide and turn at constant rates; the camera orbits its target.

    Args:
        speed: [min, max] object speed in m/s, drawn per object; direction uniform in the ground plane.
        yaw_rate_deg: [min, max] object turn rate in degrees/s.
        moving_fraction: Share of labeled objects that move (the rest stay put).
        camera_orbit_deg: [min, max] camera orbit rate in degrees/s (sign drawn too: either way round).
        pass_at: ``start``: objects start at their sampled poses; ``middle``: they pass
            them mid-clip, so fast objects enter the view, cross it and leave.
    """

    def __init__(self, speed: Sequence[float] = (0.0, 0.1), yaw_rate_deg: Sequence[float] = (-45.0, 45.0),
                 moving_fraction: float = 1.0, camera_orbit_deg: Sequence[float] = (0.0, 10.0),
                 pass_at: str = "start"):
        self.speed = check_range_pair("speed", speed, minimum=0.0, maximum=50.0)
        self.yaw_rate_deg = check_range_pair("yaw_rate_deg", yaw_rate_deg, minimum=-720.0, maximum=720.0)
        self.moving_fraction = check_number("moving_fraction", moving_fraction, minimum=0.0, maximum=1.0)
        self.camera_orbit_deg = check_range_pair("camera_orbit_deg", camera_orbit_deg, minimum=0.0, maximum=360.0)
        self.pass_at = check_choice("pass_at", pass_at, ["start", "middle"])

    def _path(self, rng: np.random.Generator, duration: float, obj) -> LinearPath:
        speed, heading = rng.uniform(*self.speed), rng.uniform(0.0, 2 * np.pi)
        yaw_rate = np.deg2rad(rng.uniform(*self.yaw_rate_deg))
        velocity = speed * np.array([np.cos(heading), np.sin(heading), 0.0])
        return LinearPath(velocity, float(yaw_rate), duration / 2 if self.pass_at == "middle" else 0.0)


class SplineKeyframes(MotionModel):
    """Objects follow smooth curves through random keyframes; the camera orbits its target.

    Keyframes are evenly spaced over the clip; each lies ``step`` metres (drawn) from the
    previous one in a uniform ground-plane direction and turns ``turn_deg`` (drawn) further.

    Args:
        keyframes: Keyframes per object, including the start (>= 2).
        step: [min, max] metres between consecutive keyframes.
        turn_deg: [min, max] turn in degrees between consecutive keyframes.
        moving_fraction: Share of labeled objects that move.
        camera_orbit_deg: [min, max] camera orbit rate in degrees/s (sign drawn too).
    """

    def __init__(self, keyframes: int = 4, step: Sequence[float] = (0.02, 0.08),
                 turn_deg: Sequence[float] = (-45.0, 45.0), moving_fraction: float = 1.0,
                 camera_orbit_deg: Sequence[float] = (0.0, 10.0)):
        self.keyframes = check_number("keyframes", keyframes, minimum=2, maximum=100, integer=True)
        self.step = check_range_pair("step", step, minimum=0.0, maximum=100.0)
        self.turn_deg = check_range_pair("turn_deg", turn_deg, minimum=-360.0, maximum=360.0)
        self.moving_fraction = check_number("moving_fraction", moving_fraction, minimum=0.0, maximum=1.0)
        self.camera_orbit_deg = check_range_pair("camera_orbit_deg", camera_orbit_deg, minimum=0.0, maximum=360.0)

    def _path(self, rng: np.random.Generator, duration: float, obj) -> SplinePath:
        count = self.keyframes
        headings = rng.uniform(0.0, 2 * np.pi, count - 1)
        steps = rng.uniform(*self.step, count - 1)[:, None] * np.stack(
            [np.cos(headings), np.sin(headings), np.zeros(count - 1)], axis=1)
        offsets = np.vstack([np.zeros(3), np.cumsum(steps, axis=0)])
        yaws = np.concatenate([[0.0], np.cumsum(np.deg2rad(rng.uniform(*self.turn_deg, count - 1)))])
        times = np.linspace(0.0, max(duration, 1e-3), count)
        return SplinePath(times, offsets, yaws)


class Driving(MotionModel):
    """The camera rig drives forward along the world's +x (a road), vehicles along their headings.

    Objects of role ``parked`` stay; the rest drive straight ahead along their own x axis
    at a speed drawn per object. The rig (camera and any LiDAR on it) drives at a speed
    drawn per clip, so a sequence of sweeps is a real odometry problem.

    Args:
        ego_speed: [min, max] rig speed in m/s along +x.
        speed: [min, max] vehicle speed in m/s along its heading.
        moving_fraction: Share of (non-parked) labeled objects that drive.
    """

    camera_orbit_deg = (0.0, 0.0)

    def __init__(self, ego_speed: Sequence[float] = (8.0, 14.0), speed: Sequence[float] = (5.0, 15.0),
                 moving_fraction: float = 1.0):
        self.ego_speed = check_range_pair("ego_speed", ego_speed, minimum=0.0, maximum=100.0)
        self.speed = check_range_pair("speed", speed, minimum=0.0, maximum=100.0)
        self.moving_fraction = check_number("moving_fraction", moving_fraction, minimum=0.0, maximum=1.0)

    def _path(self, rng: np.random.Generator, duration: float, obj) -> LinearPath:
        heading = obj.pose[:3, 0] * [1.0, 1.0, 0.0]
        heading /= max(float(np.linalg.norm(heading)), 1e-12)
        return LinearPath(rng.uniform(*self.speed) * heading, 0.0)

    def _ego_velocity(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([rng.uniform(*self.ego_speed), 0.0, 0.0])
