"""A LiDAR's scan pattern, backend-free: which rays a sweep casts, and when.

Frames: the sensor frame is KITTI's Velodyne frame (x forward, y left, z up, metres). A
spinning sensor's beam ``r`` (ring) points at elevation ``elevations_deg[r]`` above the
horizontal plane; column ``c`` of a sweep is fired at azimuth
``start_azimuth_deg - 360 * c / columns`` (clockwise seen from above, as a Velodyne turns)
and at time ``c / (columns * rotation_hz)`` seconds after the sweep starts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthgen.core.errors import ConfigError

__all__ = ["LIDAR_PRESETS", "LidarPattern"]


def _uniform(low: float, high: float, beams: int) -> tuple[float, ...]:
    return tuple(float(x) for x in np.linspace(low, high, beams))


# Beam elevations (degrees, bottom to top) shaped like common sensors' published layouts.
LIDAR_PRESETS: dict[str, dict] = {
    "vlp16": {"elevations_deg": _uniform(-15.0, 15.0, 16), "columns": 1800, "max_range_m": 100.0},
    "hdl32": {"elevations_deg": _uniform(-30.67, 10.67, 32), "columns": 2048, "max_range_m": 100.0},
    "hdl64": {"elevations_deg": _uniform(-24.9, 2.0, 64), "columns": 2048, "max_range_m": 120.0},
    "os128": {"elevations_deg": _uniform(-22.5, 22.5, 128), "columns": 2048, "max_range_m": 200.0},
}


@dataclass(frozen=True)
class LidarPattern:
    """The rays of one sweep of a spinning multi-beam LiDAR.

    Attributes:
        elevations_deg: Each beam's (ring's) elevation above the horizontal, degrees.
        columns: Firings per revolution (horizontal resolution: ``360 / columns`` degrees).
        min_range_m: Returns closer than this are dropped (metres).
        max_range_m: Returns farther than this are dropped (metres).
        rotation_hz: Revolutions per second: a sweep lasts ``1 / rotation_hz`` seconds.
        start_azimuth_deg: Azimuth of column 0 (0: straight ahead, +x).
    """

    elevations_deg: tuple[float, ...]
    columns: int = 2048
    min_range_m: float = 0.5
    max_range_m: float = 100.0
    rotation_hz: float = 10.0
    start_azimuth_deg: float = 180.0

    def __post_init__(self):
        elevations = np.asarray(self.elevations_deg, dtype=np.float64)
        if elevations.ndim != 1 or elevations.size == 0:
            raise ConfigError("lidar.elevations_deg: give at least one beam elevation in degrees, e.g. [-15, 0, 15]")
        if not np.all(np.isfinite(elevations)) or np.any(np.abs(elevations) >= 90):
            raise ConfigError("lidar.elevations_deg: each must be finite and within (-90, 90) degrees, "
                              f"got {self.elevations_deg}")
        if not isinstance(self.columns, (int, np.integer)) or self.columns < 1:
            raise ConfigError(f"lidar.columns: must be an integer >= 1, got {self.columns!r}")
        if not 0 <= self.min_range_m < self.max_range_m:
            raise ConfigError(f"lidar.min_range_m/max_range_m: need 0 <= min < max, got {self.min_range_m} and "
                              f"{self.max_range_m}")
        if not self.rotation_hz > 0:
            raise ConfigError(f"lidar.rotation_hz: must be > 0, got {self.rotation_hz}")

    @classmethod
    def preset(cls, name: str, **changes) -> LidarPattern:
        """A pattern shaped like a common sensor (``LIDAR_PRESETS``), with fields changed by keyword.

        Raises:
            ConfigError: Unknown preset (the message lists them).
        """
        if name not in LIDAR_PRESETS:
            raise ConfigError(f"lidar.preset: must be one of {sorted(LIDAR_PRESETS)}, got {name!r}")
        return cls(**{**LIDAR_PRESETS[name], **changes})

    @property
    def rings(self) -> int:
        return len(self.elevations_deg)

    def azimuths_deg(self) -> np.ndarray:
        """(columns,) float64 azimuth of each column, degrees (counter-clockwise from +x)."""
        return self.start_azimuth_deg - 360.0 * np.arange(self.columns) / self.columns

    def time_offsets_s(self) -> np.ndarray:
        """(columns,) float64 seconds from the sweep's start at which each column fires."""
        return np.arange(self.columns) / (self.columns * self.rotation_hz)

    def directions(self) -> np.ndarray:
        """(rings, columns, 3) float64 unit ray directions in the sensor frame."""
        elevation = np.radians(np.asarray(self.elevations_deg, dtype=np.float64))[:, None]
        azimuth = np.radians(self.azimuths_deg())[None, :]
        return np.stack([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth),
                         np.broadcast_to(np.sin(elevation), (self.rings, self.columns))], axis=-1)
