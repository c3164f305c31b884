"""2D augmentation: invariants across every configured transform, on real rendered samples."""

import hashlib

import albumentations as A
import cv2
import numpy as np
import pytest
import yaml
from hydra import compose, initialize_config_dir

from synthgen.augment.augmenter import Augmenter
from synthgen.commands.generate import generate
from synthgen.core import mirror_permutation, sample_rng
from synthgen.core.errors import ConfigError
from synthgen.labels.checks import check_sample
from synthgen.labels.derive import LabelDeriver
from synthgen.paths import conf_dir
from synthgen.registry import instantiate
from synthgen.render.pyrender_backend import PyrenderRenderer
from tests.conftest import SMALL_RUN

WIDTH, HEIGHT = 128, 96
# Geometric transforms beyond the shipped configs, with keypoint support in albumentations 2.0.8.
EXTRA_TRANSFORMS = [
    {"type": "HorizontalFlip"},
    {"type": "VerticalFlip"},
    {"type": "Affine", "rotate": [20, 20], "scale": [1.1, 1.1]},
    {"type": "Affine", "translate_px": [-9, 9], "shear": [-8, 8]},
    {"type": "Rotate", "limit": [-30, 30]},
    {"type": "Perspective", "scale": [0.05, 0.1]},
    {"type": "RandomResizedCrop", "size": [HEIGHT, WIDTH], "scale": [0.5, 0.9]},
    {"type": "CLAHE"},
    {"type": "ToGray"},
]


def _configured_transforms():
    """Every transform listed in conf/augment/*.yaml (children of OneOf/SomeOf included)."""
    found = []

    def walk(specs):
        for spec in specs:
            if "transforms" in spec:
                walk(spec["transforms"])
            else:
                found.append({key: value for key, value in spec.items() if key != "p"})

    for path in sorted(conf_dir().glob("augment/*.yaml")):
        walk((yaml.safe_load(path.read_text()) or {}).get("transforms", []))
    return found


ALL_TRANSFORMS = _configured_transforms() + EXTRA_TRANSFORMS


def _scene_sample(scene: str, index: int, *overrides: str):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="generate", overrides=[f"scene={scene}", *overrides])
    sampler = instantiate(cfg.scene, "scene")
    spec = sampler.sample(sample_rng(5, index), WIDTH, HEIGHT)
    return LabelDeriver(min_visible_pixels=5)(_RENDERER.render(spec), spec, index)


_RENDERER = None


@pytest.fixture(scope="module")
def samples():
    global _RENDERER
    _RENDERER = PyrenderRenderer(WIDTH, HEIGHT)
    return {
        "tabletop": _scene_sample("tabletop", 0, "scene.placement.count=[6,8]"),
        "figures": _scene_sample("figures", 1, "scene.placement.count=[2,3]", "scene.camera.distance=[3,4]"),
        "road": _scene_sample("road", 2),
    }


def _augment(spec, sample, seed=0):
    return Augmenter([{**spec, "p": 1.0}], min_visible_pixels=1)(sample, seed)


def _is_image_only(spec) -> bool:
    return issubclass(getattr(A, spec["type"]), A.ImageOnlyTransform)


@pytest.mark.parametrize("spec", ALL_TRANSFORMS, ids=lambda s: s["type"])
@pytest.mark.parametrize("scene", ["tabletop", "figures", "road"])
def test_every_transform_keeps_labels_consistent(samples, scene, spec):
    sample = samples[scene]
    augmented = _augment(spec, sample)
    assert augmented.augmentations == (spec["type"],)
    assert check_sample(augmented) == []
    if _is_image_only(spec):
        _assert_same_labels(sample, augmented)
        return
    for before, after in _matched(sample, augmented):
        # Keypoints move with the pixels: a keypoint visible before and after still lies on its
        # object's visible mask (within the raster's rounding).
        distance = cv2.distanceTransform((~after.mask).astype(np.uint8), cv2.DIST_L2, 5)
        for x, y, _ in after.keypoints[(after.keypoints[:, 2] == 2) & (before.keypoints[:, 2] == 2)]:
            assert distance[int(y), int(x)] <= 2.5, (spec, x, y)


def _matched(sample, augmented):
    by_id = {instance.instance_id: instance for instance in sample.instances}
    return [(by_id[after.instance_id], after) for after in augmented.instances]


