"""Exporters and readers: every format round-trips, checked by our readers and third-party ones."""

import contextlib
import io
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import supervision as sv
from hydra import compose, initialize_config_dir
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from scipy.ndimage import binary_fill_holes

from synthgen.commands.generate import generate
from synthgen.io.coco import CocoExporter
from synthgen.io.export_files import prepare_export_folder
from synthgen.io.formats import read_dataset
from synthgen.io.kitti import KittiExporter
from synthgen.io.labelstudio import GoldExporter, LabelStudioExporter
from synthgen.io.record import decode_rle
from synthgen.io.store import open_store
from synthgen.io.voc import VocExporter
from synthgen.io.yolo import YoloExporter
from synthgen.paths import conf_dir
from tests.resources import FRUITS

SIZE = ("render.width=160", "render.height=120", "progress=false")


def _generate(root: Path, *overrides: str) -> Path:
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="generate", overrides=[f"out={root}", *SIZE, *overrides])
    generate(cfg)
    return root


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A small synthetic tabletop dataset with masks, keypoints and cuboids."""
    return _generate(tmp_path_factory.mktemp("formats") / "ds", "n=3", "seed=4", "scene.placement.count=[5,7]")


@pytest.fixture(scope="module")
def road(tmp_path_factory):
    # A level camera: KITTI boxes turn about the camera's y axis only.
    return _generate(tmp_path_factory.mktemp("formats") / "road", "scene=road", "n=2", "seed=1",
                     "scene.camera.pitch_deg=[0,0]", "scene.camera.roll_deg=[0,0]")


def _export(exporter, store: Path, out: Path) -> Path:
    return exporter.export_to(store, prepare_export_folder(out, overwrite=False))


def _by_file(dataset):
    return {image.path.name: image for image in dataset.images}


def _names(dataset, image):
    return sorted(dataset.category(o.category_id).name for o in image.objects)


def _assert_same_boxes(original, image, reread, image_reread, atol):
    assert _names(original, image) == _names(reread, image_reread)
    key = lambda pair: (pair[0], *np.round(pair[1], 1))  # noqa: E731
    first = sorted(((original.category(o.category_id).name, o.bbox) for o in image.objects), key=key)
    second = sorted(((reread.category(o.category_id).name, o.bbox) for o in image_reread.objects), key=key)
    for (name_a, box_a), (name_b, box_b) in zip(first, second):
        assert name_a == name_b and np.allclose(box_a, box_b, atol=atol), (box_a, box_b)


def test_coco_round_trip_with_our_reader_and_pycocotools(store, tmp_path):
    original = open_store(store)
    path = _export(CocoExporter(), store, tmp_path / "coco")
    reread = read_dataset(tmp_path / "coco")
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(path))
    for image, image_reread in zip(original.images, reread.images):
        _assert_same_boxes(original, image, reread, image_reread, atol=1e-9)
        for obj, obj_reread in zip(image.objects, image_reread.objects):
            assert np.array_equal(decode_rle(obj.segmentation), decode_rle(obj_reread.segmentation))
            assert np.allclose(obj.keypoints, obj_reread.keypoints, equal_nan=True) or not obj.keypoints[:, 2].any()
    for annotation in coco.loadAnns(coco.getAnnIds()):
        image = original.images[annotation["image_id"] - 1]
        same_image = coco.loadAnns(coco.getAnnIds(imgIds=annotation["image_id"]))
        obj = image.objects[[a["id"] for a in same_image].index(annotation["id"])]
        assert np.array_equal(coco.annToMask(annotation).astype(bool), decode_rle(obj.segmentation))


@pytest.mark.parametrize("task", ["detect", "segment", "pose"])
def test_yolo_round_trip_with_our_reader_and_supervision(store, tmp_path, task):
    original = open_store(store)
    data_yaml = _export(YoloExporter(task), store, tmp_path / f"yolo_{task}")
    reread = read_dataset(data_yaml.parent)
    files = _by_file(reread)
    for image in original.images:
        image_reread = files[f"{image.index:06d}.png"]
        # Normalised to 6 decimals: boxes come back within a thousandth of a pixel;
        # segment boxes are the extent of the pixel-edge outline.
        _assert_same_boxes(original, image, reread, image_reread, atol=1e-3 if task != "segment" else 1.0)
        if task == "segment":
            # One polygon per object (YOLO has no holes): the outline of the mask's largest part,
            # exact along pixel edges, holes filled.
            for obj, obj_reread in zip(image.objects, image_reread.objects):
                a, b = _largest_part(decode_rle(obj.segmentation)), decode_rle(obj_reread.segmentation)
                assert (a & b).sum() / (a | b).sum() > 0.98
        if task == "pose":
            for obj, obj_reread in zip(image.objects, image_reread.objects):
                shown = obj.keypoints[:, 2] > 0
                assert np.allclose(obj_reread.keypoints[:len(obj.keypoints)][shown], obj.keypoints[shown], atol=1e-3)
    if task == "pose":
        cube = next(c for c in reread.categories if c.name == "cube")
        assert cube.keypoint_names[0] == "corner_x-y-z-"
        return
    dataset = sv.DetectionDataset.from_yolo(str(data_yaml.parent / "images" / "train"),
                                            str(data_yaml.parent / "labels" / "train"), str(data_yaml),
                                            force_masks=task == "segment")
    assert len(dataset) == len(original.images)
    for path, _, detections in dataset:
        image = _by_file(original)[Path(path).name]
        names = sorted(dataset.classes[i] for i in detections.class_id)
        assert names == _names(original, image)
        expected = np.array(sorted(o.bbox.tolist() for o in image.objects))
        assert np.allclose(np.array(sorted(detections.xyxy.tolist())), expected, atol=1.0)


def _largest_part(mask: np.ndarray) -> np.ndarray:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return binary_fill_holes(labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA])))


def test_voc_round_trip_with_our_reader_and_supervision(store, tmp_path):
    original = open_store(store)
    annotations = _export(VocExporter(), store, tmp_path / "voc")
    reread = read_dataset(tmp_path / "voc")
    files = _by_file(reread)
    for image in original.images:
        _assert_same_boxes(original, image, reread, files[f"{image.index:06d}.png"], atol=1e-9)
    dataset = sv.DetectionDataset.from_pascal_voc(str(tmp_path / "voc" / "JPEGImages"), str(annotations))
    for path, _, detections in dataset:
        image = _by_file(original)[Path(path).name]
        assert sorted(dataset.classes[i] for i in detections.class_id) == _names(original, image)
        expected = np.array(sorted(o.bbox.tolist() for o in image.objects))
        assert np.allclose(np.array(sorted(detections.xyxy.tolist())), expected, atol=1e-9)


def _kitti_corners(h, w, length, x, y, z, ry):
    """KITTI's devkit: the 8 corners of a 3D box in the camera frame."""
    half = length / 2
    xs = np.array([half, half, -half, -half, half, half, -half, -half])
    ys = np.array([0, 0, 0, 0, -h, -h, -h, -h])
    zs = np.array([w / 2, -w / 2, -w / 2, w / 2, w / 2, -w / 2, -w / 2, w / 2])
    rotation = np.array([[math.cos(ry), 0, math.sin(ry)], [0, 1, 0], [-math.sin(ry), 0, math.cos(ry)]])
    return (rotation @ np.stack([xs, ys, zs])).T + [x, y, z]


