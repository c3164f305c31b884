"""Randomized scenes through the real renderer: textures, backgrounds, lights, transient meshes, occluders."""

import dataclasses

import numpy as np
import pytest
import trimesh
from hydra import compose, initialize_config_dir

from synthgen.core import Light, MeshGeometry, SceneObject, Texture, sample_rng
from synthgen.labels.checks import check_sample
from synthgen.labels.derive import LabelDeriver
from synthgen.paths import conf_dir
from synthgen.randomize.lighting import Lighting
from synthgen.randomize.materials import MaterialRandomizer
from synthgen.randomize.placement import Placement
from synthgen.registry import instantiate
from synthgen.scene.assets import Primitive
from synthgen.scene.distractors import DistractorRandomizer
from synthgen.scene.mannequin import Mannequin
from synthgen.scene.tabletop import Category, TabletopSampler
from tests.conftest import camera_at, cube, spec_of, translation


def _plane(texture=None, uv=True):
    box = trimesh.creation.box(extents=[1.0, 1.0, 0.01])
    geometry = MeshGeometry(box.vertices, box.faces, uv=(box.vertices[:, :2] + 0.5) if uv else None)
    return SceneObject(geometry, translation(0, 0, -0.005), color=np.ones(4), texture=texture, role="support")


def test_texture_shows_through_the_uvs(renderer_64):
    image = np.zeros((2, 2, 3), np.uint8)
    image[0, :] = (255, 0, 0)  # image row 0 is v = 1: the plane's +y half
    spec = dataclasses.replace(spec_of(camera_at([0, 0, 1.2], [0, 0, 0]), _plane(Texture(image))),
                               ambient=np.ones(3), lights=())
    out = renderer_64.render(spec, amodal=False)
    (u_top, v_top), (u_bottom, v_bottom) = spec.camera.project(np.array([[0, 0.3, 0], [0, -0.3, 0]]))[0]
    top, bottom = out.image[int(v_top), int(u_top)], out.image[int(v_bottom), int(u_bottom)]
    assert top[0] > 200 and top[1] < 60 and bottom.max() < 60


def test_background_image_is_composited_where_nothing_is_hit(renderer_64, two_cubes):
    background = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    spec = dataclasses.replace(two_cubes, background_image=background)
    out = renderer_64.render(spec, amodal=False)
    empty = out.depth == 0
    assert empty.sum() > 500
    # Far from any surface the background shows exactly; on objects it does not.
    padded = np.pad(empty, 1)
    far = empty & padded[2:, 1:-1] & padded[:-2, 1:-1] & padded[1:-1, 2:] & padded[1:-1, :-2]
    assert np.array_equal(out.image[far], background[far])
    assert not np.array_equal(out.image[~empty], background[~empty])
    plain = renderer_64.render(two_cubes, amodal=False)
    assert np.array_equal(plain.instance_ids, out.instance_ids)


@pytest.mark.parametrize("kind", ["directional", "point", "spot"])
def test_every_light_kind_lights_the_scene(renderer_64, two_cubes, kind):
    dark = dataclasses.replace(two_cubes, ambient=np.zeros(3), lights=())
    light = Light(kind, np.ones(3), 3.0 if kind == "directional" else 8.0, direction=np.array([0.0, 0.3, -1.0]),
                  position=np.array([0.0, -0.6, 2.0]), inner_cone_deg=20, outer_cone_deg=40)
    lit = dataclasses.replace(dark, lights=(light,))
    unlit = renderer_64.render(dark, amodal=False)
    mask = unlit.instance_ids > 0
    assert renderer_64.render(lit, amodal=False).image[mask].mean() > unlit.image[mask].mean() + 20


def test_per_sample_meshes_are_not_kept_by_the_renderer(renderer_64):
    sampler = TabletopSampler([Category("person", Mannequin())], Placement(count=[2, 2], region_radius=1.0),
                              table_size=[6, 6])
    counts = []
    for index in range(6):
        spec = sampler.sample(sample_rng(0, index), 64, 64)
        assert not any(obj.mesh.cacheable for obj in spec.instances)
        renderer_64.render(spec)
        counts.append((len(renderer_64._pool), len(renderer_64._scene.nodes) - len(renderer_64._frame_nodes)))
    assert counts[1:] == counts[:-1]  # no growth from one sample to the next


@pytest.mark.parametrize("scene", ["tabletop", "tabletop_fruits", "chessboard", "figures", "road"])
def test_library_scenes_reuse_a_fixed_set_of_pooled_geometry(scene):
    """Renderers keep cacheable geometry forever: a scene must draw it from a fixed set
    (assets, variants, distractor shapes), never make a new one per sample."""
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        sampler = instantiate(compose(config_name="generate", overrides=[f"scene={scene}"]).scene, "scene")
    keys = []
    for index in range(60):
        spec = sampler.sample(sample_rng(0, index), 32, 24)
        keys.append({obj.mesh.key for obj in spec.objects if obj.mesh.cacheable})
    assert set().union(*keys[:30]) == set().union(*keys)


def test_textures_are_reused_by_key_and_the_cache_is_bounded(renderer_64, two_cubes):
    randomizer = MaterialRandomizer(texture_probability=1.0, texture_size=8)
    for index in range(150):  # 300 textures drawn, each used once
        renderer_64.render(randomizer(two_cubes, sample_rng(0, index)), amodal=False)
    assert 200 <= len(renderer_64._textures) <= 256


def test_distractors_hide_labeled_objects_and_labels_account_for_it(renderer_64):
    target = cube(1, translation(0.0, 0.0, 0.05))
    spec = spec_of(camera_at([0.0, -0.8, 0.5], [0.0, 0.0, 0.05]), target)
    # A floating occluder between the camera and the cube's left half.
    blocker = SceneObject(Primitive("box", [0.06, 0.02, 0.2]).geometry, translation(-0.04, -0.35, 0.25), role="distractor")
    occluded = dataclasses.replace(spec, objects=(*spec.objects, blocker))
    sample = LabelDeriver()(renderer_64.render(occluded), occluded, 0)
    (instance,) = sample.instances
    assert check_sample(sample) == []
    assert 0.05 < instance.occlusion < 0.95
    assert np.count_nonzero(instance.amodal_mask & ~instance.mask) > 0
    assert set(np.unique(sample.instance_ids)) == {0, 1}  # the occluder is unlabeled


def test_randomized_tabletop_renders_consistent_labels(renderer_64):
    sampler = TabletopSampler(
        [Category("cube", Primitive("box", [0.06, 0.06, 0.06], keypoints="corners"))],
        Placement(count=[4, 6], region_radius=0.12, rest="stable"),
        lighting=Lighting(kinds=["directional", "point", "spot"], num_lights=[2, 3]),
        randomize={"materials": MaterialRandomizer(texture_probability=0.5, texture_size=16),
                   "distractors": DistractorRandomizer(count=[2, 4], floating_probability=0.5)},
    )
    occluded = 0
    for index in range(6):
        spec = sampler.sample(sample_rng(1, index), 64, 64)
        sample = LabelDeriver(min_visible_pixels=5)(renderer_64.render(spec), spec, index)
        assert check_sample(sample) == []
        occluded += sum(instance.occlusion > 0 for instance in sample.instances)
    assert occluded > 0
