"""COCO export read back with pycocotools, the ecosystem's reference reader."""

import json

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from synthgen.commands.generate import generate
from synthgen.io.coco import export_coco
from synthgen.io.polygons import mask_to_polygons
from synthgen.io.store import iter_records
from tests.conftest import SMALL_RUN


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from hydra import compose, initialize_config_dir

    from synthgen.paths import conf_dir

    root = tmp_path_factory.mktemp("coco") / "ds"
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="generate",
                      overrides=[f"out={root}", *SMALL_RUN, "render.width=160", "render.height=120", "n=6",
                                 "scene.placement.count=[6,8]"])
    generate(cfg)
    return root


def _ids(root, image):
    return cv2.imread(str(root / image["instance_ids_file"]), cv2.IMREAD_UNCHANGED)


def test_rle_masks_round_trip_exactly_through_pycocotools(dataset):
    coco = COCO(str(dataset / "annotations" / "instances.json"))
    annotations = coco.loadAnns(coco.getAnnIds())
    assert len(annotations) >= 20
    for ann in annotations:
        image = coco.loadImgs(ann["image_id"])[0]
        visible = _ids(dataset, image) == ann["synthgen_instance_id"]
        assert np.array_equal(coco.annToMask(ann).astype(bool), visible)
        amodal = mask_utils.decode(ann["amodal_segmentation"]).astype(bool)
        assert np.all(visible <= amodal)
        assert ann["area"] == visible.sum() == mask_utils.area(ann["segmentation"])
        x, y, w, h = ann["bbox"]
        columns, rows = np.flatnonzero(visible.any(0)), np.flatnonzero(visible.any(1))
        assert [x, y, x + w, y + h] == [columns[0], rows[0], columns[-1] + 1, rows[-1] + 1]
        assert ann["occlusion"] == pytest.approx(1 - ann["area"] / ann["amodal_area"])
        assert (dataset / "images" / image["file_name"]).is_file()


def test_categories_keypoints_and_extra_fields(dataset):
    coco = COCO(str(dataset / "annotations" / "instances.json"))
    cube = coco.loadCats(coco.getCatIds(catNms=["cube"]))[0]
    assert len(cube["keypoints"]) == 8 and len(cube["skeleton"]) == 12
    assert min(min(pair) for pair in cube["skeleton"]) == 1  # COCO skeletons are 1-based
    records = {r["index"] + 1: r for r in iter_records(dataset)}
    with_keypoints = [a for a in coco.loadAnns(coco.getAnnIds()) if "keypoints" in a]
    assert with_keypoints
    for ann in with_keypoints:
        stored = next(i for i in records[ann["image_id"]]["instances"] if i["instance_id"] == ann["synthgen_instance_id"])
        flat = np.array(ann["keypoints"]).reshape(-1, 3)
        labeled = flat[:, 2] > 0
        ours = np.array(stored["keypoints"], dtype=float)
        assert ann["num_keypoints"] == labeled.sum()
        assert np.allclose(flat[labeled, :2], ours[labeled, :2] - 0.5)  # COCO pixel-index convention
        assert np.all(flat[~labeled] == 0)
    ann = coco.loadAnns(coco.getAnnIds())[0]
    for key in ("amodal_bbox", "amodal_segmentation", "occlusion", "truncation", "cuboid", "pose"):
        assert key in ann
    assert np.array(ann["cuboid"]["corners_2d"]).shape == (8, 2)
    assert np.array(ann["pose"]).shape == (4, 4)
    assert np.array(coco.loadImgs(ann["image_id"])[0]["camera"]["K"]).shape == (3, 3)


def test_polygon_mode_round_trips_exactly(dataset, tmp_path):
    path = export_coco(dataset, "polygon", tmp_path / "polygons.json")
    coco = COCO(str(path))
    kinds = {"polygon": 0, "rle": 0}
    for ann in coco.loadAnns(coco.getAnnIds()):
        visible = _ids(dataset, coco.loadImgs(ann["image_id"])[0]) == ann["synthgen_instance_id"]
        decoded = coco.annToMask(ann).astype(bool)
        kinds["polygon" if isinstance(ann["segmentation"], list) else "rle"] += 1  # RLE: masks with holes
        assert np.array_equal(decoded, visible)
    assert kinds["polygon"] > 10


