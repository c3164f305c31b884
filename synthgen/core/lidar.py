"""A LiDAR, backend-free: its scan pattern (which rays a sweep casts, and when), its mount on the
camera rig, and its sensor model (which exact returns it reports, with what noise and intensity).

Frames: the sensor frame is KITTI's Velodyne frame (x forward, y left, z up, metres). A
spinning sensor's beam ``r`` (ring) points at elevation ``elevations_deg[r]`` above the
horizontal plane; column ``c`` of a sweep is fired at azimuth
``start_azimuth_deg - azimuth_fov_deg * c / columns`` (clockwise seen from above, as a
Velodyne turns) and at time ``c / (columns * rotation_hz)`` seconds after the sweep starts.
A sweep is centred on its frame's time: the camera's image is taken when a spinning sensor
with ``start_azimuth_deg = 180`` faces forward, as KITTI triggers its cameras.

Sensor model (``LidarSensor.measure``), per exact return at range ``r`` on a surface of
reflectivity ``rho`` (the linear luminance of its colour and texture) hit at incidence
``theta``:

* intensity ``= clip(rho * cos(theta), 0, 1)`` (a Lambertian target, range-compensated as
  sensors report it);
* no return when ``theta > grazing_limit_deg``, when
  ``rho * cos(theta) * (max_range_m / r) ** 2 < min_reflectivity`` (a dark or grazing
  surface too far for the received power), outside ``[min_range_m, max_range_m]``, for a
  dead beam (``beam_dropout``, drawn per sweep and ring) or a lost ray (``dropout``);
* the range gets Gaussian noise of ``range_noise_m`` along the ray.

Every draw comes from the sample's LiDAR generator (``synthgen.core.streams.LIDAR_STREAM``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_number, check_vector

__all__ = [
    "LIDAR_PRESETS",
    "SURFACE_CLASSES",
    "SURFACE_CLASS_BASE",
    "LidarPattern",
    "LidarSensor",
    "Measurement",
    "PatternRays",
    "SolidStatePattern",
    "surface_class_id",
]

# Classes of unlabeled surfaces (``SceneObject.surface``) in per-point labels: ids from
# SURFACE_CLASS_BASE on, clear of any category id a scene declares.
SURFACE_CLASSES = ("road", "sidewalk", "terrain", "building", "pole", "traffic_sign", "vegetation", "other", "trunk")
SURFACE_CLASS_BASE = 1000


def surface_class_id(surface: str) -> int:
    """The per-point class id of an unlabeled surface kind (0 for ``""``: unknown)."""
    if not surface:
        return 0
    if surface not in SURFACE_CLASSES:
        raise ValueError(f"surface must be one of {SURFACE_CLASSES}, got {surface!r}")
    return SURFACE_CLASS_BASE + SURFACE_CLASSES.index(surface)


def _uniform(low: float, high: float, beams: int) -> tuple[float, ...]:
    return tuple(float(x) for x in np.linspace(low, high, beams))


@dataclass(frozen=True)
class PatternRays:
    """The rays of one sweep in the sensor frame, in firing order.

    Attributes:
        directions: (M, 3) float64 unit directions.
        rings: (M,) int32 beam (row) of each ray.
        columns: (M,) int32 firing (column) of each ray: rays of one column fire together.
        times_s: (M,) float64 seconds from the sweep's start.
        column_times_s: (C,) float64 seconds from the sweep's start of each column.
    """

    directions: np.ndarray
    rings: np.ndarray
    columns: np.ndarray
    times_s: np.ndarray
    column_times_s: np.ndarray


@dataclass(frozen=True)
class LidarPattern:
    """The rays of one sweep of a spinning multi-beam LiDAR (or a scanned grid, ``azimuth_fov_deg < 360``).

    Attributes:
        elevations_deg: Each beam's (ring's) elevation above the horizontal, degrees.
        columns: Firings per sweep (horizontal resolution: ``azimuth_fov_deg / columns`` degrees).
        rotation_hz: Sweeps per second: a sweep lasts ``1 / rotation_hz`` seconds.
        start_azimuth_deg: Azimuth of column 0 (0: straight ahead, +x).
        azimuth_fov_deg: Azimuth covered by a sweep (360: a full turn).
    """

    elevations_deg: tuple[float, ...]
    columns: int = 2048
    rotation_hz: float = 10.0
    start_azimuth_deg: float = 180.0
    azimuth_fov_deg: float = 360.0

    def __post_init__(self):
        elevations = np.asarray(self.elevations_deg, dtype=np.float64)
        if elevations.ndim != 1 or elevations.size == 0:
            raise ConfigError("lidar.elevations_deg: give at least one beam elevation in degrees, e.g. [-15, 0, 15]")
        if not np.all(np.isfinite(elevations)) or np.any(np.abs(elevations) >= 90):
            raise ConfigError("lidar.elevations_deg: each must be finite and within (-90, 90) degrees, "
                              f"got {self.elevations_deg}")
        object.__setattr__(self, "elevations_deg", tuple(float(e) for e in elevations))
        check_number("lidar.columns", self.columns, minimum=1, integer=True)
        check_number("lidar.rotation_hz", self.rotation_hz, minimum=0.0, exclusive_minimum=True)
        check_number("lidar.start_azimuth_deg", self.start_azimuth_deg)
        check_number("lidar.azimuth_fov_deg", self.azimuth_fov_deg, minimum=0.0, maximum=360.0, exclusive_minimum=True)

    @property
    def rings(self) -> int:
        return len(self.elevations_deg)

    @property
    def duration_s(self) -> float:
        return 1.0 / self.rotation_hz

    def azimuths_deg(self) -> np.ndarray:
        """(columns,) float64 azimuth of each column, degrees (counter-clockwise from +x)."""
        return self.start_azimuth_deg - self.azimuth_fov_deg * np.arange(self.columns) / self.columns

    def time_offsets_s(self) -> np.ndarray:
        """(columns,) float64 seconds from the sweep's start at which each column fires."""
        return np.arange(self.columns) / (self.columns * self.rotation_hz)

    def directions(self) -> np.ndarray:
        """(rings, columns, 3) float64 unit ray directions in the sensor frame."""
        elevation = np.radians(np.asarray(self.elevations_deg, dtype=np.float64))[:, None]
        azimuth = np.radians(self.azimuths_deg())[None, :]
        return np.stack([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth),
                         np.broadcast_to(np.sin(elevation), (self.rings, self.columns))], axis=-1)

    def rays(self, sweep: int = 0) -> PatternRays:
        """The sweep's rays, ring-major (every sweep of a spinning sensor casts the same rays: built
        once per pattern and shared, read-only)."""
        return _spinning_rays(self)


