"""LiDAR groundwork (issue 29): the scan pattern and exact returns against known geometry."""

import numpy as np
import pytest

from synthgen.core import MeshGeometry, SceneObject
from synthgen.core.errors import ConfigError
from synthgen.core.lidar import LIDAR_PRESETS, LidarPattern
from synthgen.render.lidar_raycast import cast_sweep


def _plane(size: float, z: float, instance_id: int = 0) -> SceneObject:
    h = size / 2
    vertices = np.array([[-h, -h, 0], [h, -h, 0], [h, h, 0], [-h, h, 0]], float)
    pose = np.eye(4)
    pose[2, 3] = z
    return SceneObject(MeshGeometry(vertices, np.array([[0, 1, 2], [0, 2, 3]])), pose, instance_id=instance_id)


def _box(center, edge: float, instance_id: int, category_id: int = 1) -> SceneObject:
    import trimesh

    box = trimesh.creation.box((edge, edge, edge))
    pose = np.eye(4)
    pose[:3, 3] = center
    return SceneObject(MeshGeometry(np.asarray(box.vertices), np.asarray(box.faces)), pose,
                       instance_id=instance_id, category_id=category_id)


def test_pattern_rays_and_times():
    pattern = LidarPattern((-10.0, 0.0, 10.0), columns=8, rotation_hz=10.0, start_azimuth_deg=0.0)
    directions = pattern.directions()
    assert directions.shape == (3, 8, 3) and np.allclose(np.linalg.norm(directions, axis=-1), 1)
    assert np.allclose(directions[1, 0], [1, 0, 0]) and np.allclose(directions[1, 2], [0, -1, 0])  # clockwise
    assert np.allclose(np.degrees(np.arcsin(directions[:, 0, 2])), [-10, 0, 10])
    assert np.allclose(pattern.time_offsets_s(), np.arange(8) / 80)
    assert LidarPattern.preset("hdl64").rings == 64 and set(LIDAR_PRESETS) >= {"vlp16", "hdl32", "hdl64", "os128"}


@pytest.mark.parametrize("changes, key", [({"elevations_deg": ()}, "lidar.elevations_deg"),
                                          ({"min_range_m": 5.0, "max_range_m": 5.0}, "lidar.min_range_m"),
                                          ({"columns": 0}, "lidar.columns"), ({"rotation_hz": 0}, "lidar.rotation_hz")])
def test_bad_patterns_name_the_key(changes, key):
    with pytest.raises(ConfigError, match=key):
        LidarPattern(**{"elevations_deg": (0.0,), **changes})
    with pytest.raises(ConfigError, match="lidar.preset"):
        LidarPattern.preset("hdl65")


def test_a_ground_plane_gives_the_analytic_ranges():
    """A sensor 1.7 m above a plane: a beam at elevation -e meets it at 1.7 / sin(e) metres."""
    pattern = LidarPattern((-30.0, -15.0, -5.0, 5.0), columns=90, max_range_m=100.0)
    sensor = np.eye(4)
    sensor[2, 3] = 1.7
    returns = cast_sweep((_plane(200.0, 0.0),), sensor, pattern)
    assert set(returns.rings) == {0, 1, 2} and len(returns.ranges) == 3 * 90  # the upward beam hits nothing
    expected = 1.7 / np.sin(np.radians([30.0, 15.0, 5.0]))
    assert np.allclose(returns.ranges, expected[returns.rings], atol=1e-9)
    assert np.allclose(returns.points[:, 2], -1.7, atol=1e-9)  # on the surface, in the sensor frame
    assert np.allclose(returns.incidence_cos, np.sin(np.radians([30.0, 15.0, 5.0]))[returns.rings])
    short = cast_sweep((_plane(200.0, 0.0),), sensor, LidarPattern((-5.0,), columns=90, max_range_m=15.0))
    assert len(short.ranges) == 0  # 19.5 m is beyond max range


def test_a_box_in_front_hides_the_wall_and_owns_its_points():
    pattern = LidarPattern(tuple(np.linspace(-4, 4, 9)), columns=360, start_azimuth_deg=0.0, max_range_m=50.0)
    wall = _plane(40.0, 0.0)
    wall.pose[:3, :3] = [[0, 0, -1], [0, 1, 0], [1, 0, 0]]  # the plane turned to face the sensor, 20 m ahead
    wall.pose[:3, 3] = [20.0, 0.0, 0.0]
    box = _box((5.0, 0.0, 0.0), 1.0, instance_id=7, category_id=3)
    returns = cast_sweep((wall, box), np.eye(4), pattern)
    on_box = returns.instance_ids == 7
    assert on_box.any() and np.all(returns.category_ids[on_box] == 3)
    assert np.allclose(returns.points[on_box, 0], 4.5, atol=1e-9)  # the box's near face
    assert np.allclose(returns.points[~on_box, 0], 20.0, atol=1e-9)  # the wall, where the box does not hide it
    # a box 1 m wide at 4.5 m spans 2 * atan(0.5 / 4.5) = 12.7 degrees: 12 or 13 one-degree columns per ring
    per_ring = np.bincount(returns.rings[on_box], minlength=9)
    assert set(per_ring[per_ring > 0]) <= {12, 13}
