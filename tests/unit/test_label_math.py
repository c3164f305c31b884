import numpy as np
import pytest

from synthgen.core import CUBOID_CORNER_SIGNS, SceneObject, mask_box
from synthgen.labels.checks import check_sample
from synthgen.labels.geometry import cuboid_of, truncation_ratio
from synthgen.render.amodal import plan_amodal_passes
from synthgen.scene.assets import Primitive
from tests.conftest import camera_at, cube, spec_of, translation, two_instance_sample


def test_mask_box_has_exclusive_maxima():
    mask = np.zeros((30, 40), bool)
    mask[5:8, 10:20] = True
    assert mask_box(mask).tolist() == [10, 5, 20, 8]
    assert mask_box(np.zeros((3, 3), bool)).tolist() == [0, 0, 0, 0]


def test_truncation_ratio_of_half_outside_object():
    camera = camera_at([0, -1, 0], [0, 0, 0], size=(64, 64))
    slab = Primitive("box", [0.1, 0.0001, 0.1]).geometry  # thin, facing the camera at 1 m
    def truncation(obj):
        return truncation_ratio(*camera.project(obj.world_vertices()), camera)

    assert truncation(SceneObject(slab, translation(0, 0, 0))) == 0.0
    border_x = (64 - camera.K[0, 2]) / camera.K[0, 0]  # world x seen on the right image border
    half_out = SceneObject(slab, translation(border_x, 0, 0))
    assert truncation(half_out) == pytest.approx(0.5, abs=1e-3)
    assert truncation(SceneObject(slab, translation(5, 0, 0))) == 1.0


def test_cuboid_corners_follow_documented_order():
    camera = camera_at([0, -1, 0], [0, 0, 0])
    obj = cube(1, translation(0.01, 0.02, 0.03), edge=0.1)
    box = cuboid_of(obj, camera)
    assert np.allclose(box.dimensions, [0.1, 0.1, 0.1])
    world = obj.to_world(CUBOID_CORNER_SIGNS * 0.05)
    assert np.allclose(box.corners_3d, camera.to_camera(world))
    assert np.allclose(box.corners_2d, camera.project(world)[0])
    assert np.allclose(box.center, camera.to_camera([[0.01, 0.02, 0.03]])[0])


def test_amodal_plan_groups_disjoint_and_separates_overlapping():
    camera = camera_at([0, -1, 0], [0, 0, 0], size=(64, 64))
    far_apart = spec_of(camera, cube(1, translation(-0.25, 0, 0), 0.05), cube(2, translation(0.25, 0, 0), 0.05))
    plan = plan_amodal_passes(far_apart)
    assert plan.passes == [] and plan.unoccludable == [1, 2]
    # 1 and 2 overlap in the image (2 is behind 1), 3 overlaps 2's footprint only from the side.
    overlapping = spec_of(camera, cube(1, translation(0, 0, 0), 0.1), cube(2, translation(0.03, 0.3, 0), 0.1),
                          cube(3, translation(0.4, 0, 0), 0.05))
    plan = plan_amodal_passes(overlapping)
    assert sorted(plan.unoccludable + [i for p in plan.passes for i in p]) == [1, 2, 3]
    assert 2 not in plan.unoccludable  # cube 1 may hide it


def test_amodal_plan_knows_a_support_plane_cannot_hide_what_rests_on_it():
    camera = camera_at([0.3, -1, 0.6], [0, 0, 0], size=(64, 64))
    table = SceneObject(Primitive("box", [2, 2, 0.02]).geometry, translation(0, 0, -0.01))
    on_table = cube(1, translation(0, 0, 0.05))
    assert plan_amodal_passes(spec_of(camera, table, on_table)).unoccludable == [1]
    below = camera_at([0.3, -1, -0.6], [0, 0, 0], size=(64, 64))  # looking up through the table
    assert plan_amodal_passes(spec_of(below, table, on_table)).passes == [[1]]


def test_check_sample_accepts_consistent_labels():
    assert check_sample(two_instance_sample()) == []


def _drop_amodal_pixel(sample):
    instance = sample.instances[0]
    instance.amodal_mask[1, 1] = False  # a visible pixel
    instance.amodal_area -= 1
    instance.occlusion = 1 - instance.area / instance.amodal_area


def _steal_pixel(sample):
    """Instance 2 claims a pixel of instance 1; its area and box stay consistent."""
    instance = sample.instances[1]
    instance.mask[3, 3] = True
    instance.area += 1
    instance.bbox = mask_box(instance.mask)


@pytest.mark.parametrize(
    "corrupt, expected",
    [
        (_drop_amodal_pixel, "1 visible pixels lie outside the amodal mask"),
        (lambda s: setattr(s.instances[0], "bbox", np.array([1.0, 1, 4, 5])), "box [1.0, 1.0, 4.0, 5.0] != mask extent"),
        (lambda s: setattr(s.instances[0], "bbox", np.array([2.0, 1, 4, 4])), "pixels outside the box"),
        (lambda s: setattr(s.instances[0], "amodal_bbox", np.array([0.5, 0, 4, 4])), "not an integer box"),
        (lambda s: setattr(s.instances[1], "area", 5), "visible area 5 != pixel count 12"),
        (_steal_pixel, "visible mask differs from the instance id map"),
        (_steal_pixel, "visible masks of instances 1 and 2 overlap on 1 pixels"),
        (lambda s: setattr(s.instances[0], "occlusion", 0.5), "occlusion 0.5 != 1 - visible/amodal"),
        (lambda s: s.instances[0].keypoints.__setitem__((0, 0), 50.0), "keypoint marked visible lies outside"),
        (lambda s: s.instance_ids.__setitem__((7, 0), 9), "ids with no instance: [9]"),
        (lambda s: setattr(s, "depth", np.full((8, 10), np.nan, np.float32)), "depth must be finite"),
    ],
)
def test_check_sample_reports_each_inconsistency(corrupt, expected):
    sample = two_instance_sample()
    corrupt(sample)
    problems = check_sample(sample)
    assert any(expected in problem for problem in problems), problems
