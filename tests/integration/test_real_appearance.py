"""Real appearance, rendered: file looks, colour management, camera exposure, environment light,
real photos as textures and backgrounds, and the sensor model's label consistency."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from synthgen.augment.sensor import SensorModel
from synthgen.commands.generate import generate
from synthgen.core import CategoryInfo, EnvironmentMap, Light, SceneObject, SceneSpec, sample_rng
from synthgen.core.color import srgb_to_linear
from synthgen.core.errors import ConfigError, InputError
from synthgen.io.store import read_sample
from synthgen.labels.checks import check_sample
from synthgen.labels.derive import LabelDeriver
from synthgen.randomize.background import BackgroundRandomizer
from synthgen.randomize.environment import EnvironmentRandomizer, load_environment_map, upward_irradiance
from synthgen.randomize.exposure import ExposureRandomizer
from synthgen.randomize.materials import MaterialRandomizer
from synthgen.render.environment_light import approximate_lighting
from synthgen.render.pyrender_backend import PyrenderRenderer
from synthgen.scene.assets import MeshFile, Primitive
from synthgen.scene.tabletop import Category, TabletopSampler
from tests.conftest import SMALL_RUN, camera_at
from tests.helpers import write_shapes_dataset
from tests.resources import FRUITS

SIZE = (160, 120)
CATEGORY = (CategoryInfo(1, "thing"),)


@pytest.fixture(scope="module")
def renderer():
    return PyrenderRenderer(*SIZE)


def _camera(eye, target=(0, 0, 0.03), fov=40.0):
    return camera_at(eye, target, size=SIZE, fov=fov)


def _placed(path: str, x: float = 0.0, instance_id: int = 1) -> SceneObject:
    drawn = MeshFile(path).draw(None)
    pose = np.eye(4)
    pose[:3, 3] = [x, 0, 0.03]
    return SceneObject(drawn.geometry, pose, color=np.ones(4), instance_id=instance_id, category_id=1,
                       materials=drawn.materials)


def _front_light(intensity=np.pi):
    return (Light("directional", np.ones(3), intensity, direction=np.array([0.0, 1.0, -0.3])),)


def test_half_red_half_blue_glb_renders_both_colours(renderer):
    spec = SceneSpec(_camera([0, -0.3, 0.05]), (_placed("assets/textured_box.glb"),), _front_light(),
                     CATEGORY, ambient=np.full(3, 0.2))
    out = renderer.render(spec)
    mask = out.instance_ids == 1
    columns = np.nonzero(mask.any(axis=0))[0]
    middle = (columns.min() + columns.max()) / 2
    left = out.image[mask & (np.arange(SIZE[0]) < middle - 3)[None, :]].mean(axis=0)
    right = out.image[mask & (np.arange(SIZE[0]) > middle + 3)[None, :]].mean(axis=0)
    assert left[0] > 2 * left[2] and right[2] > 2 * right[0]  # seen from -y: -x (red) is on the left


def test_several_materials_are_one_instance_and_vertex_colours_show(renderer):
    spec = SceneSpec(_camera([0, -0.35, 0.12]), (_placed("assets/two_material_mug.glb", -0.05),
                                                  _placed("assets/painted_ball.ply", 0.07, instance_id=2)),
                     _front_light(), CATEGORY, ambient=np.full(3, 0.3))
    out = renderer.render(spec)
    mug = out.image[out.instance_ids == 1].astype(int)
    reds = (mug[:, 0] > 100) & (mug[:, 0] > 2.5 * mug[:, 1])
    whites = mug.min(axis=1) > 150
    assert reds.sum() > 8 and whites.sum() > 200  # the red handle and the white body: one id
    assert set(np.unique(out.instance_ids)) == {0, 1, 2}
    ball = np.nonzero(out.instance_ids == 2)
    top = out.image[ball[0].min() + 2, int(np.median(ball[1]))].astype(int)
    bottom = out.image[ball[0].max() - 2, int(np.median(ball[1]))].astype(int)
    assert top[0] > top[2] + 40 and bottom[1] > bottom[0] + 20  # yellow top, green bottom


def _flat_red_spec(**changes):
    box = Primitive("box", [0.3, 0.3, 0.02]).geometry
    color = np.append(srgb_to_linear(np.array([185, 30, 30])), 1.0)
    obj = SceneObject(box, np.eye(4), color=color, instance_id=1, category_id=1, roughness=1.0)
    light = (Light("directional", np.ones(3), np.pi, direction=np.array([0.0, 0.0, -1.0])),)
    spec = SceneSpec(_camera([0, 0, 0.5], target=(0, 0.001, 0)), (obj,), light, CATEGORY, ambient=np.zeros(3),
                     background=np.full(3, 0.5))
    import dataclasses
    return dataclasses.replace(spec, **changes)


def test_configured_srgb_colour_comes_out_on_the_lit_side(renderer):
    # A Lambertian surface under an irradiance of pi W/m^2 returns its albedo: the configured colour.
    pixel = renderer.render(_flat_red_spec()).image[60, 80].astype(int)
    assert abs(pixel[0] - 185) <= 8 and pixel[1] <= 42 and pixel[2] <= 42  # + the dielectric's 4% specular
    assert pixel[1] == pixel[2]  # red stays red: no shift towards magenta or orange
    hsv = cv2.cvtColor(pixel.astype(np.uint8)[None, None], cv2.COLOR_RGB2HSV)[0, 0]
    assert min(hsv[0], 180 - hsv[0]) <= 1


def test_exposure_and_white_balance_apply_in_linear_light(renderer):
    base = renderer.render(_flat_red_spec()).image
    brighter = renderer.render(_flat_red_spec(exposure_ev=1.0)).image
    ratio = srgb_to_linear(brighter[60, 80, 0].astype(float)) / srgb_to_linear(base[60, 80, 0].astype(float))
    assert ratio == pytest.approx(2.0, rel=0.05)
    cool = renderer.render(_flat_red_spec(white_balance=np.array([0.5, 1.0, 2.0]), ambient=np.full(3, 0.0))).image
    assert cool[60, 80, 0] < base[60, 80, 0] and cool[60, 80, 2] > base[60, 80, 2]
    corner = renderer.render(_flat_red_spec(exposure_ev=1.0, objects=())).image[0, 0]
    assert corner[0] == round(float(np.clip(1.055 * (2 * srgb_to_linear(128.0)) ** (1 / 2.4) - 0.055, 0, 1)) * 255)


def test_exposure_randomizer_is_seeded_and_keeps_luminance():
    spec = _flat_red_spec()
    first = ExposureRandomizer()(spec, np.random.default_rng(3))
    again = ExposureRandomizer()(spec, np.random.default_rng(3))
    assert first.exposure_ev == again.exposure_ev and np.array_equal(first.white_balance, again.white_balance)
    assert first.white_balance @ [0.2126, 0.7152, 0.0722] == pytest.approx(1.0)


def _sun_map(elevation_deg=60.0, azimuth_deg=0.0, width=256):
    height = width // 2
    radiance = np.full((height, width, 3), 0.05, np.float32)
    row = int((90 - elevation_deg) / 180 * height)
    columns = (int(azimuth_deg / 360 * width) + np.array([-1, 0])) % width  # straddling the azimuth
    radiance[row - 1:row + 2, columns] = 400.0
    return radiance


def test_environment_lights_point_at_the_sun_and_turn_with_the_map():
    env = EnvironmentMap(_sun_map(), rotation_deg=0.0)
    ambient, lights = approximate_lighting(env)
    towards = -lights[0].direction
    assert np.degrees(np.arcsin(towards[2])) == pytest.approx(60, abs=3)
    assert np.degrees(np.arctan2(towards[1], towards[0])) == pytest.approx(0, abs=3)
    turned = -approximate_lighting(EnvironmentMap(_sun_map(), rotation_deg=90.0))[1][0].direction
    assert np.degrees(np.arctan2(turned[1], turned[0])) == pytest.approx(90, abs=3)
    uniform = EnvironmentMap(np.full((32, 64, 3), 0.25, np.float32))
    ambient, lights = approximate_lighting(uniform)
    assert np.allclose(ambient, 0.25, atol=0.01) and all(light.intensity < 0.02 for light in lights)


def test_environment_is_seen_behind_the_scene_and_lights_it(renderer):
    white = EnvironmentMap(np.full((64, 128, 3), 0.5, np.float32))
    spec = _flat_red_spec(lights=(), environment=white)
    out = renderer.render(spec)
    lit = out.image[60, 80].astype(int)
    # uniform radiance L: a Lambertian surface returns albedo * L, the background L itself
    assert abs(lit[0] - round(float(np.clip(1.055 * (0.485 * 0.5) ** (1 / 2.4) - 0.055, 0, 1)) * 255)) <= 6
    empty = renderer.render(_flat_red_spec(lights=(), environment=white, objects=())).image
    assert np.all(np.abs(empty.astype(int) - 188) <= 1)  # sRGB of linear 0.5


def test_environment_randomizer_sky_and_maps(tmp_path):
    spec = _flat_red_spec()
    sky = EnvironmentRandomizer(irradiance=[2.0, 2.0])(spec, np.random.default_rng(0))
    assert sky.lights == () and sky.environment is not None
    assert upward_irradiance(sky.environment.radiance) * sky.environment.strength == pytest.approx(2.0, rel=1e-3)
    hdr = tmp_path / "studio.hdr"
    cv2.imwrite(str(hdr), _sun_map(width=64)[..., ::-1].copy())
    assert load_environment_map(hdr).max() == pytest.approx(400.0, rel=0.02)
    jpg = tmp_path / "room.jpg"
    cv2.imwrite(str(jpg), np.full((32, 64, 3), 128, np.uint8))
    mapped = EnvironmentRandomizer(maps=str(tmp_path), irradiance=[3.0, 3.0])(spec, np.random.default_rng(0))
    assert upward_irradiance(mapped.environment.radiance) * mapped.environment.strength == pytest.approx(3.0, rel=1e-3)
    (tmp_path / "bad").mkdir()
    cv2.imwrite(str(tmp_path / "bad" / "square.png"), np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(InputError, match=r"square\.png' is 32x32; an equirectangular map is twice as wide"):
        EnvironmentRandomizer(maps=str(tmp_path / "bad"))
    with pytest.raises(ConfigError, match=r"maps\[0\]: .* not found"):
        EnvironmentRandomizer(maps=[str(tmp_path / "nope.hdr")])


def test_exr_maps_are_read(tmp_path, monkeypatch):
    # OpenCV reads and writes OpenEXR only when enabled before first use, as load_environment_map does.
    monkeypatch.setenv("OPENCV_IO_ENABLE_OPENEXR", "1")
    exr = tmp_path / "map.exr"
    assert cv2.imwrite(str(exr), _sun_map(width=64)[..., ::-1].copy())
    assert load_environment_map(exr).max() == pytest.approx(400.0, rel=1e-3)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    write_shapes_dataset(root, images=4, seed=0)
    return root


def _reds(image: np.ndarray) -> int:
    """Pixels of the shapes set's red squares (its grey noise never comes close)."""
    image = image.astype(int)
    return int(((image[..., 0] > 150) & (image[..., 1] < 90)).sum())


