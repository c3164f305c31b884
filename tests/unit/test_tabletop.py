import cv2
import numpy as np
import pytest

from synthgen.core import sample_rng
from synthgen.core.errors import ConfigError
from synthgen.randomize.placement import Placement
from synthgen.scene.assets import MeshFile, Primitive
from synthgen.scene.tabletop import Category, TabletopSampler


@pytest.fixture
def sampler():
    return TabletopSampler(
        [Category("cube", Primitive("box", [0.06, 0.06, 0.06], keypoints="corners")),
         Category("can", Primitive("cylinder", [0.03, 0.1]), scale=[0.8, 1.3]),
         Category("mug", MeshFile("assets/mug.obj"))],
        Placement(count=[6, 9], region_radius=0.15),
    )


def _xy_hull(obj):
    return cv2.convexHull(obj.world_vertices()[:, :2].astype(np.float32))


@pytest.mark.parametrize("seed", range(8))
def test_objects_rest_on_the_table_without_interpenetration(sampler, seed):
    spec = sampler.sample(sample_rng(seed, 0), 64, 48)
    objects = spec.instances
    assert len(objects) >= 3
    for obj in objects:
        assert obj.world_vertices()[:, 2].min() == pytest.approx(0.0, abs=1e-9)  # resting on z = 0
    # Upright objects on a plane cannot intersect when their floor footprints are disjoint.
    for i, first in enumerate(objects):
        for second in objects[i + 1:]:
            area, _ = cv2.intersectConvexConvex(_xy_hull(first), _xy_hull(second))
            assert area == 0.0


def test_sampling_is_a_pure_function_of_the_generator(sampler):
    first, second = sampler.sample(sample_rng(4, 2), 64, 48), sampler.sample(sample_rng(4, 2), 64, 48)
    assert [o.instance_id for o in first.objects] == [o.instance_id for o in second.objects]
    assert all(np.array_equal(a.pose, b.pose) and a.scale == b.scale for a, b in zip(first.objects, second.objects))
    assert np.array_equal(first.camera.world_to_camera, second.camera.world_to_camera)


def test_categories_get_ids_in_order_with_keypoints(sampler):
    assert [(c.id, c.name) for c in sampler.categories] == [(1, "cube"), (2, "can"), (3, "mug")]
    assert len(sampler.categories[0].keypoint_names) == 8 and len(sampler.categories[0].skeleton) == 12


def test_crowded_table_leaves_out_objects_that_do_not_fit():
    tight = TabletopSampler([Category("cube", Primitive("box", [0.1, 0.1, 0.1]))],
                            Placement(count=[20, 20], region_radius=0.05, max_attempts=20))
    assert 1 <= len(tight.sample(sample_rng(0, 0), 64, 48).instances) < 20


def test_invalid_sampler_arguments():
    with pytest.raises(ConfigError, match="categories: must list at least one category"):
        TabletopSampler([])
    with pytest.raises(ConfigError, match="names must be unique"):
        TabletopSampler([Category("a", Primitive("sphere", [0.1])), Category("a", Primitive("sphere", [0.2]))])
    with pytest.raises(ConfigError, match=r"color\[1\]: must be a number >= 0 and <= 255"):
        Category("a", Primitive("sphere", [0.1]), color=[10, 300, 0])
