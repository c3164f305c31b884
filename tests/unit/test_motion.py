"""Motion models for sequences: trajectories pose objects and the camera consistently."""

import numpy as np
import pytest

from synthgen.core.errors import ConfigError
from synthgen.pipeline.motion import ConstantVelocity, SplineKeyframes
from tests.conftest import camera_at, cube, spec_of, translation


def _spec():
    return spec_of(camera_at([0.6, -0.9, 0.7], [0.0, 0.0, 0.0], size=(96, 72)),
                   cube(1, translation(-0.1, 0.0, 0.05)), cube(2, translation(0.1, 0.05, 0.05)))


def test_objects_glide_and_turn_about_their_own_axis_at_constant_rates():
    spec = _spec()
    motion = ConstantVelocity(speed=[0.1, 0.2], yaw_rate_deg=[30, 60], camera_orbit_deg=0)
    trajectory = motion.draw(spec, np.random.default_rng(3), 2.0)
    later = trajectory.at(spec, 0.5)
    for before, after in zip(spec.objects, later.objects):
        velocity = trajectory.paths[before.instance_id].velocity
        assert 0.1 <= np.linalg.norm(velocity) <= 0.2 and velocity[2] == 0
        np.testing.assert_allclose(after.pose[:3, 3], before.pose[:3, 3] + 0.5 * velocity, atol=1e-12)
        turn = np.degrees(np.arctan2(after.pose[1, 0], after.pose[0, 0]))
        assert 15 <= turn <= 30  # 0.5 s at 30-60 deg/s
        assert after.instance_id == before.instance_id  # the track id
    np.testing.assert_array_equal(trajectory.at(spec, 0.0).objects[0].pose, spec.objects[0].pose)
    # The motion between two times carries the earlier pose onto the later one.
    motions = trajectory.motions(spec, 0.25, 0.75)
    for obj in spec.objects:
        start, end = (trajectory.object_pose(obj.instance_id, obj.pose, t) for t in (0.25, 0.75))
        np.testing.assert_allclose(motions[obj.instance_id] @ start, end, atol=1e-12)


def test_the_camera_orbits_its_target_and_keeps_looking_at_it():
    spec = _spec()
    trajectory = ConstantVelocity(speed=0, yaw_rate_deg=0, camera_orbit_deg=[20, 20]).draw(spec, np.random.default_rng(0), 2.0)
    assert abs(np.degrees(trajectory.orbit_rate)) == pytest.approx(20)
    np.testing.assert_allclose(trajectory.orbit_centre, [0, 0, 0], atol=1e-9)
    moved = trajectory.camera(spec.camera, 1.5)
    assert np.linalg.norm(moved.position - spec.camera.position) > 0.3
    np.testing.assert_allclose(np.linalg.norm(moved.position), np.linalg.norm(spec.camera.position))
    np.testing.assert_allclose(moved.project(np.zeros((1, 3)))[0], spec.camera.project(np.zeros((1, 3)))[0], atol=1e-9)
    assert moved.position[2] == pytest.approx(spec.camera.position[2])


def test_same_generator_same_trajectory_and_ranges_are_validated():
    spec = _spec()
    motion = ConstantVelocity(moving_fraction=0.5)
    first, second = motion.draw(spec, np.random.default_rng(7), 2.0), motion.draw(spec, np.random.default_rng(7), 2.0)
    assert first.paths.keys() == second.paths.keys() and first.orbit_rate == second.orbit_rate
    still = ConstantVelocity(moving_fraction=0.0).draw(spec, np.random.default_rng(7), 2.0)
    assert still.paths == {} and still.at(spec, 2.0).objects[0].pose is spec.objects[0].pose
    with pytest.raises(ConfigError, match=r"speed\[0\]"):
        ConstantVelocity(speed=[-1, 1])
    with pytest.raises(ConfigError, match="camera_orbit_deg: min must not exceed max"):
        ConstantVelocity(camera_orbit_deg=[10, 5])


def test_pass_at_middle_centres_the_path_on_the_sampled_pose():
    spec = _spec()
    trajectory = ConstantVelocity(speed=[0.5, 0.5], pass_at="middle").draw(spec, np.random.default_rng(1), 2.0)
    for obj in spec.objects:
        velocity = trajectory.paths[obj.instance_id].velocity
        np.testing.assert_allclose(trajectory.object_pose(obj.instance_id, obj.pose, 1.0)[:3, 3], obj.pose[:3, 3])
        np.testing.assert_allclose(trajectory.object_pose(obj.instance_id, obj.pose, 0.0)[:3, 3],
                                   obj.pose[:3, 3] - velocity, atol=1e-12)


def test_spline_paths_pass_through_their_keyframes_smoothly():
    spec = _spec()
    trajectory = SplineKeyframes(keyframes=4, step=[0.05, 0.1], turn_deg=[10, 20]).draw(
        spec, np.random.default_rng(5), 3.0)
    for obj in spec.objects:
        path = trajectory.paths[obj.instance_id]
        np.testing.assert_allclose(path.times, [0, 1, 2, 3])
        steps = np.linalg.norm(np.diff(path.offsets, axis=0), axis=1)
        assert ((steps >= 0.05 - 1e-12) & (steps <= 0.1 + 1e-12)).all()
        for time, offset in zip(path.times, path.offsets):
            np.testing.assert_allclose(trajectory.object_pose(obj.instance_id, obj.pose, time)[:3, 3],
                                       obj.pose[:3, 3] + offset, atol=1e-12)
        # Smooth: positions sampled finely have no jumps (bounded speed).
        positions = np.array([path.offset(t) for t in np.linspace(0, 3, 301)])
        assert np.abs(np.diff(positions, axis=0)).max() < 0.01
        assert np.degrees(path.yaw(3.0)) == pytest.approx(np.degrees(path.yaws[-1]))
        assert 30 <= np.degrees(path.yaws[-1]) <= 60
    with pytest.raises(ConfigError, match="keyframes"):
        SplineKeyframes(keyframes=1)