@pytest.mark.parametrize("mode", ["inpaint", "crop"])
def test_dataset_backgrounds_hold_no_labeled_objects(shapes, mode):
    randomizer = BackgroundRandomizer(kinds=["dataset"], dataset=str(shapes), dataset_mode=mode)
    spec = _flat_red_spec(objects=())
    for index in range(6):
        image = randomizer(spec, sample_rng(0, index)).background_image
        assert image.shape == (SIZE[1], SIZE[0], 3) and _reds(image) == 0


def test_object_textures_are_the_categorys_own_pixels(shapes):
    randomizer = MaterialRandomizer(texture_probability=1.0, texture_dataset=str(shapes), textures=[],
                                    categories=["square"], dataset_categories={"square": "square"})
    ball = SceneObject(Primitive("sphere", [0.05]).geometry, np.eye(4), instance_id=1, category_id=1)
    spec = SceneSpec(_flat_red_spec().camera, (ball,), categories=(CategoryInfo(1, "square"),))
    texture = randomizer(spec, np.random.default_rng(0)).objects[0].texture
    mean = texture.image.reshape(-1, 3).mean(axis=0)
    assert mean[0] > 150 and mean[1] < 90  # the red squares' surface, not the grey around them
    with pytest.raises(ConfigError, match=r"texture_dataset: .*not found"):
        MaterialRandomizer(texture_dataset=str(shapes / "nope"))


