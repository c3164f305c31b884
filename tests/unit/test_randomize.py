"""Randomizers: ranges validated at construction, draws only from the injected generator."""

import cv2
import numpy as np
import pytest

from synthgen.core import sample_rng
from synthgen.core.caching import ByteBudgetCache
from synthgen.core.color import kelvin_to_linear_rgb, linear_to_srgb, srgb_to_linear
from synthgen.core.errors import ConfigError, InputError
from synthgen.randomize.background import BackgroundRandomizer
from synthgen.randomize.camera import ForwardCamera, LookAtCamera
from synthgen.randomize.lighting import Lighting
from synthgen.randomize.materials import MaterialRandomizer
from synthgen.randomize.placement import Placement
from synthgen.randomize.textures import PROCEDURAL_TEXTURES, ImageFolder, PatternPool, procedural_texture
from synthgen.scene.assets import Primitive
from synthgen.scene.distractors import DistractorRandomizer
from synthgen.scene.tabletop import Category, TabletopSampler

WIDTH, HEIGHT = 80, 60


def _scene(seed=0, **kwargs):
    sampler = TabletopSampler(
        [Category("cube", Primitive("box", [0.06, 0.06, 0.06], keypoints="corners")),
         Category("can", Primitive("cylinder", [0.03, 0.1]))],
        Placement(count=[3, 5], region_radius=0.15), **kwargs,
    )
    return sampler.sample(sample_rng(seed, 0), WIDTH, HEIGHT)


def _randomizers():
    return [
        MaterialRandomizer(roles=["instance", "support"], texture_probability=0.7, texture_size=32),
        MaterialRandomizer(roles=["instance", "support"], texture_probability=0.7, texture_size=32, pattern_pool=3),
        BackgroundRandomizer(kinds=["color", "procedural"]),
        DistractorRandomizer(count=[2, 3], floating_probability=0.5),
    ]


@pytest.mark.parametrize("randomizer", _randomizers(), ids=lambda r: type(r).__name__)
def test_randomizer_is_a_pure_function_of_the_generator(randomizer):
    spec = _scene()
    state = np.random.get_state()[1].copy()
    first = randomizer(spec, sample_rng(3, 1))
    second = randomizer(spec, sample_rng(3, 1))
    other = randomizer(spec, sample_rng(3, 2))
    assert np.array_equal(np.random.get_state()[1], state)  # the global numpy RNG is never touched
    assert _fingerprint(first) == _fingerprint(second)
    assert _fingerprint(first) != _fingerprint(other)
    assert len(spec.objects) <= len(first.objects)  # the input scene is not modified


def _fingerprint(spec):
    parts = [spec.background.tobytes(), b"" if spec.background_image is None else spec.background_image.tobytes()]
    for obj in spec.objects:
        parts += [obj.pose.tobytes(), obj.color.tobytes(), np.float64(obj.scale).tobytes(),
                  b"" if obj.texture is None else obj.texture.image.tobytes(), obj.role.encode()]
    return b"".join(parts)


@pytest.mark.parametrize("build, key", [
    (lambda: Lighting(kinds=["laser"]), "kinds"),
    (lambda: Lighting(temperature_k=[500, 6500]), "temperature_k[0]"),
    (lambda: Lighting(spot_cone_deg=[30, 20]), "spot_cone_deg"),
    (lambda: LookAtCamera(roll_deg=[-200, 0]), "roll_deg[0]"),
    (lambda: LookAtCamera(focal_length_mm=[0, 50]), "focal_length_mm[0]"),
    (lambda: ForwardCamera(pitch_deg=[0, 95]), "pitch_deg[1]"),
    (lambda: Placement(rest="sideways"), "rest"),
    (lambda: Placement(count=[5, 2]), "count"),
    (lambda: MaterialRandomizer(roles=["table"]), "roles"),
    (lambda: MaterialRandomizer(textures=["plaid"]), "textures"),
    (lambda: MaterialRandomizer(roughness=[0.2, 1.5]), "roughness[1]"),
    (lambda: MaterialRandomizer(color="palette"), "palette"),
    (lambda: MaterialRandomizer(pattern_pool=-1), "pattern_pool"),
    (lambda: MaterialRandomizer(pattern_pool=2.5), "pattern_pool"),
    (lambda: MaterialRandomizer(texture_folder="/no/such/folder"), "texture_folder"),
    (lambda: BackgroundRandomizer(kinds=["images"]), "image_folder"),
    (lambda: BackgroundRandomizer(kinds=["video"]), "kinds"),
    (lambda: DistractorRandomizer(shapes=["teapot"]), "shapes"),
    (lambda: DistractorRandomizer(floating_depth=[0.5, 1.5]), "floating_depth[1]"),
])
def test_bad_ranges_fail_at_construction_naming_the_key(build, key):
    with pytest.raises(ConfigError) as error:
        build()
    assert str(error.value).startswith(key)