@functools.lru_cache(maxsize=8)
def _spinning_rays(pattern: LidarPattern) -> PatternRays:
    rings, columns = np.divmod(np.arange(pattern.rings * pattern.columns), pattern.columns)
    times = pattern.time_offsets_s()
    rays = PatternRays(pattern.directions().reshape(-1, 3), rings.astype(np.int32), columns.astype(np.int32),
                       times[columns], times)
    for array in (rays.directions, rays.rings, rays.columns, rays.times_s, rays.column_times_s):
        array.flags.writeable = False
    return rays


@dataclass(frozen=True)
class SolidStatePattern:
    """A solid-state LiDAR's non-repetitive rosette (two Risley prisms turning at an irrational
    speed ratio, as Livox sensors scan): each sweep covers new directions of the field of view.

    Point ``g`` of the sensor's life (``g = sweep * points + j``) fires at ``tau = g / (points * rate_hz)``
    seconds towards the angular offset ``(fov / 4) * (exp(i w1 tau) + exp(-i w2 tau))`` from +x
    (horizontal, vertical), ``w1 / w2`` the golden ratio: one column per point.

    Attributes:
        fov_deg: [horizontal, vertical] full field of view, degrees.
        points: Points per sweep.
        rate_hz: Sweeps per second.
        prism_hz: Turn rate of the faster prism (revolutions per second).
    """

    fov_deg: tuple[float, float] = (70.4, 77.2)
    points: int = 24000
    rate_hz: float = 10.0
    prism_hz: float = 173.0

    def __post_init__(self):
        fov = np.asarray(self.fov_deg, dtype=np.float64)
        if fov.shape != (2,) or not np.all((fov > 0) & (fov < 180)):
            raise ConfigError(f"lidar.fov_deg: must be [horizontal, vertical] in (0, 180) degrees, got {self.fov_deg}")
        object.__setattr__(self, "fov_deg", (float(fov[0]), float(fov[1])))
        check_number("lidar.points", self.points, minimum=1, integer=True)
        check_number("lidar.rotation_hz", self.rate_hz, minimum=0.0, exclusive_minimum=True)  # the config's name
        check_number("lidar.prism_hz", self.prism_hz, minimum=0.0, exclusive_minimum=True)

    @property
    def rings(self) -> int:
        return 1

    @property
    def duration_s(self) -> float:
        return 1.0 / self.rate_hz

    def rays(self, sweep: int = 0) -> PatternRays:
        """The sweep's rays in firing order (one ring; column j is point j)."""
        local = np.arange(self.points)
        tau = (sweep * self.points + local) / (self.points * self.rate_hz)
        w1 = 2 * np.pi * self.prism_hz
        w2 = w1 / ((1 + np.sqrt(5)) / 2)
        offset = 0.25 * (np.exp(1j * w1 * tau) + np.exp(-1j * w2 * tau))
        azimuth = np.radians(self.fov_deg[0]) * offset.real
        elevation = np.radians(self.fov_deg[1]) * offset.imag
        directions = np.stack([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth),
                               np.sin(elevation)], axis=-1)
        times = local / (self.points * self.rate_hz)
        return PatternRays(directions, np.zeros(self.points, np.int32), local.astype(np.int32), times, times)


