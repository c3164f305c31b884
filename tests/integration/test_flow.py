"""Optical flow from geometry, checked against real renders: warping frame t+1 back reproduces frame t."""

import dataclasses

import cv2
import numpy as np
import pytest
import trimesh

from synthgen.core import MeshGeometry, SceneObject, Texture
from synthgen.core.errors import InputError
from synthgen.io.flow_files import read_kitti_flow, write_kitti_flow
from synthgen.labels.flow import optical_flow
from tests.conftest import camera_at, spec_of, translation

SIZE = 128


@pytest.fixture(scope="module")
def renderer():
    from synthgen.render.pyrender_backend import PyrenderRenderer

    return PyrenderRenderer(SIZE, SIZE)


def _smooth_noise(seed: int, cells: int = 24) -> np.ndarray:
    noise = np.random.default_rng(seed).integers(0, 256, (cells, cells, 3)).astype(np.uint8)
    return cv2.resize(noise, (1024, 1024), interpolation=cv2.INTER_CUBIC)


def _scene(cube_pose: np.ndarray, eye):
    plane = trimesh.creation.box(extents=[4.0, 4.0, 0.01])
    ground = SceneObject(MeshGeometry(plane.vertices, plane.faces, uv=plane.vertices[:, :2] / 4.0 + 0.5),
                         translation(0, 0, -0.005), color=np.ones(4), texture=Texture(_smooth_noise(0, cells=32)),
                         role="support")
    box = trimesh.creation.box(extents=[0.2, 0.2, 0.2])
    cube = SceneObject(MeshGeometry(box.vertices, box.faces), cube_pose, color=np.ones(4),
                       texture=Texture(_smooth_noise(1, cells=6)), instance_id=1, category_id=1)
    # Ambient light only: shading does not change as things move, so colours must match exactly.
    return dataclasses.replace(spec_of(camera_at(eye, [0, 0, 0.05], size=(SIZE, SIZE)), ground, cube),
                               ambient=np.ones(3), lights=())


def _warp_error(previous, following, flow, mask) -> float:
    rows, cols = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    warped = cv2.remap(following.image, cols + np.nan_to_num(flow[..., 0]), rows + np.nan_to_num(flow[..., 1]),
                       cv2.INTER_LINEAR)
    return float(np.abs(warped.astype(int) - previous.image.astype(int))[mask].mean())


def test_warping_the_next_frame_with_the_flow_reproduces_this_frame(renderer):
    pose_t = translation(0.0, 0.0, 0.1)
    pose_next = translation(0.06, 0.03, 0.1) @ trimesh.transformations.rotation_matrix(0.15, [0, 0, 1])
    spec_t, spec_next = _scene(pose_t, [0.5, -0.8, 0.9]), _scene(pose_next, [0.55, -0.78, 0.92])
    frame_t, frame_next = renderer.render(spec_t, amodal=False), renderer.render(spec_next, amodal=False)
    flow, valid, occluded = optical_flow(frame_t.depth, frame_t.instance_ids, spec_t.camera, spec_next.camera,
                                         {1: pose_next @ np.linalg.inv(pose_t)}, next_depth=frame_next.depth)
    moving = frame_t.instance_ids == 1
    assert valid.mean() > 0.95 and np.nanmax(np.abs(flow[moving])) > 5  # the cube moves several pixels
    assert 0 < occluded.sum() < 0.1 * valid.sum()  # ground uncovered... and covered by the cube
    # Compare away from silhouettes (anti-aliased edges blend two surfaces).
    edges = cv2.dilate(cv2.Canny(frame_t.instance_ids.astype(np.uint8) * 100, 50, 150), np.ones((5, 5))) > 0
    mask = valid & ~occluded & ~edges
    error = _warp_error(frame_t, frame_next, flow, mask)
    zero_flow_error = _warp_error(frame_t, frame_next, np.zeros_like(flow), mask)
    assert error < 4.0, error
    assert zero_flow_error > 3 * error
    assert _warp_error(frame_t, frame_next, flow, mask & moving) < 5.0


def test_a_static_scene_seen_by_a_static_camera_has_zero_flow(renderer):
    spec = _scene(translation(0, 0, 0.1), [0.5, -0.8, 0.9])
    frame = renderer.render(spec, amodal=False)
    flow, valid, occluded = optical_flow(frame.depth, frame.instance_ids, spec.camera, spec.camera,
                                         {1: np.eye(4)}, next_depth=frame.depth)
    assert np.array_equal(valid, frame.depth > 0) and valid.mean() > 0.5 and not occluded.any()
    assert np.abs(flow[valid]).max() < 1e-3 and np.isnan(flow[~valid]).all()


def test_kitti_flow_png_round_trips_as_the_devkit_reads_it(renderer, tmp_path):
    spec_t = _scene(translation(0, 0, 0.1), [0.5, -0.8, 0.9])
    spec_next = _scene(translation(0.05, 0, 0.1), [0.52, -0.8, 0.9])
    frame = renderer.render(spec_t, amodal=False)
    flow, valid, _ = optical_flow(frame.depth, frame.instance_ids, spec_t.camera, spec_next.camera,
                                  {1: translation(0.05, 0, 0)})
    path = tmp_path / "000000_10.png"
    write_kitti_flow(path, flow)
    # The KITTI devkit's reader: BGR 16-bit -> (R - 2^15) / 64 where B is set.
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16 and raw.shape == (SIZE, SIZE, 3) and np.array_equal(raw[..., 0] > 0, valid)
    raw = raw.astype(np.float64)
    devkit_u = (raw[..., 2] - 2**15) / 64.0
    np.testing.assert_allclose(devkit_u[valid], flow[valid][:, 0], atol=1 / 128)
    back = read_kitti_flow(path)
    np.testing.assert_allclose(back[valid], flow[valid], atol=1 / 128)
    assert np.isnan(back[~valid]).all()
    with pytest.raises(InputError, match="not a KITTI flow PNG"):
        cv2.imwrite(str(tmp_path / "rgb.png"), frame.image)
        read_kitti_flow(tmp_path / "rgb.png")
