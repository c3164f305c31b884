"""The scene library: every scene generates checked labels; each scene's own label type is right."""

import contextlib
import io
import json

import cv2
import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from synthgen.commands.generate import generate
from synthgen.core import Camera, CategoryInfo, SceneObject, SceneSpec, sample_rng, stream_seed
from synthgen.io.store import read_sample
from synthgen.labels.checks import check_sample
from synthgen.labels.derive import LabelDeriver
from synthgen.paths import conf_dir
from synthgen.randomize.camera import intrinsics_from_fov, look_at
from synthgen.registry import instantiate
from synthgen.render.pyrender_backend import PyrenderRenderer
from synthgen.scene.mannequin import COCO_KEYPOINTS, JOINT_LIMITS_DEG, Mannequin
from tests.resources import CHESSBOARDS, FRUITS, need

SCENES = ["tabletop", "tabletop_fruits", "chessboard", "figures", "road", "tabletop_textured"]


def _scene_config(scene: str, *overrides: str):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name="generate", overrides=[f"scene={scene}", *overrides])


@pytest.mark.parametrize("scene", SCENES)
def test_every_scene_generates_checked_labels_readable_by_pycocotools(scene, tmp_path):
    cfg = _scene_config(scene, f"out={tmp_path}", "n=3", "render.width=160", "render.height=120", "progress=false")
    summary = generate(cfg)
    assert summary.images == 3 and summary.quarantined == 0 and summary.instances > 0
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(summary.exports["coco"]))
    assert len(coco.getImgIds()) == 3 and coco.getAnnIds()


def test_fruit_photos_scene_generates_checked_labels(tmp_path):
    if not FRUITS.is_dir():
        need("realdata")
    cfg = _scene_config("tabletop_fruits_photos", f"out={tmp_path}", "n=3", "render.width=160", "render.height=120",
                        "progress=false", f"scene.randomize.skins.texture_dataset={FRUITS}")
    summary = generate(cfg)
    assert summary.images == 3 and summary.quarantined == 0 and summary.instances > 0


def _render(scene: str, index: int, size=(640, 480), *overrides: str):
    cfg = _scene_config(scene, *overrides)
    sampler = instantiate(cfg.scene, "scene")
    spec = sampler.sample(sample_rng(0, index), *size)
    renderer = _RENDERERS.setdefault(size, PyrenderRenderer(*size))
    return spec, LabelDeriver()(renderer.render(spec), spec, index)


_RENDERERS: dict = {}


def _opencv_corners(image: np.ndarray) -> np.ndarray | None:
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    found, corners = cv2.findChessboardCorners(gray, (9, 6))
    if not found:
        return None
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 0.001)
    return cv2.cornerSubPix(gray, corners, (5, 5), (-1, -1), criteria).reshape(-1, 2)


def test_chessboard_keypoints_are_the_corners_opencv_finds():
    matched = 0
    for index in range(8):
        _, sample = _render("chessboard", index, (640, 480), "scene.camera.elevation_deg=[65,90]",
                            "scene.randomize.distractors.count=[0,0]")
        (board,) = sample.instances
        assert len(board.keypoints) == 54
        corners = _opencv_corners(sample.image)
        if corners is None:
            continue
        matched += 1
        visible = board.keypoints[board.keypoints[:, 2] == 2, :2]
        # OpenCV's corners are in pixel-index coordinates (centres at integers): add 0.5.
        distance = np.linalg.norm((corners + 0.5)[:, None] - visible[None], axis=2).min(axis=1)
        assert len(visible) == 54
        assert np.median(distance) < 0.2 and distance.max() < 1.0, distance
    assert matched >= 3


@pytest.mark.realdata
def test_chessboard_matches_the_real_calibration_board():
    real = cv2.imread(str(CHESSBOARDS / "left01.jpg"), cv2.IMREAD_GRAYSCALE)
    corners = _opencv_corners(real)
    assert corners is not None and len(corners) == 54
    cfg = _scene_config("chessboard")
    (category,) = instantiate(cfg.scene, "scene").categories
    assert len(category.keypoint_names) == len(corners)


