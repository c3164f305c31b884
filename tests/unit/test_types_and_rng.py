import numpy as np
import pytest

from synthgen.core import Camera, MeshGeometry, SceneObject, sample_rng
from synthgen.randomize.camera import LookAtCamera, intrinsics_from_fov, look_at
from tests.conftest import camera_at


def test_sample_rng_depends_only_on_seed_and_index():
    assert sample_rng(7, 3).random() == sample_rng(7, 3).random()
    assert sample_rng(7, 3).random() != sample_rng(7, 4).random()
    assert sample_rng(7, 3).random() != sample_rng(8, 3).random()
    # Same stream as spawning children of the run's SeedSequence.
    child = np.random.SeedSequence(7).spawn(4)[3]
    assert sample_rng(7, 3).integers(2**32) == np.random.Generator(np.random.PCG64(child)).integers(2**32)


def test_sample_rng_rejects_negative():
    with pytest.raises(ValueError):
        sample_rng(-1, 0)


def test_look_at_puts_target_at_image_centre_and_up_is_up():
    camera = camera_at([1.0, -2.0, 1.5], [0.2, 0.1, 0.0], size=(80, 60))
    uv, z = camera.project(np.array([[0.2, 0.1, 0.0], [0.2, 0.1, 0.3]]))
    assert np.allclose(uv[0], [40.0, 30.0])
    assert z[0] == pytest.approx(np.linalg.norm([0.8, -2.1, 1.5]))
    assert uv[1, 1] < uv[0, 1]  # a point above the target appears higher (smaller v)


def test_look_at_straight_down_is_well_defined():
    world_to_camera = look_at(np.array([0.0, 0.0, 1.0]), np.zeros(3))
    assert np.allclose(world_to_camera[:3, :3] @ world_to_camera[:3, :3].T, np.eye(3))
    assert np.allclose(world_to_camera[2, :3], [0, 0, -1])


def test_camera_position_and_behind_camera_projection():
    camera = camera_at([0.0, -1.0, 0.0], [0.0, 0.0, 0.0])
    assert np.allclose(camera.position, [0.0, -1.0, 0.0])
    uv, z = camera.project(np.array([[0.0, -2.0, 0.0]]))
    assert z[0] < 0 and np.isnan(uv).all()


def test_intrinsics_from_fov():
    K = intrinsics_from_fov(640, 480, 90.0)
    assert np.allclose(K, [[240, 0, 320], [0, 240, 240], [0, 0, 1]])


def test_lookat_camera_validates_ranges():
    with pytest.raises(ValueError, match="elevation_deg"):
        LookAtCamera(elevation_deg=[10, 120])
    with pytest.raises(ValueError, match="distance: min must not exceed max"):
        LookAtCamera(distance=[2.0, 1.0])


def test_lookat_camera_draws_only_from_rng():
    rig = LookAtCamera()
    a, b = rig.sample(sample_rng(0, 1), 64, 48), rig.sample(sample_rng(0, 1), 64, 48)
    assert np.array_equal(a.world_to_camera, b.world_to_camera) and np.array_equal(a.K, b.K)


def test_mesh_geometry_validation_and_key():
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], float)
    assert MeshGeometry(vertices, [[0, 1, 2]]).key == MeshGeometry(vertices.copy(), [[0, 1, 2]]).key
    with pytest.raises(ValueError, match="faces index"):
        MeshGeometry(vertices, [[0, 1, 3]])
    with pytest.raises(ValueError, match="vertices"):
        MeshGeometry(np.zeros((0, 3)), [[0, 1, 2]])


def test_scene_object_requires_consistent_ids():
    geometry = MeshGeometry(np.eye(3), [[0, 1, 2]])
    with pytest.raises(ValueError, match="instance_id"):
        SceneObject(geometry, np.eye(4), instance_id=3, category_id=0)


def test_camera_rejects_bad_matrices():
    with pytest.raises(ValueError, match="Camera.K"):
        Camera(np.eye(2), np.eye(4), 10, 10)
