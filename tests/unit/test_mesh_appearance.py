"""Mesh files keep their appearance; asset sets; UV projections; materials on file looks; lens model."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import trimesh

from synthgen.core import SceneObject, SceneSpec, distort_normalized, project_uv
from synthgen.core.color import srgb_to_linear
from synthgen.core.errors import ConfigError, InputError
from synthgen.core.scene_model import UV_PROJECTIONS
from synthgen.randomize.materials import MaterialRandomizer
from synthgen.scene.asset_sets import AssetFolder, find_assets
from synthgen.scene.assets import MeshFile, Primitive
from synthgen.scene.mesh_loading import MeshCache, load_mesh
from synthgen.scene.tabletop import Category
from tests.conftest import camera_at

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def layouts(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("layouts")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_assets.py"), "--layouts", str(out)], check=True,
                   capture_output=True)
    return out


def test_glb_texture_is_kept_with_its_uv():
    loaded = load_mesh("assets/textured_box.glb")
    (material,) = loaded.materials
    image = material.base_color_texture.image
    assert image[:, : image.shape[1] // 2].mean(axis=(0, 1))[0] > 150  # left half red
    assert image[:, image.shape[1] // 2:].mean(axis=(0, 1))[2] > 150  # right half blue
    uv = loaded.geometry.uv
    left = loaded.geometry.vertices[:, 0] < 0
    assert np.all(uv[left, 0] < 0.5 + 1e-9) and np.all(uv[~left, 0] > 0.5 - 1e-9)


def test_obj_mtl_texture_and_glb_materials_per_part():
    can = load_mesh("assets/label_can.obj")
    assert can.materials[0].has_texture and can.geometry.uv is not None
    mug = load_mesh("assets/two_material_mug.glb")
    assert mug.geometry.num_parts == 2
    by_name = {m.name: m for m in mug.materials}
    assert by_name["handle"].metallic == pytest.approx(0.8) and by_name["handle"].base_color[0] > 0.7
    assert by_name["glaze"].roughness == pytest.approx(0.3) and by_name["glaze"].base_color[1] > 0.8
    # one mesh for labels: every part's faces, in order
    assert mug.geometry.part_offsets[-1] == len(mug.geometry.faces)


def test_ply_vertex_colours_are_decoded_from_srgb():
    ball = load_mesh("assets/painted_ball.ply")
    top = np.argmax(ball.geometry.vertices[:, 2])
    assert np.allclose(ball.geometry.colors[top, :3], srgb_to_linear(np.array([230, 200, 40])), atol=0.01)
    assert ball.has_appearance


def test_plain_files_have_no_appearance_and_category_refuses_file_look():
    assert not load_mesh("assets/bottle.glb").has_appearance
    with pytest.raises(ConfigError, match="appearance: 'file' needs a mesh file with materials"):
        Category("bottle", MeshFile("assets/bottle.glb"), appearance="file")


def test_category_appearance_modes():
    asset = MeshFile("assets/textured_box.glb")
    rng = np.random.default_rng(0)
    file_look = Category("box", asset).draw(rng, 1, 1)
    assert len(file_look.materials) == 1 and np.allclose(file_look.color, 1.0)
    flat = Category("box", asset, appearance="category", color=[185, 30, 30], color_jitter=0).draw(rng, 1, 1)
    assert flat.materials == () and np.allclose(flat.color[:3], srgb_to_linear(np.array([185, 30, 30])))
    tinted = Category("box", asset, appearance="tint", color=[255, 128, 128], color_jitter=0).draw(rng, 1, 1)
    assert len(tinted.materials) == 1 and tinted.color[1] < 0.5 < tinted.color[0]


def test_y_up_files_are_turned_z_up(layouts):
    layout, sources = find_assets(layouts / "shapenet")
    assert layout == "shapenet"
    loaded = AssetFolder(str(layouts / "shapenet"), ids=["1a2b"]).load(0)
    extent = loaded.geometry.bounds[1] - loaded.geometry.bounds[0]
    assert extent[2] == pytest.approx(0.12, abs=1e-6)  # the can's height is along z again


@pytest.mark.parametrize("layout, count", [("bop", 2), ("gso", 2), ("shapenet", 2), ("plain", 3)])
def test_asset_layouts_are_detected_and_load(layouts, layout, count):
    folder = AssetFolder(str(layouts / layout))
    assert folder.layout == layout and len(folder) == count
    for index in range(len(folder)):
        assert len(folder.load(index).geometry.faces) > 0


def test_bop_models_are_millimetres_and_gso_finds_its_texture(layouts):
    ball = AssetFolder(str(layouts / "bop"), ids=[1]).load(0)
    assert np.max(ball.geometry.vertices[:, 2]) == pytest.approx(0.035, rel=1e-3)
    gso = AssetFolder(str(layouts / "gso"), ids=["red_blue_box"]).load(0)
    assert gso.materials[0].has_texture  # materials/textures/texture.png, not beside the MTL


def test_size_normalisation_and_ids(layouts):
    folder = AssetFolder(str(layouts / "plain"), size=[0.05, 0.06])
    rng = np.random.default_rng(1)
    for _ in range(10):
        drawn = folder.draw(rng)
        longest = np.max(drawn.geometry.bounds[1] - drawn.geometry.bounds[0]) * drawn.scale
        assert 0.05 - 1e-9 <= longest <= 0.06 + 1e-9
    with pytest.raises(ConfigError, match=r"ids: \['nope'\] not in"):
        AssetFolder(str(layouts / "plain"), ids=["nope"])


def test_asset_folder_errors_name_the_place(tmp_path, layouts):
    with pytest.raises(ConfigError, match="does not exist"):
        AssetFolder(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="holds no meshes"):
        AssetFolder(str(tmp_path / "empty"))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a_good.ply").write_bytes((layouts / "plain" / "ball.ply").read_bytes())
    (broken / "b_bad.glb").write_bytes(b"glTF\x02\x00\x00\x00garbage")
    folder = AssetFolder(str(broken))  # files are read when drawn...
    with pytest.raises(InputError, match=r"b_bad\.glb' could not be read"):
        folder.load(1)
    with pytest.raises(InputError, match=r"b_bad\.glb"):  # ...or all at once when asked
        AssetFolder(str(broken), check_files=True)
    bop = tmp_path / "bop" / "models"
    bop.mkdir(parents=True)
    (bop / "models_info.json").write_text(json.dumps({"1": {"diameter": 1.0}}))
    with pytest.raises(InputError, match=r"obj_000001\.ply' listed in .* is missing"):
        AssetFolder(str(tmp_path / "bop"))


def test_mesh_cache_reads_each_file_once_and_keeps_to_its_budget(layouts):
    cache = MeshCache(budget_mb=64)
    files = sorted((layouts / "plain").glob("*.*[by]"))  # box.glb, ball.ply
    for _ in range(5):
        for path in files:
            cache.get(path)
    assert cache.loads == len(files)
    tiny = MeshCache(budget_mb=0.001)
    for path in files:
        tiny.get(path)
    assert len(tiny) == 1 and tiny.loads == len(files)


@pytest.mark.parametrize("method", UV_PROJECTIONS)
def test_uv_projections_cover_unit_square(method):
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.1)
    uv = project_uv(sphere.vertices, method, sphere.vertex_normals)
    assert uv.shape == (len(sphere.vertices), 2) and uv.min() >= 0 and uv.max() <= 1
    if method == "sphere":
        assert uv[np.argmax(sphere.vertices[:, 2]), 1] == pytest.approx(1.0, abs=0.01)


def _file_look_spec():
    drawn = MeshFile("assets/label_can.obj").draw(None)
    obj = SceneObject(drawn.geometry, np.eye(4), color=np.ones(4), instance_id=1, category_id=1,
                      materials=drawn.materials)
    from synthgen.core import CategoryInfo
    return SceneSpec(camera_at([0, -1, 0], [0, 0, 0]), (obj,), categories=(CategoryInfo(1, "can"),))


def test_materials_randomizer_keeps_file_textures_and_varies_what_it_is_told():
    spec = _file_look_spec()
    texture = spec.objects[0].materials[0].base_color_texture
    randomizer = MaterialRandomizer(texture_probability=1.0, roughness=[0.1, 0.2], metallic=None,
                                    tint_saturation=[0.3, 0.3], brightness=[0.5, 0.5])
    varied = randomizer(spec, np.random.default_rng(0)).objects[0]
    assert varied.materials[0].base_color_texture is texture
    assert 0.1 <= varied.materials[0].roughness <= 0.2
    assert varied.materials[0].metallic == spec.objects[0].materials[0].metallic
    luminance = varied.color[:3] @ [0.2126, 0.7152, 0.0722]
    assert luminance == pytest.approx(0.5) and np.ptp(varied.color[:3]) > 0.05
    replaced = MaterialRandomizer(texture_probability=1.0, file_textures="replace")(spec, np.random.default_rng(0))
    assert replaced.objects[0].materials == () and replaced.objects[0].texture is not None


def test_image_textures_project_uv_on_meshes_without_uv():
    from synthgen.core import CategoryInfo
    ball = Primitive("sphere", [0.05]).geometry
    assert ball.uv is None
    spec = SceneSpec(camera_at([0, -1, 0], [0, 0, 0]), (SceneObject(ball, np.eye(4), instance_id=1, category_id=1),),
                     categories=(CategoryInfo(1, "ball"),))
    randomizer = MaterialRandomizer(texture_probability=1.0, uv_projection="sphere", categories=["ball"])
    first = randomizer(spec, np.random.default_rng(0)).objects[0]
    second = randomizer(spec, np.random.default_rng(1)).objects[0]
    assert first.mesh.uv is not None and first.mesh is second.mesh  # projected once, reused
    assert first.mesh.uv_wraps and first.mesh.texture_wraps  # u is an angle: drawn without a seam
    planar = MaterialRandomizer(texture_probability=1.0, uv_projection="planar", categories=["ball"])
    assert not planar(spec, np.random.default_rng(0)).objects[0].mesh.uv_wraps
    assert MaterialRandomizer(texture_probability=1.0, categories=["cube"])(spec, np.random.default_rng(0)).objects[0] \
        is spec.objects[0]


def test_lens_model_matches_opencv():
    rng = np.random.default_rng(0)
    points = rng.uniform(-0.5, 0.5, (50, 3)) + [0, 0, 2]
    K = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    coefficients = np.array([-0.2, 0.05, 0.001, -0.002, 0.01])
    expected, _ = cv2.projectPoints(points, np.zeros(3), np.zeros(3), K, coefficients)
    ours = distort_normalized(points[:, :2] / points[:, 2:], coefficients) @ K[:2, :2].T + K[:2, 2]
    assert np.allclose(ours, expected.reshape(-1, 2), atol=1e-9)


def test_glb_normal_map_emission_and_alpha_are_kept(tmp_path):
    from PIL import Image
    from trimesh.visual.material import PBRMaterial

    mesh = trimesh.creation.box(extents=[0.1, 0.1, 0.1])
    mesh.unmerge_vertices()
    normal = Image.fromarray(np.full((8, 8, 3), (128, 128, 255), np.uint8))
    glow = Image.fromarray(np.full((8, 8, 3), 255, np.uint8))
    leaf = Image.fromarray(np.dstack([np.full((8, 8, 3), 60, np.uint8), np.tile([0, 255], (8, 4)).astype(np.uint8)]))
    material = PBRMaterial(baseColorTexture=leaf, normalTexture=normal, emissiveTexture=glow,
                           emissiveFactor=[1.0, 0.5, 0.0], alphaMode="MASK", alphaCutoff=0.4, doubleSided=True)
    mesh.visual = trimesh.visual.TextureVisuals(uv=np.random.default_rng(0).uniform(size=(len(mesh.vertices), 2)),
                                                material=material)
    mesh.export(tmp_path / "leaf.glb")
    (loaded,) = load_mesh(tmp_path / "leaf.glb").materials
    assert loaded.normal_texture is not None and loaded.emissive_texture is not None
    assert np.allclose(loaded.emissive, [1.0, 0.5, 0.0])
    assert loaded.alpha_mode == "MASK" and loaded.alpha_cutoff == pytest.approx(0.4) and loaded.double_sided
    assert loaded.base_color_texture.image.shape[2] == 4  # coverage kept as alpha
    assert loaded.metallic == 1.0 and loaded.roughness == 1.0  # glTF's defaults for absent factors


def _seam_jump(renderer, wraps: bool) -> float:
    """Largest jump of intensity across the sphere projection's u = 0/1 meridian, rendered facing it."""
    import trimesh

    from synthgen.core import MeshGeometry, SceneObject, Texture, project_uv
    from tests.conftest import camera_at, spec_of

    sphere = trimesh.creation.uv_sphere(radius=0.1, count=[24, 24])
    geometry = MeshGeometry(sphere.vertices, sphere.faces, smooth=True, uv=project_uv(sphere.vertices, "sphere"),
                            uv_wraps=wraps)
    # A texture continuous across the wrap (cos of the angle): any jump at the meridian is the seam.
    u = (np.arange(256) + 0.5) / 256
    row = (128 + 100 * np.cos(2 * np.pi * u)).astype(np.uint8)
    texture = Texture(np.repeat(np.repeat(row[None, :, None], 3, axis=2), 64, axis=0))
    obj = SceneObject(geometry, np.eye(4), color=[1.0, 1.0, 1.0, 1.0], texture=texture, instance_id=1, category_id=1)
    # u = 0/1 is the meridian at angle -pi about z (the -x side): the camera looks at it from -x.
    render = renderer.render(spec_of(camera_at([-0.45, 0.0, 0.0], [0.0, 0.0, 0.0], size=(96, 96), fov=40.0), obj))
    gray = render.image.astype(np.float64).mean(axis=2)
    inside = render.instance_ids == 1
    rows = np.flatnonzero(inside[:, 48])
    band = gray[rows[5]:rows[-5], 40:57]  # the meridian projects to the central column
    return float(np.abs(np.diff(band, axis=1)).max())


def test_wrapping_projection_has_no_seam():
    from synthgen.render.pyrender_backend import PyrenderRenderer

    renderer = PyrenderRenderer(96, 96)
    seam, seamless = _seam_jump(renderer, wraps=False), _seam_jump(renderer, wraps=True)
    assert seam > 40 and seamless < 12, (seam, seamless)