@pytest.mark.realdata
def test_fruits_scene_matches_the_real_dataset_categories_and_object_sizes(tmp_path):
    real = json.loads((FRUITS / "annotations.json").read_text())
    cfg = _scene_config("tabletop_fruits", f"out={tmp_path}", "n=3", "render.width=800", "render.height=600",
                        "progress=false")
    summary = generate(cfg)
    synthetic = json.loads(summary.exports["coco"].read_text())
    assert [c["name"] for c in synthetic["categories"]] == [c["name"] for c in real["categories"]]
    for name in ("date", "fig", "hazelnut"):
        real_id = next(c["id"] for c in real["categories"] if c["name"] == name)
        synthetic_id = next(c["id"] for c in synthetic["categories"] if c["name"] == name)
        real_size = np.median([np.sqrt(a["bbox"][2] * a["bbox"][3]) for a in real["annotations"] if a["category_id"] == real_id])
        synthetic_size = np.median([np.sqrt(a["bbox"][2] * a["bbox"][3]) for a in synthetic["annotations"]
                                    if a["category_id"] == synthetic_id])
        # Same image size (800x600): objects appear at a comparable scale (within a factor of 2).
        assert 0.5 < synthetic_size / real_size < 2.0, (name, synthetic_size, real_size)


def _figure_seen_from(direction: np.ndarray) -> tuple:
    """A standing mannequin (rest pose) alone, seen horizontally from ``direction``."""
    asset = Mannequin(pose_range=0.0)
    drawn = asset.draw(np.random.default_rng(0))
    pose = np.eye(4)
    figure = SceneObject(drawn.geometry, pose, instance_id=1, category_id=1, keypoints=drawn.keypoints,
                         keypoint_slack=drawn.keypoint_slack)
    eye = np.array([0.0, 0.0, 1.0]) + 4.0 * direction
    camera = Camera(intrinsics_from_fov(160, 240, 40), look_at(eye, np.array([0.0, 0.0, 1.0])), 160, 240)
    spec = SceneSpec(camera, (figure,), categories=(CategoryInfo(1, "person", asset.keypoint_names, asset.skeleton),))
    renderer = _RENDERERS.setdefault((160, 240), PyrenderRenderer(160, 240))
    (instance,) = LabelDeriver()(renderer.render(spec), spec, 0).instances
    return dict(zip(COCO_KEYPOINTS, instance.keypoints[:, 2]))


def test_figures_keypoints_account_for_self_occlusion():
    front = _figure_seen_from(np.array([1.0, 0.0, 0.0]))  # the mannequin faces +x
    left_side = _figure_seen_from(np.array([0.0, 1.0, 0.0]))  # its left side faces +y
    back = _figure_seen_from(np.array([-1.0, 0.0, 0.0]))
    for name in ("nose", "left_eye", "right_eye", "left_shoulder", "right_shoulder", "left_knee", "right_knee"):
        assert front[name] == 2, name
    for name in ("left_ear", "left_shoulder", "left_knee", "left_ankle"):
        assert left_side[name] == 2, name
    for name in ("right_ear", "right_shoulder", "right_hip", "right_knee"):
        assert left_side[name] == 1, name  # hidden behind its own body
    assert left_side["left_hip"] == 1  # behind its own forearm, hanging at its side
    for name in ("nose", "left_eye", "right_eye"):
        assert back[name] == 1, name


def test_mannequin_poses_stay_within_joint_limits():
    asset = Mannequin(pose_range=1.0)
    for seed in range(20):
        angles = asset.random_angles(np.random.default_rng(seed))
        for name, value in angles.items():
            joint = name.removeprefix("left_").removeprefix("right_")
            low, high = JOINT_LIMITS_DEG[joint]
            assert low <= value <= high
    drawn = asset.draw(np.random.default_rng(1))
    assert not drawn.geometry.cacheable and drawn.keypoints.shape == (17, 3)
    assert len(asset.skeleton) == 19


def test_road_polylines_are_hidden_exactly_where_vehicles_cover_them():
    checked_hidden = checked_visible = 0
    for index in range(4):
        spec, sample = _render("road", index, (320, 240))
        assert check_sample(sample) == []
        assert sample.polylines and all(line.category == "lane_marking" for line in sample.polylines)
        for line in sample.polylines:
            for x, y, v in line.points:
                column, row = min(int(x), 319), min(int(y), 239)
                window = sample.instance_ids[max(row - 1, 0):row + 2, max(column - 1, 0):column + 2]
                if v == 1:
                    checked_hidden += 1
                    assert window.max() > 0  # a vehicle is in front of a hidden vertex
                elif window.max() == 0:
                    checked_visible += 1  # visible and clear of vehicles
    assert checked_hidden > 0 and checked_visible > 0


def test_road_vehicles_have_cuboids_on_the_ground():
    spec, sample = _render("road", 1, (320, 240))
    assert sample.instances
    for instance in sample.instances:
        obj = next(o for o in spec.instances if o.instance_id == instance.instance_id)
        bottom = obj.world_vertices()[:, 2].min()
        assert bottom == pytest.approx(0.0, abs=1e-6)
        length, width, height = instance.cuboid.dimensions
        assert 3.0 < length < 6.5 and 1.4 < width < 2.3 and 1.2 < height < 2.5