def _assert_same_labels(sample, augmented):
    assert np.array_equal(sample.instance_ids, augmented.instance_ids)
    assert np.array_equal(sample.depth, augmented.depth)
    assert [i.instance_id for i in sample.instances] == [i.instance_id for i in augmented.instances]
    for before, after in zip(sample.instances, augmented.instances):
        assert np.array_equal(before.mask, after.mask) and np.array_equal(before.amodal_mask, after.amodal_mask)
        assert np.array_equal(before.bbox, after.bbox) and before.area == after.area
        assert np.array_equal(before.keypoints, after.keypoints, equal_nan=True)
        assert before.occlusion == after.occlusion and before.truncation == after.truncation
    assert len(sample.polylines) == len(augmented.polylines)
    for before, after in zip(sample.polylines, augmented.polylines):
        assert np.array_equal(before.points, after.points)


def test_horizontal_flip_mirrors_keypoints_and_swaps_left_and_right(samples):
    sample = samples["figures"]
    flipped = _augment({"type": "HorizontalFlip"}, sample)
    person = sample.categories[0]
    permutation = mirror_permutation(person)
    names = person.keypoint_names
    assert names[permutation[names.index("left_wrist")]] == "right_wrist"
    assert names[permutation[names.index("nose")]] == "nose"
    assert flipped.instances
    for before, after in _matched(sample, flipped):
        source = before.keypoints[permutation]  # the new left_wrist is the old right_wrist, mirrored
        shown = source[:, 2] > 0
        assert np.allclose(after.keypoints[shown, 0], WIDTH - source[shown, 0])
        assert np.allclose(after.keypoints[shown, 1], source[shown, 1])
        assert np.array_equal(after.keypoints[:, 2], source[:, 2])
        assert np.array_equal(after.mask, before.mask[:, ::-1])


def test_flip_moves_polylines_and_cuboid_corners(samples):
    sample = samples["road"]
    flipped = _augment({"type": "HorizontalFlip"}, sample)
    assert len(flipped.polylines) == len(sample.polylines) > 0
    for before, after in zip(sample.polylines, flipped.polylines):
        assert np.allclose(after.points[:, 0], WIDTH - before.points[:, 0])
        assert np.array_equal(after.points[:, 2], before.points[:, 2])
    for before, after in _matched(sample, flipped):
        assert np.allclose(after.cuboid.corners_2d[:, 0], WIDTH - before.cuboid.corners_2d[:, 0], equal_nan=True)


def test_same_seed_same_result_other_seed_other_result(samples):
    augmenter = Augmenter([{"type": "Affine", "rotate": [-30, 30], "p": 1.0}, {"type": "GaussNoise", "p": 1.0}])
    sample = samples["tabletop"]
    first, second, other = augmenter(sample, 7), augmenter(sample, 7), augmenter(sample, 8)
    assert np.array_equal(first.image, second.image) and np.array_equal(first.instance_ids, second.instance_ids)
    assert not np.array_equal(first.image, other.image)


def test_size_changing_transform_is_refused_with_the_fix(samples):
    with pytest.raises(ConfigError, match="changed the image size .* size-preserving"):
        _augment({"type": "RandomRotate90"}, samples["tabletop"], seed=1)


@pytest.mark.parametrize("transforms, message", [
    ([{"type": "Explode"}], r"transforms\[0\].type: 'Explode' is not an albumentations 2.0.8 transform"),
    ([{"type": "GaussNoise", "std_rang": [0.1, 0.2]}], r"transforms\[0\] \(GaussNoise\).*std_rang"),
    ([{"type": "GaussNoise", "std_range": [0.1, 2.0]}], r"transforms\[0\] \(GaussNoise\).*std_range"),
    ([{"p": 0.5}], r"transforms\[0\]: must be a mapping with a 'type'"),
    ("HorizontalFlip", r"transforms: must be a list"),
])
def test_bad_transform_configs_name_the_entry(transforms, message):
    with pytest.raises(ConfigError, match=message):
        Augmenter(transforms)


def _hashes(root):
    return {path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()}


def test_augmented_runs_are_byte_identical_for_any_thread_count(generate_cfg, tmp_path):
    roots = []
    for threads in (1, 2):
        root = tmp_path / f"t{threads}"
        generate(generate_cfg(*SMALL_RUN, f"out={root}", "n=4", "augment=default", f"threads={threads}"))
        roots.append(root)
    first, second = (_hashes(root) for root in roots)
    assert first == second and any(name.startswith("labels/") for name in first)
