"""Mesh loaders on third-party files: the textured meshes pybullet ships (pybullet_data), read in place."""

from pathlib import Path

import numpy as np
import pytest

from synthgen.core import CategoryInfo, Light, SceneObject, SceneSpec
from synthgen.render.pyrender_backend import PyrenderRenderer
from synthgen.scene.asset_sets import AssetFolder
from synthgen.scene.assets import MeshFile
from tests.conftest import camera_at

try:
    import pybullet_data

    DATA = Path(pybullet_data.getDataPath())
except ImportError:
    DATA = None

pytestmark = pytest.mark.pybullet


def test_duck_keeps_its_texture_and_turns_y_up():
    duck = MeshFile(str(DATA / "duck.obj"), up_axis="y", scale=0.05)
    (material,) = duck.materials
    assert material.base_color_texture.image.shape == (512, 512, 3)
    extent = duck.geometry.bounds[1] - duck.geometry.bounds[0]
    assert np.argmax(extent) != 2 and extent[2] == pytest.approx(0.05 * 1.5406, rel=1e-3)  # y-up height now on z
    size = (160, 120)
    centre = (duck.geometry.bounds[0] + duck.geometry.bounds[1]) / 2
    pose = np.eye(4)
    pose[:3, 3] = -centre
    obj = SceneObject(duck.geometry, pose, color=np.ones(4), instance_id=1, category_id=1, materials=duck.materials)
    spec = SceneSpec(camera_at([0.0, -0.2, 0.08], [0, 0, 0], size=size, fov=45), (obj,),
                     (Light("directional", np.ones(3), np.pi, direction=np.array([0.2, 1.0, -0.5])),),
                     (CategoryInfo(1, "duck"),), ambient=np.full(3, 0.3))
    out = PyrenderRenderer(*size).render(spec)
    duck_pixels = out.image[out.instance_ids == 1].astype(int)
    assert len(duck_pixels) > 500
    # duckCM.png is a yellow duck with an orange beak: red and green high, blue low
    mean = duck_pixels.mean(axis=0)
    assert mean[0] > 1.5 * mean[2] and mean[1] > 1.2 * mean[2]


def test_a_thousand_file_folder_is_read_on_demand_within_its_budget():
    folder = AssetFolder(str(DATA / "random_urdfs"), size=[0.04, 0.08], cache_mb=64)
    assert folder.layout == "plain" and len(folder) >= 1000
    rng = np.random.default_rng(0)
    loads_before = folder.cache.loads
    for _ in range(20):
        drawn = folder.draw(rng)
        longest = np.max(drawn.geometry.bounds[1] - drawn.geometry.bounds[0]) * drawn.scale
        assert 0.04 - 1e-9 <= longest <= 0.08 + 1e-9
    assert folder.cache.loads - loads_before <= 20 and folder.cache.nbytes <= 64 * 2**20
    # cache_mb is the shared cache's budget: a smaller one keeps less (100 files hold ~1.6 MB).
    small = AssetFolder(str(DATA / "random_urdfs"), size=[0.04, 0.08], cache_mb=1)
    assert small.cache.budget_bytes == 2**20
    for _ in range(100):
        small.draw(rng)
    assert small.cache.nbytes <= 2**20 or len(small.cache) == 1