def test_lighting_kinds_colours_and_irradiance():
    lighting = Lighting(num_lights=[6, 6], kinds=["directional", "point", "spot"], intensity=[2.0, 2.0],
                        temperature_k=[2700, 2700], distance=[2.0, 2.0])
    _, lights = lighting.sample(np.random.default_rng(0))
    assert {light.kind for light in lights} == {"directional", "point", "spot"}
    for light in lights:
        expected = 2.0 if light.kind == "directional" else 2.0 * 2.0**2  # candela = irradiance * d^2
        assert light.intensity == pytest.approx(expected)
        assert light.color[0] > light.color[2]  # 2700 K is warm
        if light.kind != "directional":
            assert np.linalg.norm(light.position - lighting.target) == pytest.approx(2.0)
    warm, daylight, sky = (kelvin_to_linear_rgb(k) for k in (2700, 6500, 10000))
    assert warm[2] < daylight[2] and sky[0] < daylight[0] and np.all(daylight > 0.9)


def test_colour_conversions_are_inverse():
    values = np.array([[0, 10, 128], [200, 255, 3]], dtype=float)
    assert np.allclose(linear_to_srgb(srgb_to_linear(values)), values)


def test_focal_length_sets_the_field_of_view():
    camera = LookAtCamera(focal_length_mm=[50, 50], sensor_height_mm=24.0).sample(np.random.default_rng(0), 64, 48)
    assert camera.K[1, 1] == pytest.approx(50 / 24 * 48)


def test_roll_turns_the_image_about_the_optical_axis():
    level = LookAtCamera(elevation_deg=[30, 30], azimuth_deg=[0, 0], target_jitter=0, roll_deg=[0, 0])
    rolled = LookAtCamera(elevation_deg=[30, 30], azimuth_deg=[0, 0], target_jitter=0, roll_deg=[90, 90])
    a, b = (rig.sample(np.random.default_rng(0), 64, 64) for rig in (level, rolled))
    assert np.allclose(a.position, b.position)
    point = np.array([[0.0, 0.0, 0.3]])  # above the target: up in the level image
    (ua, va), (ub, vb) = a.project(point)[0][0] - 32, b.project(point)[0][0] - 32
    assert va < -5 and abs(ua) < 1e-6
    assert np.allclose([ub, vb], [va, -ua], atol=1e-6) or np.allclose([ub, vb], [-va, ua], atol=1e-6)


def test_forward_camera_looks_down_the_road_from_its_height():
    camera = ForwardCamera(height_m=[1.65, 1.65], lateral_m=[0, 0], pitch_deg=[0, 0], yaw_deg=[0, 0],
                           roll_deg=[0, 0]).sample(np.random.default_rng(0), 64, 48)
    assert np.allclose(camera.position, [0, 0, 1.65])
    uv, z = camera.project(np.array([[50.0, 0.0, 1.65]]))
    assert np.allclose(uv[0], [32, 24]) and z[0] == pytest.approx(50.0)


@pytest.mark.parametrize("seed", range(4))
def test_stable_rest_puts_a_face_of_a_box_on_the_table(seed):
    sampler = TabletopSampler([Category("slab", Primitive("box", [0.1, 0.05, 0.02]))],
                              Placement(count=[4, 4], rest="stable", region_radius=0.3))
    spec = sampler.sample(sample_rng(seed, 0), WIDTH, HEIGHT)
    for obj in spec.instances:
        vertices = obj.world_vertices()
        assert vertices[:, 2].min() == pytest.approx(0.0, abs=1e-9)
        # A face down: one of the box's axes is vertical, so 4 corners touch the table.
        assert np.sum(np.isclose(vertices[:, 2], 0.0, atol=1e-9)) >= 4
        assert np.isclose(np.abs(obj.pose[2, :3]), 1.0).any()