# Patterns shaped like common sensors' published layouts (beam elevations bottom to top),
# with their maximum ranges.
LIDAR_PRESETS: dict[str, tuple[type, dict, float]] = {
    "vlp16": (LidarPattern, {"elevations_deg": _uniform(-15.0, 15.0, 16), "columns": 1800}, 100.0),
    "hdl32": (LidarPattern, {"elevations_deg": _uniform(-30.67, 10.67, 32), "columns": 2048}, 100.0),
    "hdl64": (LidarPattern, {"elevations_deg": _uniform(-24.9, 2.0, 64), "columns": 2048}, 120.0),
    "os128": (LidarPattern, {"elevations_deg": _uniform(-22.5, 22.5, 128), "columns": 2048}, 200.0),
    "solid_state": (SolidStatePattern, {}, 260.0),
    # A structured-light-like depth sensor for bins: a 64 x 80 grid over 45 x 58 degrees,
    # scanned in 1/30 s, looking along the camera's axis.
    "structured_light": (LidarPattern, {"elevations_deg": _uniform(-22.5, 22.5, 64), "columns": 80,
                                        "rotation_hz": 30.0, "start_azimuth_deg": 29.0,
                                        "azimuth_fov_deg": 58.0}, 3.0),
}

# Camera rig axes (x forward, y left, z up) in the OpenCV camera frame (x right, y down, z forward).
_RIG_TO_CAMERA = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])


def _rotation_rpy(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """(3, 3) rotation ``Rz(yaw) @ Ry(pitch) @ Rx(roll)`` (radians)."""
    cr, sr, cp, sp, cy, sy = np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw)
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    return rz @ ry @ rx



@dataclass(frozen=True)
class Measurement:
    """Which exact returns a sensor reports, and what it reports for them.

    Attributes:
        keep: (M,) bool returns reported (within range, detectable, not dropped).
        ranges: (M,) float64 measured ranges (noise added), metres.
        intensity: (M,) float32 reported intensity in [0, 1].
    """

    keep: np.ndarray
    ranges: np.ndarray
    intensity: np.ndarray


