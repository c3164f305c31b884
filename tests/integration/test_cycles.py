"""render=cycles: real Cycles (bpy) renders of the same specs, labels from the raster pass.

Tiny images and few samples keep these in seconds; the bpy wheel is the ``cycles`` extra.
CI sets SYNTHGEN_REQUIRE_CYCLES=1, so a missing bpy fails there instead of skipping.
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pytest
from scipy import ndimage

from synthgen.core import Camera, EnvironmentMap, Light, SceneObject, SceneSpec, sample_rng
from synthgen.core.errors import ConfigError
from synthgen.registry import instantiate
from tests.conftest import CATEGORIES, camera_at, cube, translation

pytestmark = pytest.mark.cycles

TINY = ("render=cycles", "render.samples=2", "render.denoise=false", "progress=false")


def _renderer(width=96, height=72, **settings):
    from synthgen.render.cycles_backend import CyclesRenderer

    return CyclesRenderer(width, height, **{"samples": 2, "denoise": False, "device": "cpu", **settings})


def _scene(generate_cfg, scene: str, index: int, width=96, height=72) -> SceneSpec:
    cfg = generate_cfg(f"scene={scene}")
    sampler = instantiate(cfg.scene, "scene", cfg.allowed_target_prefixes)
    return dataclasses.replace(sampler.sample(sample_rng(5, index), width, height), render_seed=1234 + index)


def _files(root, folder):
    return {path.name: path.read_bytes() for path in sorted((root / folder).iterdir())}


def test_labels_are_byte_identical_to_pyrender(generate_cfg, tmp_path):
    """Same config and seed: the label records, COCO, ids and depth are the same bytes under both
    backends; only the images differ (textures, vertex colours, environment, exposure all on)."""
    from synthgen.commands.generate import generate

    common = ("scene=tabletop_textured", "n=3", "seed=11", "render.width=80", "render.height=60", "progress=false")
    generate(generate_cfg(f"out={tmp_path / 'raster'}", *common))
    generate(generate_cfg(f"out={tmp_path / 'cycles'}", *common, *TINY[:-1]))
    raster, cycles = tmp_path / "raster", tmp_path / "cycles"
    for folder in ("labels", "instance_ids", "depth", "annotations"):
        assert _files(raster, folder) == _files(cycles, folder), folder
    images_raster, images_cycles = _files(raster, "images"), _files(cycles, "images")
    assert images_raster.keys() == images_cycles.keys() and len(images_raster) == 3
    assert all(images_raster[name] != images_cycles[name] for name in images_raster)
    manifest = (cycles / "manifest.json").read_text()
    assert "CyclesRenderer" in manifest and '"samples": 2' in manifest


def test_images_do_not_depend_on_the_worker_count(generate_cfg, tmp_path):
    """Each worker process owns its bpy; sample i's Cycles seed comes from (seed, i) alone."""
    from synthgen.commands.generate import generate

    common = ("scene=tabletop", "n=3", "seed=4", "render.width=64", "render.height=48", *TINY)
    generate(generate_cfg(f"out={tmp_path / 'one'}", *common))
    generate(generate_cfg(f"out={tmp_path / 'two'}", *common, "workers=2"))
    assert _files(tmp_path / "one", "images") == _files(tmp_path / "two", "images")


def _interior(ids: np.ndarray) -> np.ndarray:
    """Pixels whose 3x3 neighbourhood has one id (away from every edge)."""
    return (ndimage.maximum_filter(ids, size=3) == ids) & (ndimage.minimum_filter(ids, size=3) == ids)


@pytest.mark.parametrize("scene", ["tabletop", "tabletop_textured"])
def test_object_index_pass_agrees_with_raster_ids(generate_cfg, scene):
    renderer = _renderer(160, 120, samples=1)
    for index in range(2):
        spec = _scene(generate_cfg, scene, index, 160, 120)
        output = renderer.render(spec)
        interior = _interior(output.instance_ids)
        agree = (renderer.last_object_index == output.instance_ids)[interior].mean()
        assert interior.mean() > 0.8 and agree >= 0.999, (scene, index, agree)
        assert set(np.unique(output.instance_ids)) - {0} <= set(np.unique(renderer.last_object_index))


def test_intrinsics_exactly_with_a_shifted_principal_point(two_cubes):
    """An off-centre principal point (lens shift) and a long focal length: the same pixels as the raster."""
    renderer = _renderer(80, 64, samples=1)
    K = np.array([[70.0, 0.0, 46.5], [0.0, 70.0, 27.0], [0.0, 0.0, 1.0]])
    spec = dataclasses.replace(two_cubes, camera=Camera(K, two_cubes.camera.world_to_camera, 80, 64))
    output = renderer.render(spec)
    interior = _interior(output.instance_ids)
    assert (renderer.last_object_index == output.instance_ids)[interior].mean() >= 0.999
    for instance_id in (1, 2):  # the silhouettes' centres agree to a fraction of a pixel
        raster = np.argwhere(output.instance_ids == instance_id).mean(axis=0)
        traced = np.argwhere(renderer.last_object_index == instance_id).mean(axis=0)
        assert np.abs(raster - traced).max() < 0.15, (instance_id, raster, traced)
    skewed = dataclasses.replace(spec, camera=Camera(K * [[1.0, 1.0, 1.0], [1.0, 0.8, 1.0], [1.0, 1.0, 1.0]],
                                                     spec.camera.world_to_camera, 80, 64))
    with pytest.raises(ConfigError, match="non-square pixels"):
        renderer.render(skewed)