def test_materials_apply_only_to_the_chosen_roles():
    spec = _scene()
    textured = MaterialRandomizer(roles=["support"], texture_probability=1.0, texture_size=16)(spec, sample_rng(0, 0))
    for before, after in zip(spec.objects, textured.objects):
        if before.role == "support":
            assert after.texture is not None and np.allclose(after.color[:3], 1.0)
        else:
            assert after is before


def test_texture_folder_images_are_used_and_bad_files_named(tmp_path):
    image = np.zeros((8, 12, 3), np.uint8)
    image[:, :6] = (10, 200, 30)
    cv2.imwrite(str(tmp_path / "a.png"), image[..., ::-1])
    spec = _scene()
    randomizer = MaterialRandomizer(texture_probability=1.0, texture_folder=str(tmp_path), folder_probability=1.0)
    out = randomizer(spec, sample_rng(0, 0))
    assert all(np.array_equal(obj.texture.image, image) for obj in out.instances)
    (tmp_path / "b.jpg").write_bytes(b"not an image")
    folder = ImageFolder(str(tmp_path), "texture_folder")
    with pytest.raises(InputError, match="b.jpg"):
        folder.load(1)


def test_empty_texture_folder_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="texture_folder: folder .* holds no images"):
        MaterialRandomizer(texture_folder=str(tmp_path))


@pytest.mark.parametrize("kind", PROCEDURAL_TEXTURES)
def test_procedural_textures_blend_the_two_colours(kind):
    colors = (np.array([255.0, 0, 0]), np.array([0.0, 0, 255]))
    first = procedural_texture(kind, np.random.default_rng(1), 64, colors, 4.0)
    second = procedural_texture(kind, np.random.default_rng(1), 64, colors, 4.0)
    assert first.shape == (64, 64, 3) and first.dtype == np.uint8
    assert np.array_equal(first, second)
    assert np.all(first[..., 1] == 0)  # only mixtures of the two colours
    assert np.all(first[..., 0].astype(int) + first[..., 2] >= 254)
    assert first[..., 0].std() > 10  # a pattern, not a flat colour


def _levels_of(image, colors):
    """Pattern share 0..1 of each pixel of a two-colour texture (from its red channel)."""
    return (image[..., 0].astype(float) - colors[0][0]) / (colors[1][0] - colors[0][0])


def test_pattern_pool_draws_each_slot_once_and_recolours_it():
    pool = PatternPool(slots=2, repeats=(3.0, 5.0))
    red, blue, black, white = (np.array(c, float) for c in ([255, 0, 0], [0, 0, 255], [0, 0, 0], [255, 255, 255]))
    rng = np.random.default_rng(0)
    textures = [pool.texture("cloth", rng, 48, (black, white)) for _ in range(12)]
    assert pool._levels.misses == 2  # two slots, each drawn once
    patterns = {image.tobytes() for image in textures}
    assert len(patterns) == 2  # every texture is one of the two slots' patterns
    # The same slot in other colours: the same pattern, only mixtures of the new colours.
    again = PatternPool(slots=2, repeats=(3.0, 5.0))  # a fresh pool (another process) draws the same
    recoloured = again.texture("cloth", np.random.default_rng(0), 48, (red, blue))
    assert np.all(recoloured[..., 1] == 0)
    assert np.abs(_levels_of(recoloured, (red, blue)) - _levels_of(textures[0], (black, white))).max() <= 1 / 255 + 1e-9
    # A slot's pattern does not depend on what the pool drew before, or on eviction.
    tiny = PatternPool(slots=2, repeats=(3.0, 5.0))
    tiny._levels.budget_bytes = 1
    assert all(np.array_equal(tiny.texture("cloth", np.random.default_rng(0), 48, (black, white)), textures[0])
               for _ in range(2))


