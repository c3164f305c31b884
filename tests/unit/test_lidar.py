"""LiDAR: scan patterns, exact sweeps against known geometry, the sensor model, rolling shutter and boxes."""

import dataclasses

import numpy as np
import pytest
import trimesh

from synthgen.core import Camera, CategoryInfo, MeshGeometry, SceneObject, SceneSpec
from synthgen.core.errors import ConfigError
from synthgen.core.lidar import LIDAR_PRESETS, LidarPattern, LidarSensor, SolidStatePattern, surface_class_id
from synthgen.pipeline.lidar_sweep import lidar_sweep, points_in_box
from synthgen.pipeline.motion import LinearPath, Trajectory
from synthgen.pipeline.sequence import Clip, SequenceSettings

CATEGORIES = (CategoryInfo(1, "car"),)


def _camera(position, width: int = 64, height: int = 48) -> Camera:
    """A camera at ``position`` looking along world +x, image up = world +z."""
    rotation = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
    world_to_camera = np.eye(4)
    world_to_camera[:3, :3] = rotation
    world_to_camera[:3, 3] = -rotation @ np.asarray(position, float)
    return Camera(np.array([[50.0, 0, 32], [0, 50.0, 24], [0, 0, 1]]), world_to_camera, width, height)


def _mesh(mesh: trimesh.Trimesh) -> MeshGeometry:
    return MeshGeometry(np.asarray(mesh.vertices), np.asarray(mesh.faces))


def _ground(gray: float = 0.5, surface: str = "road") -> SceneObject:
    plane = trimesh.Trimesh([[-200, -200, 0], [200, -200, 0], [200, 200, 0], [-200, 200, 0]], [[0, 1, 2], [0, 2, 3]])
    return SceneObject(_mesh(plane), np.eye(4), color=np.array([gray, gray, gray, 1.0]), surface=surface)


def _wall(x: float) -> SceneObject:
    plane = trimesh.Trimesh([[x, -100, -100], [x, 100, -100], [x, 100, 100], [x, -100, 100]], [[0, 2, 1], [0, 3, 2]])
    return SceneObject(_mesh(plane), np.eye(4), surface="building")


def _cube(center, edge: float, instance_id: int, yaw: float = 0.0) -> SceneObject:
    pose = np.eye(4)
    pose[:3, :3] = trimesh.transformations.rotation_matrix(yaw, [0, 0, 1])[:3, :3]
    pose[:3, 3] = center
    return SceneObject(_mesh(trimesh.creation.box((edge, edge, edge))), pose, instance_id=instance_id, category_id=1)


def _sensor(**changes) -> LidarSensor:
    settings = dict(preset=None, elevations_deg=[-20.0, -10.0, -5.0], columns=720, offset_m=(0, 0, 0),
                    range_noise_m=0.0, min_reflectivity=0.0, grazing_limit_deg=90.0, max_range_m=150.0)
    return LidarSensor(**{**settings, **changes})


def _sweep(objects, sensor, position=(0.0, 0.0, 2.0), seed: int = 0):
    spec = SceneSpec(_camera(position), tuple(objects), categories=CATEGORIES, lidar=sensor)
    return lidar_sweep(spec, None, 0, np.random.default_rng(seed))


def _world(sweep, points) -> np.ndarray:
    return points.astype(np.float64) @ sweep.lidar_to_world[:3, :3].T + sweep.lidar_to_world[:3, 3]


def test_pattern_rays_and_times():
    pattern = LidarPattern((-10.0, 0.0, 10.0), columns=8, rotation_hz=10.0, start_azimuth_deg=0.0)
    directions = pattern.directions()
    assert directions.shape == (3, 8, 3) and np.allclose(np.linalg.norm(directions, axis=-1), 1)
    assert np.allclose(directions[1, 0], [1, 0, 0]) and np.allclose(directions[1, 2], [0, -1, 0])  # clockwise
    assert np.allclose(np.degrees(np.arcsin(directions[:, 0, 2])), [-10, 0, 10])
    assert np.allclose(pattern.time_offsets_s(), np.arange(8) / 80)
    rays = pattern.rays()
    assert np.array_equal(rays.rings, np.repeat(np.arange(3), 8)) and np.allclose(rays.times_s[8:16], np.arange(8) / 80)
    assert set(LIDAR_PRESETS) >= {"vlp16", "hdl32", "hdl64", "os128", "solid_state", "structured_light"}
    assert LidarSensor("hdl64").pattern.rings == 64 and LidarSensor("os128").max_range_m == 200.0
    assert LidarSensor(None, elevations_deg=[-10, 10], beams=5).pattern.elevations_deg == (-10, -5, 0, 5, 10)
    assert LidarSensor("solid_state", rotation_hz=20.0).pattern.rate_hz == 20.0


