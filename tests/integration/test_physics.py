"""Physics placement (MuJoCo, coacd), containers, and the BOP writer and reader, on real runs."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest
import trimesh

from synthgen.commands.generate import generate
from synthgen.core.errors import ConfigError
from synthgen.io.bop import read_bop
from synthgen.io.store import iter_records
from synthgen.physics import collision_shapes
from synthgen.physics.pile_checks import pile_report
from synthgen.registry import instantiate
from synthgen.scene.asset_sets import AssetFolder
from tests.helpers import stores_by_worker_count

pytestmark = pytest.mark.physics

SMALL = ("render.width=160", "render.height=120", "progress=false")


@pytest.fixture(scope="module", autouse=True)
def convex_cache(tmp_path_factory):
    """A fresh decomposition cache (inherited by worker processes through the environment)."""
    previous = os.environ.get("SYNTHGEN_CACHE_DIR")
    os.environ["SYNTHGEN_CACHE_DIR"] = str(tmp_path_factory.mktemp("synthgen-cache"))
    yield
    if previous is None:
        os.environ.pop("SYNTHGEN_CACHE_DIR")
    else:
        os.environ["SYNTHGEN_CACHE_DIR"] = previous


def _sampler(generate_cfg, scene: str, *overrides: str):
    return instantiate(generate_cfg(f"scene={scene}", *overrides).scene, "scene")


@pytest.mark.parametrize("scene", ["bin_picking", "tabletop_fruits_bowl"])
def test_settled_piles_touch_and_stack_without_interpenetrating(generate_cfg, scene):
    sampler = _sampler(generate_cfg, scene)
    reports = []
    for seed in range(3):
        spec = sampler.sample(np.random.default_rng(seed), 160, 120)
        assert not spec.problems
        drop = sampler.last_drop
        assert not drop.result.moving.any()
        # Every settled centre is inside the container, measured from the poses, not the engine's flags.
        assert sampler.container.zone.contains(drop.result.poses[:, :3, 3], margin=0.005).all()
        reports.append(pile_report(drop.objects, sampler.container.zone.floor_z))
    penetration = max(float(r.penetration.max()) for r in reports)
    assert penetration < 0.001, f"objects reach {penetration * 1000:.2f} mm into each other"
    assert np.mean([r.share_touching for r in reports]) > 0.3
    assert sum(int(r.stacked.sum()) for r in reports) > 0
    smallest = min(min(o.mesh.bounds[1] - o.mesh.bounds[0]) * o.scale for o in drop.objects)
    assert max(r.pile_height for r in reports) > 1.5 * smallest  # objects lie on each other, not side by side


def test_physics_runs_are_byte_identical_across_worker_counts(generate_cfg, tmp_path):
    runs = stores_by_worker_count(generate_cfg, tmp_path, "scene=bin_picking", "n=3", *SMALL)
    assert runs[1].keys() == runs[2].keys() and any(k.startswith("models/") for k in runs[1])
    assert runs[1] == runs[2]


def test_unsettled_drops_are_redrawn_then_quarantined_with_the_reason(generate_cfg, tmp_path):
    out = tmp_path / "quarantined"
    summary = generate(generate_cfg(f"out={out}", "scene=bin_picking", "n=1", *SMALL,
                                    "scene.placement.physics.max_seconds=0.04", "scene.placement.physics.redraws=1"))
    assert summary.quarantined == 1
    record = next(iter_records(out, "quarantine"))
    assert any("did not come to rest" in problem and "after 2 drop(s)" in problem for problem in record["problems"])


def test_physics_piles_occlude_more_than_footprint_placement(generate_cfg, tmp_path):
    occlusion = {}
    for scene, rest in (("tabletop_fruits", "stable"), ("tabletop_fruits_bowl", "physics")):
        out = tmp_path / scene
        generate(generate_cfg(f"out={out}", f"scene={scene}", "n=4", *SMALL, "scene.placement.count=[12,12]",
                              "labels.min_visible_pixels=1"))
        values = [item["occlusion"] for record in iter_records(out) for item in record["instances"]]
        occlusion[rest] = float(np.mean(values))
    assert occlusion["physics"] > occlusion["stable"] + 0.05, occlusion


def test_concave_parts_are_decomposed_once_and_cached(tmp_path):
    bracket = AssetFolder("assets/bop_parts", ids=[1]).draw(np.random.default_rng(0)).geometry
    parts = collision_shapes.convex_parts(bracket, "auto")
    assert len(parts) >= 2  # an L is not its hull
    mesh = trimesh.Trimesh(bracket.vertices, bracket.faces)
    volume = sum(trimesh.convex.convex_hull(part).volume for part in parts)
    assert 0.9 * mesh.volume < volume < 1.3 * mesh.volume  # the parts cover the L, not its hull (2.2x)
    collision_shapes._parts_of.cache_clear()
    cached = collision_shapes.convex_parts(bracket, "auto")
    assert len(cached) == len(parts) and all(np.array_equal(a, b) for a, b in zip(parts, cached))


def test_bop_export_reads_back_with_poses_masks_and_visibility(generate_cfg, tmp_path):
    out = tmp_path / "bop_run"
    generate(generate_cfg(f"out={out}", "scene=bin_picking", "n=2", "render.width=320", "render.height=240",
                          "progress=false", "export=[bop]"))
    bop_root = out / "exports" / "bop"
    dataset = read_bop(bop_root)
    records = list(iter_records(out))
    info = json.loads((bop_root / "models" / "models_info.json").read_text())
    assert len(dataset.images) == len(records) == 2 and len(info) == 4  # four parts, one size each
    scene = bop_root / "train_pbr" / "000000"
    for image, record in zip(dataset.images, records):
        assert len(image.objects) == len(record["instances"])
        K = np.asarray(image.camera["K"])
        np.testing.assert_allclose(K, record["camera"]["K"])
        depth_bop = cv2.imread(image.depth_file, cv2.IMREAD_UNCHANGED) * image.depth_unit_m
        depth_store = cv2.imread(str(out / record["files"]["depth"]), cv2.IMREAD_UNCHANGED) * record["depth_unit_m"]
        np.testing.assert_allclose(depth_bop, depth_store, atol=1e-4)
        for obj, item in zip(image.objects, record["instances"]):
            assert obj.occlusion == pytest.approx(item["occlusion"], abs=1e-9)  # BOP visib_fract = 1 - occlusion
            model = trimesh.load(bop_root / "models" / f"obj_{obj.category_id:06d}.ply", force="mesh")
            pose = obj.pose
            camera_points = model.vertices / 1000.0 @ pose[:3, :3].T + pose[:3, 3]
            uv = camera_points[:, :2] / camera_points[:, 2:] @ K[:2, :2].T + K[:2, 2]
            full = cv2.imread(str(scene / "mask" / f"{image.index:06d}_{obj.extra['gt_id']:06d}.png"), 0) > 0
            inside = (uv[:, 0] >= 0) & (uv[:, 0] < image.width) & (uv[:, 1] >= 0) & (uv[:, 1] < image.height)
            grown = cv2.dilate(full.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            hits = grown[uv[inside, 1].astype(int), uv[inside, 0].astype(int)]
            assert hits.mean() > 0.99  # the model, posed by scene_gt, lands on its own silhouette
            diameter = info[str(obj.category_id)]["diameter"]
            assert diameter == pytest.approx(np.max(trimesh.convex.convex_hull(model.vertices).vertices.ptp(axis=0)),
                                             rel=0.8)


def test_bad_physics_config_fails_with_the_key(generate_cfg):
    with pytest.raises(ConfigError, match="physics: unknown key"):
        _sampler(generate_cfg, "bin_picking", "+scene.categories.0.physics.bounciness=1")
    with pytest.raises(ConfigError, match="placement.rest: physics"):
        _sampler(generate_cfg, "bin_picking", "scene.placement.rest=stable")


@pytest.mark.parametrize("restitution", [0.0, 0.2, 0.5])
def test_restitution_is_the_bounce_a_ball_makes(restitution):
    """A 2 cm ball dropped 20 cm onto the table rises to restitution^2 of the drop (within 0.1 in e)."""
    import mujoco

    from synthgen.core import MeshGeometry
    from synthgen.physics import BodyMaterial, DropBody, Settling, StaticBody, mass_properties

    ball = trimesh.creation.icosphere(3, radius=0.02)
    geometry = MeshGeometry(ball.vertices, ball.faces, smooth=True)
    table = trimesh.creation.box([0.5, 0.5, 0.02])
    material = BodyMaterial(restitution=restitution)
    start = np.eye(4)
    start[2, 3] = 0.02 + 0.2
    body = DropBody(collision_shapes.convex_parts(geometry), mass_properties(geometry, 1.0, material), material, start)
    model = Settling(sleep=False).build_model([body], [StaticBody((table.vertices - [0, 0, 0.01],), material)])
    data = mujoco.MjData(model)
    heights = []
    for _ in range(1000):
        mujoco.mj_step(model, data)
        heights.append(data.xpos[1, 2] - 0.02)
    heights = np.array(heights)
    impact = int(np.argmax(np.diff(heights) > 0))
    bounce = max(float(heights[impact:impact + 400].max()), 0.0)
    assert np.sqrt(bounce / 0.2) == pytest.approx(restitution, abs=0.1)
    assert heights.min() > -0.005  # it never sinks more than 5 mm into the table, let alone through it


@pytest.mark.parametrize("material", [{"density": 700.0}, {"mass": 0.05}])
def test_mass_properties_scale_like_the_scaled_solid(material):
    from synthgen.core import MeshGeometry
    from synthgen.physics import BodyMaterial, mass_properties

    box = trimesh.creation.box([0.04, 0.03, 0.02])
    box.apply_translation([0.01, 0.0, 0.0])
    body = BodyMaterial(**material)
    properties = mass_properties(MeshGeometry(box.vertices, box.faces), 1.3, body)
    reference = box.copy()
    reference.apply_scale(1.3)
    reference.density = body.density if body.mass is None else body.mass / reference.volume
    assert properties.mass == pytest.approx(reference.mass)
    np.testing.assert_allclose(properties.center, reference.center_mass, atol=1e-12)
    np.testing.assert_allclose(properties.inertia, reference.moment_inertia, rtol=1e-9, atol=1e-15)


@pytest.mark.slow  # coacd splits the tray once: about a minute on 2 cores (run with -m slow)
def test_a_mesh_file_tray_holds_what_is_dropped_into_it():
    pybullet_data = pytest.importorskip("pybullet_data", reason="pybullet_data (dev extra) holds the tray mesh")
    from synthgen.randomize.placement import Placement
    from synthgen.scene.assets import Primitive
    from synthgen.scene.containers import Container
    from synthgen.scene.tabletop import Category, TabletopSampler

    tray = Container("mesh", path=os.path.join(pybullet_data.getDataPath(), "tray", "tray_textured.obj"), scale=0.5)
    assert len(tray.collision) > 5 and tray.zone.rim_z > tray.zone.floor_z > 0
    categories = [Category("ball", Primitive("sphere", [0.02])), Category("box", Primitive("box", [0.04, 0.03, 0.02]))]
    sampler = TabletopSampler(categories, placement=Placement(count=[8, 8], rest="physics"), container=tray)
    spec = sampler.sample(np.random.default_rng(0), 160, 120)
    assert not spec.problems
    heights = sampler.last_drop.result.poses[:, 2, 3]
    assert np.all(heights > tray.zone.floor_z) and np.all(heights < tray.zone.floor_z + 0.06)  # on its floor