def test_same_spec_gives_the_same_bytes_and_the_seed_matters(generate_cfg):
    renderer = _renderer(samples=4, denoise=True, depth_of_field={"probability": 1.0, "f_stop": [1.4, 2.0]},
                         motion_blur={"probability": 1.0, "shutter_s": 0.05, "speed_mps": [0.3, 0.5]})
    spec, other = _scene(generate_cfg, "tabletop_textured", 0), _scene(generate_cfg, "tabletop_textured", 1)
    first = renderer.render(spec).image
    renderer.render(other)  # the persistent scene changes in between
    bpy = sys.modules["bpy"]
    counts = [len(c) for c in (bpy.data.meshes, bpy.data.images, bpy.data.materials, bpy.data.objects, bpy.data.actions)]
    assert np.array_equal(renderer.render(spec).image, first)
    renderer.render(other)  # everything the two scenes need was uploaded once: nothing new is made
    assert [len(c) for c in (bpy.data.meshes, bpy.data.images, bpy.data.materials, bpy.data.objects,
                             bpy.data.actions)] == counts
    reseeded = renderer.render(dataclasses.replace(spec, render_seed=spec.render_seed + 1)).image
    assert not np.array_equal(reseeded, first)
    sharp = _renderer(samples=4, denoise=True).render(spec).image
    assert np.abs(sharp.astype(int) - first).mean() > 1.0  # depth of field and motion blur show


def _gradient_map(height=32, width=64) -> np.ndarray:
    rows, cols = np.meshgrid((np.arange(height) + 0.5) / height, (np.arange(width) + 0.5) / width, indexing="ij")
    azimuth = 2 * np.pi * cols
    return np.stack([0.2 + 0.3 * (1 + np.cos(azimuth)), 0.2 + 0.5 * rows, 0.4 + 0.2 * np.sin(azimuth)],
                    axis=-1).astype(np.float32)


def test_environment_map_is_seen_exactly_as_the_rasterizer_shows_it():
    """Only the map in view (rotated, scaled): Cycles and the raster background agree pixel by pixel."""
    from synthgen.render.pyrender_backend import PyrenderRenderer

    env = EnvironmentMap(_gradient_map(), rotation_deg=40.0, strength=0.9)
    camera = camera_at([0.0, 0.0, 0.0], [1.0, 0.6, 0.3], size=(96, 72), fov=90.0)
    # An object far outside the view keeps the scene non-empty; the camera sees only the map.
    hidden = cube(1, translation(-5.0, -3.0, -1.5))
    spec = SceneSpec(camera, (hidden,), categories=CATEGORIES, environment=env, ambient=np.zeros(3),
                     exposure_ev=0.5, white_balance=np.array([1.0, 0.95, 1.1]))
    traced = _renderer(samples=4).render(spec).image.astype(int)
    raster = PyrenderRenderer(96, 72).render(spec).image.astype(int)
    difference = np.abs(traced - raster)[2:-2, 2:-2]
    assert difference.mean() < 1.5 and np.percentile(difference, 99) <= 6, (difference.mean(), difference.max())


def _plane(color=(0.8, 0.8, 0.8)) -> SceneObject:
    from synthgen.scene.assets import Primitive

    slab = Primitive("box", [2.0, 2.0, 0.01])
    return SceneObject(slab.geometry, translation(0, 0, -0.005), color=[*color, 1.0], roughness=1.0)


@pytest.mark.parametrize("light", [
    Light("directional", np.ones(3), 2.5, direction=np.array([0.2, 0.1, -1.0])),
    Light("point", np.ones(3), 0.8, position=np.array([0.1, 0.0, 0.6])),
    Light("spot", np.ones(3), 0.8, direction=np.array([0.0, 0.0, -1.0]), position=np.array([0.0, 0.0, 0.6]),
          inner_cone_deg=40, outer_cone_deg=60),
], ids=["directional", "point", "spot"])
def test_lights_have_the_pyrender_units(light):
    """A matte plane under one light: brightness within 15% of pyrender's (a unit mistake is 3x or more)."""
    from synthgen.render.pyrender_backend import PyrenderRenderer

    camera = camera_at([0.0, -0.05, 1.0], [0.0, 0.0, 0.0], size=(48, 48), fov=30.0)
    spec = SceneSpec(camera, (_plane(),), lights=(light,), ambient=np.zeros(3))
    traced = _renderer(48, 48, samples=16, max_bounces=0).render(spec).image.astype(float)
    raster = PyrenderRenderer(48, 48).render(spec).image.astype(float)
    ratio = traced[16:32, 16:32].mean() / raster[16:32, 16:32].mean()
    assert 0.85 < ratio < 1.15, ratio


def test_missing_bpy_names_the_extra_and_python(monkeypatch):
    from synthgen.render import cycles_backend

    monkeypatch.setitem(sys.modules, "bpy", None)  # import bpy now raises ImportError
    with pytest.raises(ConfigError) as error:
        cycles_backend.import_bpy()
    assert "synthgen[cycles]" in str(error.value) and "3.11" in str(error.value)


@pytest.mark.parametrize("override, message", [
    ("render.device=tpu", "device: must be one of"),
    ("render.samples=0", "samples"),
    ("render.depth_of_field={aperture:2}", "unknown keys"),
])
def test_bad_cycles_settings_fail_with_the_key(generate_cfg, tmp_path, override, message):
    from synthgen.commands.generate import generate

    with pytest.raises(ConfigError, match=message):
        generate(generate_cfg(f"out={tmp_path / 'run'}", "n=1", *TINY, override))
    assert not (tmp_path / "run").exists()