def test_solid_state_pattern_is_non_repetitive_and_inside_its_field_of_view():
    pattern = SolidStatePattern(fov_deg=(60.0, 40.0), points=5000)
    first, second = pattern.rays(0), pattern.rays(1)
    assert first.directions.shape == (5000, 3) and not np.allclose(first.directions, second.directions)
    azimuth = np.degrees(np.arctan2(first.directions[:, 1], first.directions[:, 0]))
    elevation = np.degrees(np.arcsin(first.directions[:, 2]))
    assert np.abs(azimuth).max() <= 30 + 1e-9 and np.abs(elevation).max() <= 20 + 1e-9
    assert np.abs(azimuth).max() > 20 and np.abs(elevation).max() > 12  # it does cover the field
    assert np.all(np.diff(first.times_s) > 0) and first.times_s[-1] < pattern.duration_s


@pytest.mark.parametrize("changes, key", [
    ({"preset": None}, "lidar.elevations_deg"),
    ({"preset": None, "elevations_deg": []}, "lidar.elevations_deg"),
    ({"preset": "hdl65"}, "lidar.preset"),
    ({"min_range_m": 5.0, "max_range_m": 5.0}, "lidar.min_range_m"),
    ({"columns": 0}, "lidar.columns"),
    ({"elevations_deg": [95.0]}, "lidar.elevations_deg"),
    ({"dropout": 1.5}, "lidar.dropout"),
    ({"offset_m": [0, 0]}, "lidar.offset_m"),
    ({"preset": "solid_state", "columns": 100}, "lidar.columns"),
    ({"points": 100}, "lidar.points"),
    ({"elevations_deg": [-10, 10], "beams": 0}, "lidar.beams"),
    ({"dropout": float("nan")}, "lidar.dropout"),
    ({"offset_m": ["up", 0, 0]}, "lidar.offset_m"),
    ({"elevations_deg": ["-10"]}, "lidar.elevations_deg"),
    ({"rotation_hz": "fast"}, "lidar.rotation_hz"),
    ({"grazing_limit_deg": 0}, "lidar.grazing_limit_deg"),
])
def test_bad_sensor_configs_name_the_key(changes, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        LidarSensor(**{"preset": "hdl64", **changes})


def test_ground_plane_gives_analytic_ranges_rings_counts_and_intensity():
    sweep = _sweep([_ground(gray=0.5)], _sensor())
    elevations = np.radians([-20.0, -10.0, -5.0])
    expected = 2.0 / np.sin(-elevations)
    ranges = np.linalg.norm(sweep.points, axis=1)
    assert np.allclose(ranges, expected[sweep.rings], atol=1e-6)
    assert np.allclose(sweep.points[:, 2], -2.0, atol=1e-5)
    assert np.bincount(sweep.rings).tolist() == [720, 720, 720]
    assert np.allclose(np.degrees(np.arcsin(sweep.points[:, 2] / ranges)), np.degrees(elevations)[sweep.rings], atol=1e-4)
    # intensity = rho * cos(incidence); a grey 0.5 plane seen at elevation e: 0.5 * sin(-e)
    assert np.allclose(sweep.intensity, 0.5 * np.sin(-elevations)[sweep.rings], atol=1e-6)
    assert np.all(sweep.class_ids == surface_class_id("road")) and np.all(sweep.instance_ids == 0)
    # timing: column c of a 10 Hz, 720-column sweep fires at c / 7200 s
    assert np.allclose(np.sort(np.unique(sweep.times_s)), np.arange(720) / 7200, atol=1e-7)


def test_detection_threshold_drops_dark_far_surfaces():
    sensor = _sensor(min_reflectivity=0.05, max_range_m=30.0)
    sweep = _sweep([_ground(gray=0.1)], sensor)
    elevations = np.radians([-20.0, -10.0, -5.0])
    ranges = 2.0 / np.sin(-elevations)
    power = 0.1 * np.sin(-elevations) * (30.0 / ranges) ** 2
    assert np.bincount(sweep.rings, minlength=3).tolist() == [720 if p >= 0.05 else 0 for p in power]
    assert 0 < np.bincount(sweep.rings, minlength=3).sum() < 3 * 720  # the threshold bites on this geometry


def test_cube_in_front_of_a_wall_gives_analytic_hits_and_labels():
    sensor = _sensor(preset=None, elevations_deg=list(np.linspace(-8.5, 8.5, 35)), columns=3601)
    cube = _cube([5.0, 0.0, 2.0], 1.0, instance_id=1)
    sweep = _sweep([_wall(10.0), cube], sensor)
    on_cube = sweep.instance_ids == 1
    direction = sweep.points / np.linalg.norm(sweep.points, axis=1, keepdims=True)
    # rays hitting the cube's front face x = 4.5 (|y|, |z| <= 0.5 there); the others hit the wall at x = 10
    at_face = direction * (4.5 / direction[:, :1])
    expected_cube = (np.abs(at_face[:, 1]) < 0.5) & (np.abs(at_face[:, 2]) < 0.5)
    assert np.array_equal(on_cube, expected_cube) and on_cube.sum() > 50
    assert np.allclose(sweep.points[on_cube, 0], 4.5, atol=1e-6) and np.allclose(sweep.points[~on_cube, 0], 10.0, atol=1e-6)
    assert np.all(sweep.class_ids[on_cube] == 1) and np.all(sweep.class_ids[~on_cube] == surface_class_id("building"))
    box = sweep.boxes[0]
    assert box.instance_id == 1 and np.allclose(box.center, [5.0, 0.0, 0.0]) and np.allclose(box.dimensions, 1.0)
    assert box.num_points == on_cube.sum() and box.visibility == 1.0 and box.visibility_level == 4


def test_points_lie_on_the_mesh_of_their_instance_and_boxes_count_them_as_open3d_does():
    open3d = pytest.importorskip("open3d")
    objects = [_ground(), _cube([8.0, 1.0, 1.0], 2.0, 1, yaw=0.4), _cube([14.0, 5.0, 0.7], 1.4, 2, yaw=-0.9),
               _cube([6.0, -3.0, 0.5], 1.0, 3, yaw=1.2)]
    sweep = _sweep(objects, _sensor(elevations_deg=list(np.linspace(-25, 5, 32)), columns=1024))
    world = _world(sweep, sweep.deskewed)
    on_ground = sweep.class_ids == surface_class_id("road")
    assert on_ground.sum() > 1000 and np.abs(world[on_ground, 2]).max() < 1e-4
    for obj in objects[1:]:
        mine = sweep.instance_ids == obj.instance_id
        assert mine.sum() > 10
        mesh = trimesh.Trimesh(obj.world_vertices(), obj.mesh.faces)
        assert trimesh.proximity.closest_point(mesh, world[mine])[1].max() < 1e-4  # float32 storage; exact to 0.1 mm at 20 m
    hidden = _sweep(objects[:2] + [_cube([5.0, 0.6, 1.0], 1.2, 4)], _sensor(
        elevations_deg=list(np.linspace(-25, 5, 32)), columns=1024))
    box = next(b for b in hidden.boxes if b.instance_id == 1)  # partly hidden by cube 4
    assert 0 < box.visibility < 0.8 and box.visibility_level == 1 + int(np.searchsorted([0.4, 0.6, 0.8], box.visibility,
                                                                                        side="right"))
    assert box.visibility == pytest.approx((hidden.instance_ids == 1).sum() / (sweep.instance_ids == 1).sum())
    for box in sweep.boxes:
        obb = open3d.geometry.OrientedBoundingBox(box.center, box.rotation, box.dimensions + 2e-4)
        inside = obb.get_point_indices_within_bounding_box(
            open3d.utility.Vector3dVector(sweep.deskewed.astype(np.float64)))
        assert box.num_points == len(inside) == points_in_box(sweep.deskewed, box).sum()
        assert box.num_points >= (sweep.instance_ids == box.instance_id).sum() > 0


def test_noise_dropout_and_dead_beams_follow_their_settings_and_the_generator():
    ground = [_ground()]
    exact = _sweep(ground, _sensor())
    noisy = _sweep(ground, _sensor(range_noise_m=0.05), seed=1)
    error = np.linalg.norm(noisy.points, axis=1) - np.linalg.norm(exact.points, axis=1)
    assert abs(error.std() - 0.05) < 0.005 and abs(error.mean()) < 0.005
    assert np.array_equal(noisy.points, _sweep(ground, _sensor(range_noise_m=0.05), seed=1).points)
    assert not np.array_equal(noisy.points, _sweep(ground, _sensor(range_noise_m=0.05), seed=2).points)
    dropped = _sweep(ground, _sensor(dropout=0.3), seed=3)
    assert abs(len(dropped.points) / len(exact.points) - 0.7) < 0.03
    assert len(_sweep(ground, _sensor(beam_dropout=1.0)).points) == 0
    grazing = _sweep(ground, _sensor(grazing_limit_deg=75.0))  # the -5 and -10 degree rings hit above 75 degrees
    assert set(np.unique(grazing.rings)) == {0}


def test_rolling_shutter_moves_each_point_with_the_rig_and_its_object():
    sensor = _sensor(elevations_deg=list(np.linspace(-20, 5, 16)), columns=1024)
    cube = _cube([8.0, 0.0, 1.5], 2.0, 1)  # above the ground: only its own points are inside its box
    first = SceneSpec(_camera([0.0, 0.0, 2.0]), (_ground(), cube), categories=CATEGORIES)
    trajectory = Trajectory({1: LinearPath(np.array([0.0, 6.0, 0.0]), 1.0)}, 0.0, np.zeros(3),
                            ego_velocity=np.array([12.0, 0.0, 0.0]))
    clip = Clip(0, first, trajectory, SequenceSettings(frames=3, fps=10.0))
    spec = dataclasses.replace(clip.frame_spec(1), lidar=sensor)
    sweep = lidar_sweep(spec, clip, 1, np.random.default_rng(0))
    on_cube = sweep.instance_ids == 1
    assert on_cube.sum() > 50 and np.abs(sweep.points - sweep.deskewed).max() > 0.2  # distorted
    # deskewed points lie on the scene at the frame's time
    moved = spec.objects[1]
    mesh = trimesh.Trimesh(moved.world_vertices(), moved.mesh.faces)
    assert trimesh.proximity.closest_point(mesh, _world(sweep, sweep.deskewed[on_cube]))[1].max() < 1e-4
    # each measured point lies on the scene at its own firing time, seen from the rig at that time
    times = clip.time(1) + sweep.start_s + sweep.times_s[on_cube].astype(np.float64)
    lidar_to_camera = sweep.lidar_to_camera
    for k in np.flatnonzero(on_cube)[::25]:
        t = clip.time(1) + sweep.start_s + float(sweep.times_s[k])
        pose = trajectory.camera_to_world(first.camera, np.array([t]))[0] @ lidar_to_camera
        world = pose[:3, :3] @ sweep.points[k].astype(np.float64) + pose[:3, 3]
        at_t = trimesh.Trimesh(dataclasses.replace(cube, pose=trajectory.object_pose(1, cube.pose, t)).world_vertices(),
                               cube.mesh.faces)
        assert trimesh.proximity.closest_point(at_t, world[None])[1][0] < 1e-4
    assert times.min() < clip.time(1) < times.max()  # the sweep is centred on the frame's time
    assert sweep.boxes[0].num_points == on_cube.sum()


def test_level_mount_ignores_camera_pitch_and_camera_mount_follows_it():
    pitched = _camera([0.0, 0.0, 2.0])
    tilt = trimesh.transformations.rotation_matrix(np.radians(10), [1, 0, 0])  # about the camera's x: pitch
    pitched = dataclasses.replace(pitched, world_to_camera=tilt @ pitched.world_to_camera)
    level, beside = LidarSensor("vlp16"), LidarSensor("structured_light", level=False)
    lidar_to_world = np.linalg.inv(pitched.world_to_camera) @ level.lidar_to_camera(pitched.world_to_camera)
    assert np.allclose(lidar_to_world[:3, 2], [0, 0, 1])  # z up whatever the pitch
    assert np.allclose(lidar_to_world[:3, 3], [-0.27, 0.0, 2.08])
    looking = np.linalg.inv(pitched.world_to_camera) @ beside.lidar_to_camera(pitched.world_to_camera)
    assert np.allclose(looking[:3, 0], np.linalg.inv(pitched.world_to_camera)[:3, 2])  # x along the optical axis