class LidarSensor:
    """A LiDAR mounted on the camera rig: its pattern, ranges, mount and sensor model.

    The constructor is the ``lidar`` config node (conf/lidar/). Add it to any scene with
    ``synthgen generate lidar=hdl64`` (or another preset); ``SceneSpec.lidar`` carries it.

    Args:
        preset: A pattern shaped like a common sensor (``LIDAR_PRESETS``: vlp16, hdl32, hdl64,
            os128, solid_state, structured_light), or None to give ``elevations_deg``.
        elevations_deg: Beam elevations in degrees (a list), replacing the preset's; or
            ``[low, high]`` with ``beams`` for evenly spaced beams.
        beams: Number of evenly spaced beams between ``elevations_deg = [low, high]``.
        columns: Firings per sweep (spinning), replacing the preset's.
        rotation_hz: Sweeps per second, replacing the preset's.
        start_azimuth_deg: Azimuth of a spinning sweep's first column (180: it starts facing
            backwards and faces forward mid-sweep, when the camera takes its image).
        points: Points per sweep (solid_state), replacing the preset's.
        min_range_m: Returns closer than this are not reported (metres).
        max_range_m: Returns farther are not reported (metres); None: the preset's.
        offset_m: [forward, left, up] of the sensor's origin from the camera's centre, metres
            (KITTI's roof Velodyne: 0.27 m behind and 0.08 m above the camera).
        rotation_deg: [roll, pitch, yaw] of the sensor relative to the rig, degrees.
        level: The rig is level (a roof LiDAR: x along the camera's heading, z up in the
            world), so the camera's pitch and roll do not tilt the sensor; False: the rig is
            the camera's own axes (x along the optical axis, y left, z up in the image: a depth
            sensor beside the lens).
        range_noise_m: Standard deviation of Gaussian range noise, metres.
        dropout: Probability that a ray returns nothing.
        beam_dropout: Probability that a beam (ring) is dead for a whole sweep.
        min_reflectivity: Detection threshold of ``rho * cos(theta) * (max_range_m / r)^2``.
        grazing_limit_deg: No return at incidence angles above this, degrees.
    """

    def __init__(self, preset: str | None = "hdl64", elevations_deg=None, beams: int | None = None,
                 columns: int | None = None, rotation_hz: float | None = None, start_azimuth_deg: float | None = None,
                 points: int | None = None, min_range_m: float = 0.5, max_range_m: float | None = None,
                 offset_m=(-0.27, 0.0, 0.08), rotation_deg=(0.0, 0.0, 0.0), level: bool = True,
                 range_noise_m: float = 0.02,
                 dropout: float = 0.0, beam_dropout: float = 0.0, min_reflectivity: float = 0.02,
                 grazing_limit_deg: float = 87.0):
        self.pattern, preset_range = self._pattern(preset, elevations_deg, beams, columns, rotation_hz,
                                                   start_azimuth_deg, points)
        self.min_range_m = float(check_number("lidar.min_range_m", min_range_m, minimum=0.0))
        self.max_range_m = float(check_number("lidar.max_range_m", preset_range if max_range_m is None else max_range_m,
                                              minimum=0.0))
        if not 0 <= self.min_range_m < self.max_range_m:
            raise ConfigError(f"lidar.min_range_m/max_range_m: need 0 <= min < max, got {min_range_m} and "
                              f"{self.max_range_m}")
        offset = np.array(check_vector("lidar.offset_m", offset_m, 3, minimum=-1000.0, maximum=1000.0))
        rotation = np.radians(check_vector("lidar.rotation_deg", rotation_deg, 3, minimum=-360.0, maximum=360.0))
        self.lidar_to_rig = np.eye(4)
        self.lidar_to_rig[:3, :3] = _rotation_rpy(*rotation)
        self.lidar_to_rig[:3, 3] = offset
        if not isinstance(level, bool):
            raise ConfigError(f"lidar.level: must be true or false, got {level!r}")
        self.level = level
        self.range_noise_m = float(check_number("lidar.range_noise_m", range_noise_m, minimum=0.0))
        self.dropout = float(check_number("lidar.dropout", dropout, minimum=0.0, maximum=1.0))
        self.beam_dropout = float(check_number("lidar.beam_dropout", beam_dropout, minimum=0.0, maximum=1.0))
        self.min_reflectivity = float(check_number("lidar.min_reflectivity", min_reflectivity, minimum=0.0))
        self.grazing_limit_deg = float(check_number("lidar.grazing_limit_deg", grazing_limit_deg, minimum=0.0,
                                                    maximum=90.0, exclusive_minimum=True))

    @staticmethod
    def _pattern(preset, elevations_deg, beams, columns, rotation_hz, start_azimuth_deg, points):
        if preset is None:
            kind, base, max_range = LidarPattern, {"elevations_deg": ()}, 100.0
        elif preset not in LIDAR_PRESETS:
            raise ConfigError(f"lidar.preset: must be one of {sorted(LIDAR_PRESETS)} or null, got {preset!r}")
        else:
            kind, base, max_range = LIDAR_PRESETS[preset]
        if elevations_deg is not None:
            values = check_vector("lidar.elevations_deg", elevations_deg, len(elevations_deg)) if isinstance(
                elevations_deg, Sequence) and not isinstance(elevations_deg, str) else []
            if beams is not None:
                check_number("lidar.beams", beams, minimum=1, integer=True)
                if len(values) != 2:
                    raise ConfigError(f"lidar.beams: with beams, elevations_deg must be [low, high], got {elevations_deg!r}")
                values = list(_uniform(values[0], values[1], beams))
            base = {**base, "elevations_deg": tuple(values)}
        changes = {"columns": columns, "rotation_hz": rotation_hz, "start_azimuth_deg": start_azimuth_deg}
        if kind is SolidStatePattern:
            spinning_only = {"columns": columns, "start_azimuth_deg": start_azimuth_deg, "elevations_deg": elevations_deg}
            given = sorted(key for key, value in spinning_only.items() if value is not None)
            if given:
                raise ConfigError(f"lidar.{given[0]}: a solid_state pattern has no beams, columns or start azimuth; "
                                  "set points or rotation_hz")
            changes = {"points": points, "rate_hz": rotation_hz}
        elif points is not None:
            raise ConfigError("lidar.points: only a solid_state pattern takes points; set columns for a spinning one")
        return kind(**{**base, **{k: v for k, v in changes.items() if v is not None}}), max_range

    def lidar_to_camera(self, world_to_camera: np.ndarray) -> np.ndarray:
        """(4, 4) float64 LiDAR -> OpenCV camera frame for a camera at ``world_to_camera`` (4, 4)."""
        rig_to_camera = np.eye(4)
        rig_to_camera[:3, :3] = _RIG_TO_CAMERA
        if self.level:
            camera_to_world = world_to_camera[:3, :3].T
            forward = camera_to_world[:, 2] * [1.0, 1.0, 0.0]
            if np.linalg.norm(forward) < 1e-6:  # looking straight down or up: the image's up is the heading
                forward = -camera_to_world[:, 1] * [1.0, 1.0, 0.0]
            forward /= np.linalg.norm(forward)
            up = np.array([0.0, 0.0, 1.0])
            rig_to_world = np.column_stack([forward, np.cross(up, forward), up])
            rig_to_camera[:3, :3] = world_to_camera[:3, :3] @ rig_to_world
        return rig_to_camera @ self.lidar_to_rig

    def measure(self, ranges: np.ndarray, incidence_cos: np.ndarray, reflectivity: np.ndarray, rings: np.ndarray,
                rng: np.random.Generator) -> Measurement:
        """Apply the sensor model to a sweep's exact first returns (one per ray that hit).

        Args:
            ranges: (M,) float64 exact ranges, metres.
            incidence_cos: (M,) float64 |cosine| of the angle between ray and surface normal.
            reflectivity: (M,) float64 surface reflectivity in [0, 1].
            rings: (M,) int beam of each return.
            rng: The sample's LiDAR generator (every draw is made, kept or not, so one
                setting never shifts another's draws).

        Returns:
            What the sensor reports.
        """
        dead_beams = rng.random(self.pattern.rings) < self.beam_dropout
        lost = rng.random(len(ranges)) < self.dropout
        noise = rng.standard_normal(len(ranges)) * self.range_noise_m
        signal = reflectivity * incidence_cos
        with np.errstate(divide="ignore"):
            power = signal * (self.max_range_m / np.maximum(ranges, 1e-9)) ** 2
        grazing = incidence_cos < np.cos(np.radians(self.grazing_limit_deg))
        measured = ranges + noise
        keep = (~dead_beams[rings] & ~lost & ~grazing & (power >= self.min_reflectivity)
                & (measured >= self.min_range_m) & (measured <= self.max_range_m))
        return Measurement(keep, measured, np.clip(signal, 0.0, 1.0).astype(np.float32))