def test_kitti_labels_rebuild_the_cuboids_with_the_devkit_convention(road, tmp_path):
    original = open_store(road)
    labels = _export(KittiExporter(), road, tmp_path / "kitti")
    checked = 0
    for image in original.images:
        lines = (labels / f"{image.index:06d}.txt").read_text().splitlines()
        calib = (labels.parent / "calib" / f"{image.index:06d}.txt").read_text()
        p2 = np.array([float(v) for v in calib.splitlines()[2].split()[1:]]).reshape(3, 4)
        assert np.allclose(p2[:, :3], image.camera["K"])
        assert len(lines) == len(image.objects)
        for line, obj in zip(lines, image.objects):
            fields = line.split()
            assert fields[0] in ("car", "van")
            assert np.allclose([float(v) for v in fields[4:8]], obj.bbox, atol=0.01)
            h, w, length, x, y, z, ry = (float(v) for v in fields[8:15])
            corners = _kitti_corners(h, w, length, x, y, z, ry)
            truth = obj.cuboid.corners_3d
            # Same 8 corners (order aside), within the file's 2-decimal precision.
            distance = np.linalg.norm(corners[:, None] - truth[None], axis=2).min(axis=1)
            assert distance.max() < 0.03, distance
            checked += 1
    assert checked > 0


