"""Procedural assets: organic shapes, vehicles, the chessboard, mannequins."""

import numpy as np
import pytest

from synthgen.core.errors import ConfigError
from synthgen.scene.chessboard import Chessboard
from synthgen.scene.mannequin import Mannequin
from synthgen.scene.procedural import ProceduralShape
from synthgen.scene.road import VehicleShape


def test_shape_variants_are_fixed_by_the_seed_and_differ_from_each_other():
    first = ProceduralShape([0.04, 0.02, 0.02], wrinkles=0.05, seed=4)
    second = ProceduralShape([0.04, 0.02, 0.02], wrinkles=0.05, seed=4)
    assert all(np.array_equal(a.vertices, b.vertices) for a, b in zip(first.variants, second.variants))
    assert not np.array_equal(first.variants[0].vertices, first.variants[1].vertices)
    assert len({v.key for v in first.variants}) == len(first.variants)
    other = ProceduralShape([0.04, 0.02, 0.02], wrinkles=0.05, seed=5)
    assert not np.array_equal(first.variants[0].vertices, other.variants[0].vertices)


def test_shape_size_taper_bend_and_stem():
    plain = ProceduralShape([0.06, 0.03, 0.02], bumps=0.0)
    extent = plain.geometry.bounds[1] - plain.geometry.bounds[0]
    assert np.allclose(extent, [0.06, 0.03, 0.02], rtol=0.02)
    pear = ProceduralShape([0.06, 0.03, 0.03], taper=0.8, bumps=0.0).geometry.vertices
    near_tip, near_base = pear[pear[:, 0] > 0.02], pear[pear[:, 0] < -0.02]
    assert np.abs(near_tip[:, 1]).max() < np.abs(near_base[:, 1]).max()
    banana = ProceduralShape([0.18, 0.035, 0.035], bend=0.3, bumps=0.0).geometry.vertices
    assert banana[np.abs(banana[:, 0]) > 0.08, 1].mean() > banana[np.abs(banana[:, 0]) < 0.02, 1].mean() + 0.01
    fig = ProceduralShape([0.035, 0.03, 0.03], taper=0.6, stem=[0.01, 0.002])
    assert fig.geometry.bounds[1, 0] > 0.035 / 2 + 0.005  # the stem sticks out of the narrow end


def test_drawing_picks_variants_from_the_generator():
    shape = ProceduralShape([0.03, 0.03, 0.03], variants=5)
    keys = {shape.draw(np.random.default_rng(seed)).geometry.key for seed in range(40)}
    assert len(keys) == 5


@pytest.mark.parametrize("build, key", [
    (lambda: ProceduralShape([0.03, 0.03]), "size"),
    (lambda: ProceduralShape([0.03, 0.03, 0.03], taper=1.2), "taper"),
    (lambda: ProceduralShape([0.03, 0.03, 0.03], stem=[0.01]), "stem"),
    (lambda: ProceduralShape([0.03, 0.03, 0.03], variants=0), "variants"),
    (lambda: VehicleShape(length=[5, 4]), "length"),
    (lambda: Chessboard(squares=[1, 7]), "squares[0]"),
    (lambda: Chessboard(square_size=0), "square_size"),
    (lambda: Mannequin(pose_range=2), "pose_range"),
    (lambda: Mannequin(limits_deg={"tail_wag": [0, 10]}), "limits_deg.tail_wag"),
])
def test_bad_parameters_name_the_key(build, key):
    with pytest.raises(ConfigError) as error:
        build()
    assert str(error.value).startswith(key)


def test_vehicle_variants_stand_on_the_ground_within_their_ranges():
    vehicle = VehicleShape(length=[4, 4.5], width=[1.7, 1.8], height=[1.4, 1.5], variants=4)
    for geometry in vehicle.variants:
        low, high = geometry.bounds
        assert low[2] == pytest.approx(0.0, abs=1e-9)
        assert 4.0 <= high[0] - low[0] <= 4.5 + 1e-9 and 1.7 <= high[1] - low[1] <= 1.8 + 1e-9
        assert 1.4 <= high[2] - low[2] <= 1.5 + 1e-9


def test_chessboard_corners_sit_on_the_printed_grid():
    board = Chessboard(squares=[10, 7], square_size=0.025, border=0.6, pixels_per_square=32)
    assert board.keypoints.shape == (54, 3) and board.keypoint_names[0] == "corner_r0_c0"
    assert np.allclose(np.diff(np.unique(board.keypoints[:, 0])), 0.025)
    assert np.allclose(np.diff(np.unique(board.keypoints[:, 1])), 0.025)
    low, high = board.geometry.bounds
    assert np.allclose(board.keypoints[:, 2], high[2])  # on the printed face
    # In the print, a corner is where four squares meet: its texel neighbours alternate black/white.
    image = board.texture.image[..., 0]
    u = (board.keypoints[:, 0] - low[0]) / (high[0] - low[0]) * image.shape[1]
    v = (1 - (board.keypoints[:, 1] - low[1]) / (high[1] - low[1])) * image.shape[0]  # image row 0 is v = 1
    for x, y in zip(u, v):
        x, y = int(round(x)), int(round(y))
        quad = image[y - 1:y + 1, x - 1:x + 1]
        assert quad[0, 0] == quad[1, 1] != quad[0, 1] == quad[1, 0]


def test_road_parts_are_trimesh_shapes_bit_for_bit():
    """The road's roadside parts scale one unit mesh per shape instead of building each through
    trimesh; they must stay the very vertices trimesh makes (a trimesh upgrade that changes its
    shapes fails here, not silently in the datasets)."""
    import trimesh

    from synthgen.scene.road import _box, _cylinder, _joined, _sphere

    rng = np.random.default_rng(0)
    for _ in range(200):
        extents, centre = rng.uniform(0.01, 30.0, 3), rng.uniform(-50.0, 50.0, 3)
        radius, height = rng.uniform(0.01, 3.0), rng.uniform(0.5, 9.0)
        cases = [(_box(centre, extents), trimesh.creation.box(extents=extents).apply_translation(centre)),
                 (_cylinder(radius, height, centre),
                  trimesh.creation.cylinder(radius=radius, height=height, sections=10).apply_translation(centre)),
                 (_sphere(radius), trimesh.creation.icosphere(subdivisions=1, radius=radius))]
        for (vertices, faces), mesh in cases:
            assert np.array_equal(vertices, mesh.vertices) and np.array_equal(faces, mesh.faces)
        joined = trimesh.util.concatenate([mesh for _, mesh in cases])
        vertices, faces = _joined([part for part, _ in cases])
        assert np.array_equal(vertices, joined.vertices) and np.array_equal(faces, joined.faces)
