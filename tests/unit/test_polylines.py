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


def _scalar_runs(points, planes):
    """Liang-Barsky one segment at a time, as the clipping was first written: the reference."""
    runs, current, sources = [], [], []

    def close():
        if len(current) >= 2:
            runs.append((np.array(current), list(sources)))
        current.clear(), sources.clear()

    for i, (start, end) in enumerate(zip(points[:-1], points[1:])):
        t0, t1, outside = 0.0, 1.0, False
        for plane in planes:
            a, b = plane[:-1] @ start + plane[-1], plane[:-1] @ end + plane[-1]
            if a < 0 and b < 0:
                outside = True
                break
            if a < 0:
                t0 = max(t0, a / (a - b))
            elif b < 0:
                t1 = min(t1, a / (a - b))
        if outside or t0 >= t1:
            close()
            continue
        if not current or t0 > 0:
            close()
            current.append(start + t0 * (end - start))
            sources.append(i if t0 == 0 else i + 1)
        current.append(start + t1 * (end - start))
        sources.append(i + 1 if t1 == 1 else i)
        if t1 < 1:
            close()
    close()
    return runs


@pytest.mark.parametrize("seed", range(4))
def test_vectorized_clipping_gives_the_pieces_of_one_segment_at_a_time(seed):
    from synthgen.labels.polylines import _runs

    rng = np.random.default_rng(seed)
    for _ in range(200):
        dims = int(rng.choice([2, 3]))
        points = np.cumsum(rng.normal(0, 30, (int(rng.integers(2, 40)), dims)), axis=0)
        planes = rng.normal(0, 1, (int(rng.integers(1, 6)), dims + 1))
        planes[:, -1] *= 50
        expected, got = _scalar_runs(points, planes), _runs(points, planes)
        assert [sources for _, sources in got] == [sources for _, sources in expected]
        for (run, _), (reference, _) in zip(got, expected):
            assert np.allclose(run, reference, rtol=0, atol=1e-9)