@pytest.mark.realdata
def test_fruit_textures_match_the_real_fruit_colours():
    from synthgen.randomize.real_photos import DatasetPhotos

    photos = DatasetPhotos(str(FRUITS), "texture_dataset")
    assert photos.category_names == ["date", "fig", "hazelnut"]
    rng = np.random.default_rng(0)
    means = {name: np.mean([photos.object_patch(rng, name).reshape(-1, 3).mean(axis=0) for _ in range(8)], axis=0)
             for name in photos.category_names}
    # dates are dark red-brown, darker than hazelnuts; no patch is the white cloth
    assert means["date"][0] > means["date"][2] and means["date"].mean() < means["hazelnut"].mean()
    assert all(mean.mean() < 170 for mean in means.values())


def _tabletop_sample(index=0):
    sampler = TabletopSampler([Category("box", Primitive("box", [0.06, 0.06, 0.06], keypoints="corners"))],
                              randomize={})
    spec = sampler.sample(sample_rng(0, index), *SIZE)
    return LabelDeriver()(PyrenderRenderer(*SIZE).render(spec), spec, index)


def test_lens_distortion_warps_labels_consistently():
    sample = _tabletop_sample()
    model = SensorModel(lens_distortion={"probability": 1.0, "k1": [-0.3, -0.3], "k2": [0.05, 0.05], "p": 0.0})
    distorted = model(sample, 0)
    assert check_sample(distorted) == []
    coefficients = distorted.camera.distortion
    assert coefficients[0] == pytest.approx(-0.3)
    K_cv = sample.camera.K.copy()
    K_cv[:2, 2] -= 0.5
    # Undistorting the written image with the written K and coefficients gives the pinhole id map back.
    restored = cv2.undistort(distorted.instance_ids.astype(np.float32), K_cv, coefficients)
    interior = np.zeros(sample.instance_ids.shape, bool)
    interior[20:-20, 25:-25] = True
    edges = cv2.dilate((cv2.Laplacian(sample.instance_ids.astype(np.float32), cv2.CV_32F) != 0).astype(np.uint8),
                       np.ones((3, 3), np.uint8)).astype(bool)
    agree = (np.rint(restored) == sample.instance_ids)[interior & ~edges].mean()
    assert agree > 0.995
    # Keypoints moved with the lens: undistorting them gives the pinhole keypoints back.
    for before, after in zip(sample.instances, distorted.instances):
        points = after.keypoints[:, :2] - 0.5
        back = cv2.undistortPointsIter(points[:, None], K_cv, coefficients, None, K_cv,
                                       (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-9)).reshape(-1, 2)
        assert np.allclose(back + 0.5, before.keypoints[:, :2], atol=0.01)