def test_materials_pattern_pool_keeps_colours_random_per_object():
    spec = _scene()
    randomizer = MaterialRandomizer(roles=["instance"], texture_probability=1.0, textures=["noise"], texture_size=32,
                                    pattern_pool=1, color="random", contrast=[0.5, 0.5])
    objects = [obj for seed in range(3) for obj in randomizer(spec, sample_rng(seed, 0)).instances]
    brightness = np.array([obj.texture.image[..., :3].astype(float).sum(axis=2).ravel() for obj in objects])
    colors = {obj.texture.image.reshape(-1, 3).max(axis=0).tobytes() for obj in objects}
    assert np.corrcoef(brightness).min() > 0.98  # one pattern (up to rounding of dark colours) ...
    assert len(colors) == len(objects)  # ... in a colour of each object's own


def test_byte_budget_cache_drops_the_least_recently_used():
    cache = ByteBudgetCache(budget_bytes=20, size_of=len)
    assert cache.get("a", lambda: b"x" * 8) == b"x" * 8
    cache.get("b", lambda: b"y" * 8)
    cache.get("a", lambda: b"never made")  # a hit: "a" becomes the most recently used
    cache.get("c", lambda: b"z" * 8)  # 24 bytes: "b" goes
    assert "a" in cache and "c" in cache and "b" not in cache and cache.nbytes == 16 and cache.misses == 3
    assert cache.get("big", lambda: b"w" * 50) == b"w" * 50  # larger than the budget: kept alone
    assert len(cache) == 1 and cache.nbytes == 50
    counted = ByteBudgetCache(budget_bytes=1000, size_of=len, max_items=2)
    for key in "xyz":
        counted.get(key, lambda: b"v")
    assert [key for key, _ in counted.items()] == ["y", "z"]  # bounded by count as well


def test_checker_has_the_requested_period():
    image = procedural_texture("checker", np.random.default_rng(0), 64, (np.zeros(3), np.full(3, 255.0)), 4.0)
    assert image[0, 0, 0] == 0 and image[0, 16, 0] == 255 and image[16, 16, 0] == 0


def test_background_image_kind_crops_a_photo(tmp_path):
    photo = np.random.default_rng(0).integers(0, 255, (120, 200, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "room.png"), photo)
    spec = BackgroundRandomizer(kinds=["images"], image_folder=str(tmp_path))(_scene(), sample_rng(0, 0))
    assert spec.background_image.shape == (HEIGHT, WIDTH, 3) and spec.background_image.dtype == np.uint8


def test_distractors_are_unlabeled_and_never_intersect_objects():
    for seed in range(6):
        spec = DistractorRandomizer(count=[3, 3], floating_probability=0.5, size=[0.03, 0.06])(
            _scene(seed), sample_rng(seed, 9))
        distractors = [obj for obj in spec.objects if obj.role == "distractor"]
        assert distractors and all(obj.instance_id == 0 and obj.category_id == 0 for obj in distractors)
        solids = [obj for obj in spec.objects if obj.role in ("instance", "distractor")]
        for i, first in enumerate(solids):
            for second in solids[i + 1:]:
                a, b = first.world_vertices(), second.world_vertices()
                # Disjoint bounding spheres or disjoint footprints: no intersection.
                ca, cb = (a.min(0) + a.max(0)) / 2, (b.min(0) + b.max(0)) / 2
                ra, rb = np.linalg.norm(a - ca, axis=1).max(), np.linalg.norm(b - cb, axis=1).max()
                apart_3d = np.linalg.norm(ca - cb) >= ra + rb - 1e-9
                apart_xy = np.linalg.norm(ca[:2] - cb[:2]) >= _xy_radius(a, ca) + _xy_radius(b, cb) - 1e-9
                assert apart_3d or apart_xy
            assert first.world_vertices()[:, 2].min() >= -1e-9  # nothing below the table top


def _xy_radius(vertices, centre):
    return np.linalg.norm(vertices[:, :2] - centre[:2], axis=1).max()


def test_a_corrupt_background_image_is_named(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    randomizer = BackgroundRandomizer(kinds=["images"], image_folder=str(tmp_path))
    with pytest.raises(InputError, match=r"broken.jpg' could not be read; remove or replace it"):
        randomizer(_scene(), sample_rng(0, 0))
