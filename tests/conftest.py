"""Shared fixtures: tiny in-memory scenes, a real renderer, real Hydra composition; the
resource markers (``tests.resources``) applied before each test; no skips where all are required."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from synthgen.core import Camera, CategoryInfo, Cuboid, Instance, Sample, SceneObject, SceneSpec, mask_box
from synthgen.paths import conf_dir
from synthgen.randomize.camera import intrinsics_from_fov, look_at
from synthgen.scene.assets import Primitive
from tests.resources import RESOURCES, need

CUBE = CategoryInfo(1, "cube", tuple(f"k{i}" for i in range(8)))


def pytest_runtest_setup(item):
    """A test marked with a resource (``server``, ``cycles``, ...) skips or fails without it."""
    for name in RESOURCES:
        if item.get_closest_marker(name) is not None:
            need(name)


def pytest_sessionfinish(session, exitstatus):
    """Where every resource is required (.ci/run), a skipped test fails the run."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter is not None else 0
    if os.environ.get("SYNTHGEN_REQUIRE_ALL") == "1" and skipped and session.exitstatus == 0:
        reporter.write_line(f"SYNTHGEN_REQUIRE_ALL=1: {skipped} test(s) skipped; nothing may be skipped here", red=True)
        session.exitstatus = 1


CATEGORIES = (CUBE, CategoryInfo(2, "slab"))


def translation(x: float, y: float, z: float) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, 3] = [x, y, z]
    return pose


def camera_at(eye, target, size=(64, 64), fov=50.0) -> Camera:
    width, height = size
    return Camera(intrinsics_from_fov(width, height, fov), look_at(np.asarray(eye, float), np.asarray(target, float)),
                  width, height)


def cube(instance_id: int, pose: np.ndarray, edge: float = 0.1, category_id: int = 1) -> SceneObject:
    asset = Primitive("box", [edge, edge, edge], keypoints="corners")
    return SceneObject(asset.geometry, pose, color=[0.8, 0.2, 0.2, 1.0], instance_id=instance_id,
                       category_id=category_id, keypoints=asset.keypoints)


def spec_of(camera: Camera, *objects: SceneObject) -> SceneSpec:
    return SceneSpec(camera=camera, objects=tuple(objects), categories=CATEGORIES)


@pytest.fixture
def two_cubes() -> SceneSpec:
    """64x64: two cubes side by side on the ground, seen obliquely from above."""
    return spec_of(
        camera_at([0.6, -0.9, 0.7], [0.0, 0.0, 0.05]),
        cube(1, translation(-0.09, 0.0, 0.05)),
        cube(2, translation(0.09, 0.05, 0.05)),
    )


@pytest.fixture(scope="session")
def renderer_64():
    from synthgen.render.pyrender_backend import PyrenderRenderer

    return PyrenderRenderer(64, 64)


@pytest.fixture
def generate_cfg():
    """Compose conf/generate.yaml with overrides, exactly as the CLI does."""

    def _compose(*overrides: str):
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            return compose(config_name="generate", overrides=list(overrides))

    return _compose


SMALL_RUN = ("render.width=96", "render.height=72", "progress=false", "scene.placement.count=[3,5]")


def two_instance_sample() -> Sample:
    """10x8 sample with two consistent square instances (1 slightly occluded), for check tests."""
    ids = np.zeros((8, 10), np.int32)
    ids[1:4, 1:4] = 1
    ids[4:7, 5:9] = 2
    instances = []
    for instance_id in (1, 2):
        mask = ids == instance_id
        amodal = mask.copy()
        amodal[0, 0] = instance_id == 1
        box = Cuboid(np.ones(3), np.zeros(3), np.eye(3), np.zeros((8, 3)), np.zeros((8, 2)))
        instances.append(Instance(instance_id, 1, "cube", mask, amodal, mask_box(mask), mask_box(amodal),
                                  int(mask.sum()), int(amodal.sum()), 1 - mask.sum() / amodal.sum(), 0.0,
                                  np.array([[2.5, 2.5, 2.0]]), box, np.eye(4)))
    camera = camera_at([0, -1, 0], [0, 0, 0], size=(10, 8))
    return Sample(0, np.zeros((8, 10, 3), np.uint8), np.ones((8, 10), np.float32), ids, camera, instances, CATEGORIES)