def test_depth_of_field_blurs_away_from_focus_and_keeps_labels():
    sample = _tabletop_sample(1)
    model = SensorModel(depth_of_field={"probability": 1.0, "f_number": [1.0, 1.0], "focus": [0.05, 0.05]})
    blurred = model(sample, 0)
    assert blurred.augmentations[-1].startswith("DepthOfField")
    assert np.array_equal(blurred.instance_ids, sample.instance_ids) and check_sample(blurred) == []
    sharpness = cv2.Laplacian(cv2.cvtColor(sample.image, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()
    assert cv2.Laplacian(cv2.cvtColor(blurred.image, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var() < 0.5 * sharpness


def test_sensor_noise_and_jpeg_are_seeded():
    sample = _tabletop_sample(2)
    model = SensorModel(noise={"probability": 1.0}, jpeg_quality=[70, 70])
    first, again = model(sample, 5), model(sample, 5)
    assert np.array_equal(first.image, again.image) and not np.array_equal(first.image, sample.image)
    assert first.augmentations[-2].startswith("SensorNoise") and first.augmentations[-1] == "JPEG(quality=70)"


def test_sensor_model_refuses_bad_settings():
    with pytest.raises(ConfigError, match=r"lens_distortion: unknown settings \['k4'\]"):
        SensorModel(lens_distortion={"k4": 0.1})
    with pytest.raises(ConfigError, match=r"depth_of_field\.f_number"):
        SensorModel(depth_of_field={"f_number": [0.1, 2]})


def test_distortion_is_written_with_k_and_motion_blur_runs_on_clips(generate_cfg, tmp_path):
    cfg = generate_cfg(f"out={tmp_path / 'still'}", "n=2", *SMALL_RUN, "augment=sensor",
                       "augment.lens_distortion.probability=1.0", "augment.depth_of_field=null")
    generate(cfg)
    record = json.loads((tmp_path / "still" / "labels" / "000000.json").read_text())
    assert len(record["camera"]["distortion"]) == 5
    coco = json.loads(next((tmp_path / "still").glob("annotations/*.json")).read_text())
    assert coco["images"][0]["camera"]["distortion"] == record["camera"]["distortion"]
    clip = ("sequence.frames=3", "scene=tabletop", "motion=constant_velocity")
    plain = generate_cfg(f"out={tmp_path / 'plain'}", "n=1", *SMALL_RUN, *clip)
    blurred = generate_cfg(f"out={tmp_path / 'blur'}", "n=1", *SMALL_RUN, *clip, "augment=sensor",
                           "augment.lens_distortion=null", "augment.transforms=[]", "augment.noise=null",
                           "augment.jpeg_quality=null", "augment.depth_of_field=null")
    generate(plain)
    generate(blurred)
    a = read_sample(tmp_path / "plain", 1)
    b = read_sample(tmp_path / "blur", 1)
    assert b.augmentations and b.augmentations[0].startswith("MotionBlur")
    assert np.array_equal(a.instance_ids, b.instance_ids) and not np.array_equal(a.image, b.image)
    with pytest.raises(ConfigError, match="not supported with sequence.frames > 1"):
        generate(generate_cfg(f"out={tmp_path / 'bad'}", "n=1", *SMALL_RUN, *clip, "augment=sensor"))


def test_file_textures_are_uploaded_once_across_samples(generate_cfg):
    from synthgen.registry import instantiate

    cfg = generate_cfg("scene=tabletop_textured", "scene.randomize.materials.texture_probability=0",
                       "scene.randomize.table.texture_probability=0", "~scene.randomize.distractors")
    sampler = instantiate(cfg.scene, "scene")
    renderer = PyrenderRenderer(*SIZE)
    uploads = []
    for index in range(12):
        renderer.render(sampler.sample(sample_rng(0, index), *SIZE), amodal=False)
        uploads.append(dict(renderer._textures.items()))
    # The box's and the can's textures: two uploads, the same objects in every later sample.
    assert len(uploads[-1]) == 2
    assert all(uploads[-1][key] is texture for key, texture in uploads[3].items())


def test_emission_renders_at_its_radiance_in_the_dark(renderer):
    import dataclasses

    from synthgen.core import Material

    spec = _flat_red_spec(lights=(), ambient=np.zeros(3), background=np.zeros(3))
    surface = Material(base_color=np.array([0.0, 0.0, 0.0, 1.0]), emissive=np.array([1.0, 0.25, 0.0]))
    glowing = dataclasses.replace(spec.objects[0], color=np.ones(4), materials=(surface,))
    pixel = renderer.render(dataclasses.replace(spec, objects=(glowing,))).image[60, 80].astype(int)
    assert np.abs(pixel - [255, 137, 0]).max() <= 2  # sRGB of linear (1, 0.25, 0)


def test_lens_distortion_moves_polylines_with_the_lens(generate_cfg):
    from synthgen.core import distort_normalized
    from synthgen.registry import instantiate

    sampler = instantiate(generate_cfg("scene=road").scene, "scene")
    spec = sampler.sample(sample_rng(0, 0), *SIZE)
    sample = LabelDeriver()(PyrenderRenderer(*SIZE).render(spec), spec, 0)
    assert sample.polylines
    model = SensorModel(lens_distortion={"probability": 1.0, "k1": [-0.2, -0.2], "k2": [0.0, 0.0], "p": 0.0})
    distorted = model(sample, 0)
    assert check_sample(distorted) == []
    K = sample.camera.K
    before = np.concatenate([line.points[:, :2] for line in sample.polylines])
    after = np.concatenate([line.points[:, :2] for line in distorted.polylines])
    expected = distort_normalized((before - K[:2, 2]) / [K[0, 0], K[1, 1]], distorted.camera.distortion)
    expected = expected * [K[0, 0], K[1, 1]] + K[:2, 2]
    inside = (expected[:, 0] >= 0) & (expected[:, 0] < SIZE[0]) & (expected[:, 1] >= 0) & (expected[:, 1] < SIZE[1])
    # every vertex that stays in the image is where the lens puts it (clipping adds border points)
    matched = [np.min(np.linalg.norm(after - point, axis=1)) for point in expected[inside]]
    assert inside.sum() > 3 and np.max(matched) < 1e-6


def test_a_file_of_several_parts_takes_the_category_colour_on_every_part(renderer):
    import dataclasses

    file_look = _placed("assets/two_material_mug.glb")
    spec = SceneSpec(_camera([0, -0.35, 0.12]), (file_look,), _front_light(), CATEGORY, ambient=np.full(3, 0.3))
    renderer.render(spec)  # the parts' own materials were set once...
    green = np.append(srgb_to_linear(np.array([40, 170, 40])), 1.0)
    flat = dataclasses.replace(file_look, materials=(), color=green, roughness=1.0)
    out = renderer.render(dataclasses.replace(spec, objects=(flat,)))
    pixels = out.image[out.instance_ids == 1].astype(int)
    # ...and are all replaced: no red handle, no white glaze left
    greenish = (pixels[:, 1] > pixels[:, 0] + 20) & (pixels[:, 1] > pixels[:, 2] + 20)
    assert greenish.mean() > 0.95


def test_crop_backgrounds_keep_the_surface_at_its_true_scale(tmp_path):
    """A crowded photo leaves a small object-free crop. Magnified to the output it became blocks;
    it is now shown at the scale the whole photo has in the output (mirror-tiled): a 4-pixel
    stripe pattern of a 400x300 photo has a 6.4-pixel period in a 640x480 background."""
    import json

    from synthgen.randomize.real_photos import DatasetPhotos

    stripes = np.where((np.arange(400) // 2) % 2 == 0, 220, 40).astype(np.uint8)
    photo = np.repeat(np.repeat(stripes[None, :, None], 300, axis=0), 3, axis=2)
    (tmp_path / "images").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.png"), photo)
    (tmp_path / "annotations.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.png", "width": 400, "height": 300}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 200, 300], "area": 60000,
                         "iscrowd": 0}],  # only the right 200 columns are free of objects
        "categories": [{"id": 1, "name": "thing"}]}))
    photos = DatasetPhotos(str(tmp_path), "dataset")
    for seed in range(4):
        background = photos.clean_photo(np.random.default_rng(seed), 640, 480, "crop").astype(float)
        row = background[240, :, 0] > 130
        rises = np.flatnonzero(row[1:] & ~row[:-1])
        period = float(np.median(np.diff(rises)))
        assert abs(period - 6.4) <= 1.0, period