def test_instances_json_holds_only_real_masks_and_polylines_have_their_own_file(tmp_path):
    """Lane lines used to be COCO objects with area 0 and an empty mask (15 of 28 annotations of a
    4-image road run); instances.json is now standard COCO and the lines are in polylines.json."""
    from synthgen.commands.mix import mix
    from synthgen.io.formats import read_dataset

    store = tmp_path / "road"
    summary = generate(_scene_config("road", f"out={store}", "n=4", "render.width=160", "render.height=120",
                                     "progress=false"))
    instances = summary.exports["coco"]
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(instances))
        annotations = coco.loadAnns(coco.getAnnIds())
        assert annotations and {c["synthgen_kind"] for c in coco.loadCats(coco.getCatIds())} == {"object"}
        for annotation in annotations:  # an independent consistency check of every annotation
            mask = coco.annToMask(annotation)
            assert "polyline" not in annotation and annotation["area"] == mask.sum() > 0
            ys, xs = np.nonzero(mask)
            assert annotation["bbox"] == [xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()]
        detections = coco.loadRes([{**{k: a[k] for k in ("image_id", "category_id", "bbox", "segmentation")},
                                    "score": 1.0} for a in annotations])
        evaluation = COCOeval(coco, detections, "segm")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)

    lines = json.loads((instances.parent / "polylines.json").read_text())
    (marking,) = lines["categories"]
    assert marking["synthgen_kind"] == "polyline" and marking["id"] not in coco.getCatIds()
    assert [i["id"] for i in lines["images"]] == coco.getImgIds()
    for annotation in lines["annotations"]:
        points = np.array(annotation["polyline"]).reshape(-1, 3)
        assert annotation["category_id"] == marking["id"]
        assert len(points) == annotation["num_polyline_points"] >= 2 and set(points[:, 2]) <= {1, 2}

    # Read back: the COCO files give the store's polylines; mix carries them into its own files.
    stored, exported = read_dataset(store), read_dataset(instances)
    # A folder holding an instances file and its polylines file reads as that one dataset.
    from synthgen.io.coco import write_coco
    from synthgen.io.store import open_store

    custom = write_coco(open_store(store), tmp_path / "custom" / "annotations" / "road.json")
    (tmp_path / "custom" / "images").symlink_to(store / "images")
    assert (custom.parent / "road_polylines.json").is_file()
    for folder in (store / "annotations", tmp_path / "custom"):
        assert sum(len(i.polylines) for i in read_dataset(folder).images) == len(lines["annotations"])
    assert sum(len(i.polylines) for i in stored.images) == len(lines["annotations"]) > 0
    for a, b in zip(stored.images, exported.images):
        assert len(a.polylines) == len(b.polylines)
        for x, y in zip(a.polylines, b.polylines):
            assert np.allclose(x.points, y.points) and y.category_id == marking["id"] and y.category == x.category
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        mixed = mix(compose(config_name="mix", overrides=[f"synthetic=[{store}]", f"real=[{instances}]",
                                                          f"out={tmp_path / 'mixed'}", "test_fraction=0.25"]))
    mixed_lines = sum(len(json.loads(path.read_text())["annotations"])
                      for path in (mixed / "annotations").glob("polylines_*.json"))
    mixed_images = sum(len(json.loads(path.read_text())["images"])
                       for path in (mixed / "annotations").glob("instances_*.json"))
    assert mixed_lines > 0 and mixed_images == 4 + 3 + 1  # 4 synthetic, the real copy's 3 training + 1 test images


def test_polylines_and_augmentations_round_trip_through_the_store(tmp_path):
    cfg = _scene_config("road", f"out={tmp_path}", "n=1", "seed=3", "render.width=160", "render.height=120",
                        "progress=false", "augment=default")
    generate(cfg)
    stored = read_sample(tmp_path, 0)
    sampler, renderer = instantiate(cfg.scene, "scene"), PyrenderRenderer(160, 120)
    augmenter = instantiate(cfg.augment, "augment")
    spec = sampler.sample(sample_rng(3, 0), 160, 120)
    expected = augmenter(LabelDeriver()(renderer.render(spec), spec, 0), stream_seed(3, 0, 1))
    assert stored.augmentations == expected.augmentations
    assert len(stored.polylines) == len(expected.polylines) > 0
    for a, b in zip(stored.polylines, expected.polylines):
        assert a.category == b.category == "lane_marking" and np.array_equal(a.points, b.points)
