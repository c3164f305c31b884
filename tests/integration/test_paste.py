"""generator=paste: copy-paste synthesis from the real fruit photos, labels exact, deterministic,
bad sources refused before anything is written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from synthgen.commands.generate import generate
from synthgen.copy_paste.blending import blend_onto, place
from synthgen.copy_paste.cutout_library import CutoutLibrary
from synthgen.core.errors import ConfigError
from synthgen.io.store import read_sample
from synthgen.labels.checks import check_sample
from synthgen.randomize.real_photos import DatasetPhotos
from tests.helpers import stores_by_worker_count
from tests.resources import FRUITS

pytestmark = pytest.mark.realdata
PASTE = ("generator=paste", f"generator.dataset={FRUITS}", "render.width=320", "render.height=240", "progress=false")


def test_pasted_labels_are_exact_on_real_photos(generate_cfg, tmp_path):
    out = tmp_path / "paste"
    summary = generate(generate_cfg(f"out={out}", "n=8", "seed=2", *PASTE, "generator.objects=[4,8]",
                                    "generator.max_occlusion=0.6", "generator.blend=[none,feather,poisson]",
                                    "generator.shadow=0.5"))
    assert summary.images == 8 and summary.quarantined == 0 and summary.instances >= 8 * 3
    occluded = 0
    for index in range(8):
        sample = read_sample(out, index)
        assert check_sample(sample) == []  # box = extent, visible ⊆ amodal, occlusion = 1 - visible/amodal, ...
        assert not sample.depth.any() and {c.name for c in sample.categories} == {"date", "fig", "hazelnut"}
        ids = sample.instance_ids
        for instance in sample.instances:
            # Paste order: an earlier object is visible exactly where no later one covers its amodal mask.
            later = np.isin(ids, [i.instance_id for i in sample.instances if i.instance_id > instance.instance_id])
            dropped = np.isin(ids, [i for i in sample.dropped_instance_ids if i > instance.instance_id])
            assert np.array_equal(instance.mask, instance.amodal_mask & ~(later | dropped))
            assert instance.occlusion <= 0.6 + 1e-9
            occluded += instance.occlusion > 0
            assert np.isnan(instance.pose).all()
        records = {r["instance_id"]: r for r in sample.generation["objects"]}
        assert set(records) >= {i.instance_id for i in sample.instances}
        assert all(r["source"] == "real" and r["file"].endswith(".jpg") for r in records.values())
    assert occluded > 0  # the overlap control allows partial occlusion, it does not forbid it
    coco = COCO(str(out / "annotations" / "instances.json"))
    assert len(coco.getAnnIds()) == summary.instances
    first = coco.loadAnns(coco.getAnnIds())[0]
    assert "pose" not in first and "cuboid" not in first and coco.annToMask(first).sum() == first["area"]
    # Formats that need 3D labels refuse pasted objects with one clear error.
    from synthgen.commands.export import export_dataset
    from synthgen.core.errors import InputError

    for format, match in (("kitti", "no 3D cuboid"), ("bop", "no rigid model")):
        with pytest.raises(InputError, match=match):
            export_dataset({"format": format, "in": str(out), "out": str(tmp_path / format)})
    with pytest.raises(ConfigError, match="out: required"):
        export_dataset({"format": "yolo", "in": str(out), "out": "???"})


def test_same_seed_same_bytes_for_any_worker_count(generate_cfg, tmp_path):
    runs = stores_by_worker_count(generate_cfg, tmp_path, "n=6", "seed=5", *PASTE)
    assert runs[1] == runs[2] and any(name.startswith("images/") for name in runs[1])


def test_render_and_paste_mixes_rendered_and_real_objects(generate_cfg, tmp_path):
    out = tmp_path / "hybrid"
    generate(generate_cfg(f"out={out}", "n=4", "seed=1", *PASTE, "scene=tabletop_fruits",
                          "generator.render_objects=true", "generator.render_share=0.5", "generator.objects=[4,6]"))
    sources = set()
    for index in range(4):
        sample = read_sample(out, index)
        assert check_sample(sample) == []
        sources |= {r["source"] for r in sample.generation["objects"]}
    assert sources == {"real", "render"}


def test_box_only_cutouts_lie_inside_their_boxes(tmp_path):
    coco = json.loads((FRUITS / "annotations.json").read_text())
    for annotation in coco["annotations"]:
        annotation.pop("segmentation", None)
    root = tmp_path / "boxes"
    (root / "images").mkdir(parents=True)
    for image in coco["images"][:4]:
        shutil.copy(FRUITS / "images" / Path(image["file_name"]).name, root / "images")
    coco["images"] = coco["images"][:4]
    kept = {image["id"] for image in coco["images"]}
    coco["annotations"] = [a for a in coco["annotations"] if a["image_id"] in kept]
    (root / "annotations.json").write_text(json.dumps(coco))
    photos = DatasetPhotos(str(root), "dataset")
    library = CutoutLibrary(photos)
    counts = library.counts
    assert counts["from_masks"] == 0 and counts["segmented"] > 0
    assert counts["segmented"] + counts["refused"] + counts["truncated"] + counts["too_small"] == counts["objects"]
    assert 0.0 <= library.refused_share < 0.3 and "refused" in library.describe()
    for cutouts in library.by_category.values():
        for cutout in cutouts:
            image = next(i for i in photos.images if i.index == cutout.image)
            x0, y0, x1, y1 = np.rint(image.objects[cutout.object].bbox).astype(int)
            assert cutout.mask.shape == (y1 - y0, x1 - x0) and 0.25 <= cutout.mask.mean() <= 0.97


def test_blends_change_pixels_inside_the_mask_only():
    rng = np.random.default_rng(0)
    background = rng.integers(0, 255, size=(60, 80, 3), dtype=np.uint8)
    cutout = np.full((20, 16, 3), 200, np.uint8)
    mask = np.zeros((20, 16), bool)
    mask[3:17, 2:14] = True
    for blend in ("none", "feather", "poisson"):
        image = background.copy()
        placed = place(cutout, mask, (80, 60), np.array([40.0, 30.0]), 1.3, 25.0, True)
        used = blend_onto(image, placed, placed.rgb, blend, 2.0)
        outside = np.ones((60, 80), bool)
        outside[placed.window][placed.mask] = False
        assert used == blend and np.array_equal(image[outside], background[outside])
        assert not np.array_equal(image[~outside], background[~outside])


def _expect_config_error(generate_cfg, out: Path, *overrides: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        generate(generate_cfg(f"out={out}", "n=2", *overrides))
    assert not out.exists() or not any(out.iterdir())  # nothing written


def test_bad_sources_fail_before_anything_is_written(generate_cfg, tmp_path):
    empty = tmp_path / "empty"
    (empty / "images").mkdir(parents=True)
    cv2.imwrite(str(empty / "images" / "a.jpg"), np.full((40, 40, 3), 128, np.uint8))
    (empty / "annotations.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 40, "height": 40}], "annotations": [],
        "categories": [{"id": 1, "name": "thing"}]}))
    _expect_config_error(generate_cfg, tmp_path / "o1", *PASTE[:1], f"generator.dataset={empty}", *PASTE[2:],
                         match="no object of 1 images gives a cut-out")
    # Box-only objects on a uniform photo: GrabCut finds nothing plausible.
    flat = tmp_path / "flat"
    (flat / "images").mkdir(parents=True)
    cv2.imwrite(str(flat / "images" / "a.png"), np.full((120, 160, 3), 90, np.uint8))
    (flat / "annotations.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.png", "width": 160, "height": 120}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [40, 30, 50, 40], "area": 2000,
                         "iscrowd": 0}],
        "categories": [{"id": 1, "name": "thing"}]}))
    _expect_config_error(generate_cfg, tmp_path / "o2", *PASTE[:1], f"generator.dataset={flat}", *PASTE[2:],
                         match=r"1 refused \(implausible mask")
    folder = tmp_path / "backgrounds"
    folder.mkdir()
    _expect_config_error(generate_cfg, tmp_path / "o3", *PASTE, "generator.background.kinds=[folder]",
                         f"generator.background.image_folder={folder}", match="holds no images")
    (folder / "broken.jpg").write_bytes(b"not an image at all")
    _expect_config_error(generate_cfg, tmp_path / "o4", *PASTE, "generator.background.kinds=[folder]",
                         f"generator.background.image_folder={folder}", match="broken.jpg.*cannot be read")
    _expect_config_error(generate_cfg, tmp_path / "o5", *PASTE[:1], *PASTE[2:], match="dataset: required")
    _expect_config_error(generate_cfg, tmp_path / "o6", *PASTE, "generator.blend=[glue]", match="blend")


def test_keypoints_move_with_their_objects(generate_cfg, tmp_path):
    """Fruit photos with one keypoint per object (its mask's centroid, a pixel of the object): pasted,
    each labeled keypoint lands on its object, marked occluded only under a later one."""
    from pycocotools import mask as mask_utils

    coco = json.loads((FRUITS / "annotations.json").read_text())
    root = tmp_path / "points"
    (root / "images").mkdir(parents=True)
    coco["images"] = coco["images"][:3]
    kept = {image["id"]: image for image in coco["images"]}
    coco["annotations"] = [a for a in coco["annotations"] if a["image_id"] in kept]
    for image in coco["images"]:
        shutil.copy(FRUITS / "images" / Path(image["file_name"]).name, root / "images")
    for annotation in coco["annotations"]:
        image = kept[annotation["image_id"]]
        rle = mask_utils.frPyObjects(annotation["segmentation"], image["height"], image["width"])
        mask = mask_utils.decode(mask_utils.merge(rle)).astype(bool)
        mask = cv2.erode(mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
        ys, xs = np.nonzero(mask)
        pick = int(np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2))  # the inner pixel nearest the centroid
        annotation["keypoints"], annotation["num_keypoints"] = [float(xs[pick]) + 0.5, float(ys[pick]) + 0.5, 2], 1
    for category in coco["categories"]:
        category["keypoints"], category["skeleton"] = ["centre"], []
    (root / "annotations.json").write_text(json.dumps(coco))
    out = tmp_path / "pasted"
    generate(generate_cfg(f"out={out}", "n=6", "seed=4", "generator=paste", f"generator.dataset={root}",
                          "render.width=320", "render.height=240", "progress=false", "generator.objects=[4,8]",
                          "generator.flip=1.0", "generator.max_occlusion=0.9"))
    seen = {0: 0, 1: 0, 2: 0}
    for index in range(6):
        sample = read_sample(out, index)
        assert check_sample(sample) == []
        assert not any(record["flip"] for record in sample.generation["objects"])  # left/right would swap
        for instance in sample.instances:
            (x, y, v), = instance.keypoints
            seen[int(v)] += 1
            if v == 0:
                continue
            row, col = int(y), int(x)
            assert instance.amodal_mask[row, col]  # on its own object, wherever it was moved
            owner = sample.instance_ids[row, col]
            assert (v == 2) == (owner == instance.instance_id) and (v == 2 or owner > instance.instance_id)
    assert seen[2] > 10 and seen[1] > 0  # visible ones and ones hidden under a later object
