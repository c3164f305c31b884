"""Polyline label math: resampling, frustum and image clipping, visibility from depth."""

import numpy as np
import pytest

from synthgen.labels.polylines import clip_polyline_2d, polyline_labels, resample_polyline
from tests.conftest import camera_at


def test_resampling_keeps_the_vertices_and_bounds_the_spacing():
    points = np.array([[0.0, 0, 0], [10.0, 0, 0], [10.0, 3.0, 0]])
    dense = resample_polyline(points, 1.0)
    assert np.allclose(dense[0], points[0]) and np.allclose(dense[-1], points[-1])
    assert any(np.allclose(row, points[1]) for row in dense)
    assert np.linalg.norm(np.diff(dense, axis=0), axis=1).max() <= 1.0 + 1e-9


def test_image_clipping_cuts_at_the_border_and_splits_pieces():
    points = np.array([[-10.0, 5, 2], [10, 5, 2], [30, 5, 1], [30, 15, 1], [10, 15, 2]])
    first, second = clip_polyline_2d(points, 20, 20)
    # A cut point takes the visibility of its segment's vertex inside the image.
    assert np.allclose(first, [[0, 5, 2], [10, 5, 2], [20, 5, 2]])
    assert np.allclose(second, [[20, 15, 2], [10, 15, 2]])


def test_lines_are_clipped_to_the_view_frustum_with_exact_border_points():
    camera = camera_at([0.0, -2.0, 0.5], [0.0, 0.0, 0.0], size=(64, 48))
    line = np.array([[-5.0, 0.0, 0.0], [5.0, 0.0, 0.0]])  # crosses the whole view
    (piece,) = polyline_labels(line, camera, np.zeros((48, 64), np.float32), 0.25, 0.01, 0.0)
    assert piece[0, 0] == pytest.approx(0.0, abs=1e-6) and piece[-1, 0] == pytest.approx(64.0, abs=1e-6)
    assert (piece[:, 2] == 2).all()  # nothing in front: visible
    uv, _ = camera.project(np.array([[0.0, 0.0, 0.0]]))
    assert np.min(np.linalg.norm(piece[:, :2] - uv, axis=1)) < 1.0


def test_a_line_passing_behind_the_camera_is_cut_at_the_near_plane():
    camera = camera_at([0.0, 0.0, 1.0], [0.0, 1.0, 1.0], size=(64, 48))  # looking along +y
    line = np.array([[0.2, -3.0, 0.8], [0.2, 5.0, 0.8]])  # from behind the camera to far ahead
    pieces = polyline_labels(line, camera, np.zeros((48, 64), np.float32), 0.5, 0.01, 0.0)
    assert len(pieces) == 1
    assert np.isfinite(pieces[0]).all()
    assert ((pieces[0][:, :2] >= 0) & (pieces[0][:, :2] <= [64, 48])).all()


def test_visibility_follows_the_depth_map():
    camera = camera_at([0.0, -2.0, 0.0], [0.0, 0.0, 0.0], size=(64, 48))
    line = np.array([[-0.3, 0.0, 0.0], [0.3, 0.0, 0.0]])
    depth = np.full((48, 64), 2.0, np.float32)  # the surface the line lies on, 2 m away
    depth[:, 32:] = 1.0  # something 1 m in front hides the right half
    (piece,) = polyline_labels(line, camera, depth, 0.05, 0.01, 0.0)
    left, right = piece[piece[:, 0] < 30], piece[piece[:, 0] > 34]
    assert (left[:, 2] == 2).all() and (right[:, 2] == 1).all()