def test_mask_to_polygons_refuses_holes():
    ring = np.zeros((20, 20), bool)
    ring[4:16, 4:16] = True
    ring[8:12, 8:12] = False
    assert mask_to_polygons(ring) is None
    square = np.zeros((20, 20), bool)
    square[4:16, 4:16] = True
    (polygon,) = mask_to_polygons(square)
    assert min(polygon[0::2]) == 4.25 and max(polygon[0::2]) == 15.75  # around the pixel edges 4..16
    decoded = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([polygon], 20, 20))).astype(bool)
    assert np.array_equal(decoded, square)


def test_export_is_a_pure_function_of_the_store(dataset, tmp_path):
    again = export_coco(dataset, "rle", tmp_path / "again.json")
    assert again.read_bytes() == (dataset / "annotations" / "instances.json").read_bytes()
    assert json.loads(again.read_text())["images"][0]["id"] == 1


def test_streamed_json_has_the_bytes_of_the_materialized_object(tmp_path):
    from synthgen.io.files import OMIT, write_json_atomic, write_json_list_streamed, write_json_streamed

    gathered = []

    def items():
        for i in range(3):
            gathered.append(i)
            yield {"b": [i, 0.5], "a": None}

    write_json_streamed(tmp_path / "s.json", {"z": lambda: list(gathered), "items": items(), "k": {"y": 1, "x": 2},
                                              "gone": lambda: OMIT})
    write_json_atomic(tmp_path / "m.json", {"z": [0, 1, 2], "items": [{"b": [i, 0.5], "a": None} for i in range(3)],
                                           "k": {"y": 1, "x": 2}}, indent=None)
    assert (tmp_path / "s.json").read_bytes() == (tmp_path / "m.json").read_bytes()
    write_json_list_streamed(tmp_path / "l.json", iter([{"b": 1, "a": 2}, 3]))
    assert (tmp_path / "l.json").read_text() == '[{"a":2,"b":1},3]\n'


def test_store_exports_read_records_lazily(dataset, tmp_path):
    """A store's images are read when visited, never all held (export memory stays flat in n)."""
    from synthgen.io.coco import coco_dict, write_coco
    from synthgen.io.store import StoreImages, open_store

    store = open_store(dataset)
    assert isinstance(store.images, StoreImages) and len(store.images) == 6
    assert store.images[2].index == 2 and [i.index for i in store.images[4:]] == [4, 5]
    path = write_coco(store, tmp_path / "again.json")
    assert json.loads(path.read_text()) == coco_dict(store)
    assert path.read_bytes() == (dataset / "annotations" / "instances.json").read_bytes()


def test_the_instances_file_visits_each_image_once(dataset, tmp_path):
    """Images and annotations come from one pass over the images: a store's records are read
    and checked once, not once per list (the image entries wait in a temporary file)."""
    import dataclasses

    from synthgen.io.coco import coco_dict, write_coco
    from synthgen.io.store import open_store

    store = open_store(dataset)
    visits = []

    class Counted(list):
        def __iter__(self):
            visits.append(1)
            return super().__iter__()

    counted = dataclasses.replace(store, images=Counted(store.images))
    path = write_coco(counted, tmp_path / "once.json")
    assert len(visits) == 1
    assert path.read_bytes() == (dataset / "annotations" / "instances.json").read_bytes()
    visits.clear()
    assert coco_dict(counted) == json.loads(path.read_text()) and len(visits) == 1


def test_a_cuboid_corner_behind_the_camera_is_written_as_null_and_read_back_as_nan(tmp_path):
    from pathlib import Path

    from synthgen.core import CategoryInfo, Cuboid
    from synthgen.io.coco import read_coco, write_coco
    from synthgen.io.dataset import LabeledDataset, LabeledImage, LabeledObject

    corners_2d = np.full((8, 2), 3.0)
    corners_2d[5] = np.nan  # behind the camera: no projection
    cuboid = Cuboid(np.ones(3), np.array([0.0, 0.0, 2.0]), np.eye(3), np.zeros((8, 3)), corners_2d)
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    image = LabeledImage(0, Path(tmp_path / "a.png"), 8, 8,
                         [LabeledObject(1, np.array([1.0, 1.0, 5.0, 5.0]), area=16.0, cuboid=cuboid, pose=np.eye(4))])
    path = write_coco(LabeledDataset("t", (CategoryInfo(1, "a"),), [image]), tmp_path / "instances.json", "rle")
    stored = json.loads(path.read_text())["annotations"][0]["cuboid"]["corners_2d"]
    assert stored[5] == [None, None] and stored[4] == [3.0, 3.0]
    back = read_coco(path).images[0].objects[0].cuboid
    assert np.isnan(back.corners_2d[5]).all() and np.array_equal(back.corners_2d[4], [3.0, 3.0])