def test_labelstudio_round_trip(store, tmp_path):
    original = open_store(store)
    tasks = _export(LabelStudioExporter(), store, tmp_path / "ls")
    assert "RectangleLabels" in (tmp_path / "ls" / "labeling_config.xml").read_text()
    assert all("predictions" in task for task in json.loads(tasks.read_text()))
    reread = read_dataset(tmp_path / "ls")
    assert [c.name for c in reread.categories] == [c.name for c in original.categories if c.kind == "object"]
    for image, image_reread in zip(original.images, reread.images):
        _assert_same_boxes(original, image, reread, image_reread, atol=1e-6)
        for obj, obj_reread in zip(image.objects, image_reread.objects):
            # One outline per object, as in YOLO: the largest part, holes filled.
            a, b = _largest_part(decode_rle(obj.segmentation)), decode_rle(obj_reread.segmentation)
            assert (a & b).sum() / (a | b).sum() > 0.98
            shown = obj.keypoints[:, 2] > 0
            assert np.allclose(obj_reread.keypoints[shown], obj.keypoints[shown], atol=1e-6)


def test_gold_tasks_are_mixed_into_a_human_queue_at_the_rate(store, tmp_path):
    queue = tmp_path / "queue.json"
    queue.write_text(json.dumps([{"data": {"image": f"/data/upload/{i}.jpg"}} for i in range(27)]))
    tasks_path = _export(GoldExporter(rate=0.1, queue=str(queue), seed=3), store, tmp_path / "gold")
    tasks = json.loads(tasks_path.read_text())
    gold = json.loads((tmp_path / "gold" / "gold_tasks.json").read_text())
    assert len(tasks) == 30 and len(gold["positions"]) == 3 and gold["rate"] == pytest.approx(0.1)
    for position, task in enumerate(tasks):
        is_gold = position in gold["positions"]
        assert ("annotations" in task) == is_gold
        if is_gold:
            assert task["annotations"][0]["ground_truth"] is True and task["annotations"][0]["result"]
    assert [t["data"]["image"] for t in tasks if "annotations" not in t] == [f"/data/upload/{i}.jpg" for i in range(27)]


def test_generate_runs_any_set_of_exporters(tmp_path):
    root = _generate(tmp_path / "ds", "n=2", "export=[coco,yolo,voc]")
    assert (root / "annotations" / "instances.json").is_file()
    assert (root / "exports" / "yolo_detect" / "data.yaml").is_file()
    assert list((root / "exports" / "voc" / "Annotations").glob("*.xml"))


@pytest.mark.realdata
def test_real_coco_dataset_reads_and_exports_to_every_2d_format(tmp_path):
    real_root = FRUITS
    real = read_dataset(real_root)
    assert len(real.images) == 18 and sum(len(i.objects) for i in real.images) == 165
    assert all(o.segmentation is not None for i in real.images for o in i.objects)
    coco = json.loads((real_root / "annotations.json").read_text())
    first = coco["annotations"][0]
    x, y, w, h = first["bbox"]
    image = next(i for i in real.images if i.index == first["image_id"])
    assert any(np.allclose(o.bbox, [x, y, x + w, y + h]) for o in image.objects)
    for exporter in (YoloExporter("segment"), VocExporter(), LabelStudioExporter(), CocoExporter()):
        out = prepare_export_folder(tmp_path / type(exporter).__name__, False)
        exporter.write(real, out)
        again = read_dataset(out)
        assert sum(len(i.objects) for i in again.images) == 165
    rle = real.images[0].objects[0].segmentation
    assert mask_utils.area({"size": rle["size"], "counts": rle["counts"].encode()}) > 100
