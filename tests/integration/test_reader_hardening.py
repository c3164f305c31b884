"""One regression test per class of bad input the readers used to crash on, hang on, drop labels
for or accept (issue 25). Each starts from a valid dataset of ``tests.fuzzing`` and breaks one
thing; the native crashes (NaN polygons) are read in a child process."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from synthgen.core.errors import ConfigError, InputError
from synthgen.io.bop import read_bop
from synthgen.io.formats import read_dataset
from synthgen.io.store import open_store
from tests.fuzzing import (
    Worker,
    _bomb_png,
    _image,
    write_bop,
    write_coco,
    write_labelstudio,
    write_store,
    write_voc,
    write_yolo,
)


def _edit_json(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


@pytest.fixture
def coco(tmp_path):
    root = tmp_path / "coco"
    root.mkdir()
    write_coco(root)
    return root


@pytest.fixture
def yolo(tmp_path):
    root = tmp_path / "yolo"
    root.mkdir()
    write_yolo(root)
    return root


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return write_store(tmp_path_factory.mktemp("store") / "ds")


# Native crashes and hangs ----------------------------------------------------------


@pytest.mark.parametrize("polygon", [[2, 3, float("nan"), 3, 12, 11], [2, 3, 1e9, 3, 1e9, 1e9, 2, 11]])
def test_a_nan_or_far_away_coco_polygon_is_an_error_not_a_native_crash(coco, polygon):
    _edit_json(coco / "instances.json", lambda d: d["annotations"][0].update(segmentation=[polygon]))
    worker = Worker(timeout_s=30)
    try:
        result = worker.read("coco", coco)  # in a child: pycocotools used to kill the process here
    finally:
        worker.close()
    assert result["outcome"] == "error", result
    assert "annotations[0] (id 1): 'segmentation'[0]" in result["message"]


def test_a_nan_yolo_segment_line_is_an_error(yolo):
    (yolo / "labels" / "train" / "0.txt").write_text("0 nan 0.1 0.2 0.1 0.2 0.2\n")
    with pytest.raises(InputError, match=r"0\.txt:1: NaN or infinite values"):
        read_dataset(yolo)


def test_a_huge_yolo_kpt_shape_is_refused_at_once_with_the_limit(yolo):
    text = (yolo / "data.yaml").read_text().replace("kpt_shape: [2, 3]", "kpt_shape: [1000000000, 3]")
    (yolo / "data.yaml").write_text(text)
    start = time.perf_counter()
    with pytest.raises(InputError, match=r"1000000000 keypoints, over the limit of 1024 .*SYNTHGEN_MAX_KEYPOINTS"):
        read_dataset(yolo)
    assert time.perf_counter() - start < 5


def test_the_keypoint_limit_can_be_raised(yolo, monkeypatch):
    text = (yolo / "data.yaml").read_text().replace("kpt_shape: [2, 3]", "kpt_shape: [2000, 3]")
    (yolo / "data.yaml").write_text(text.replace("flip_idx: [1, 0]\n", ""))
    for k in range(2):
        (yolo / "labels" / "train" / f"{k}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
        (yolo / "labels" / "val" / f"{k}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    monkeypatch.setenv("SYNTHGEN_MAX_KEYPOINTS", "5000")
    dataset = read_dataset(yolo)
    assert len(dataset.categories[0].keypoint_names) == 2000


def test_a_decompression_bomb_header_is_refused_without_decoding(coco):
    (coco / "images" / "0.png").write_bytes(_bomb_png())
    with pytest.raises(InputError, match=r"100000x100000 pixels, over the limit of 268435456"):
        read_dataset(coco)


# Labels silently dropped --------------------------------------------------------------


def test_a_yolo_dataset_below_a_folder_named_images_keeps_its_labels(tmp_path):
    root = tmp_path / "images" / "ds"  # ultralytics replaces only the last /images/ of a path
    root.mkdir(parents=True)
    write_yolo(root)
    dataset = read_dataset(root)
    assert sum(len(image.objects) for image in dataset.images) == 11  # every line of every label file


def test_bop_not_visible_objects_are_left_out_not_turned_into_negative_boxes(tmp_path):
    write_bop(tmp_path)
    dataset = read_bop(tmp_path)
    assert [len(image.objects) for image in dataset.images] == [1, 1]  # the [-1, -1, -1, -1] object of each
    assert all(obj.bbox.tolist() == [4, 5, 12, 11] for image in dataset.images for obj in image.objects)


def test_bop_scene_gt_and_gt_info_of_different_lengths_are_an_error(tmp_path):
    write_bop(tmp_path)
    info = tmp_path / "train_pbr" / "000000" / "scene_gt_info.json"
    _edit_json(info, lambda d: d["0"].pop())
    with pytest.raises(InputError, match=r"im_id 0: scene_gt.json lists 2 objects but scene_gt_info.json 1"):
        read_bop(tmp_path)


def test_bop_obj_id_missing_from_models_info_is_an_error(tmp_path):
    write_bop(tmp_path)
    _edit_json(tmp_path / "train_pbr" / "000000" / "scene_gt.json", lambda d: d["1"][0].update(obj_id=9))
    with pytest.raises(InputError, match=r"im_id 1: gt 0: obj_id 9 is not in models/models_info.json"):
        read_bop(tmp_path)


def test_an_empty_bop_rgb_image_is_a_clear_error(tmp_path):
    write_bop(tmp_path)
    (tmp_path / "train_pbr" / "000000" / "rgb" / "000001.png").write_bytes(b"")
    with pytest.raises(InputError, match=r"000001.png' could not be read"):
        read_bop(tmp_path)


# Wrong data accepted ---------------------------------------------------------------------


def test_a_declared_size_that_disagrees_with_the_image_names_both(coco):
    _edit_json(coco / "instances.json", lambda d: d["images"][1].update(width=64))
    with pytest.raises(InputError, match=r"images\[1\] \(id 2\): declared size 64x24 but the image file .*1.png' is 32x24"):
        read_dataset(coco)


def test_a_declared_size_matching_the_exif_rotated_image_is_accepted(tmp_path):
    from PIL import Image

    root = tmp_path / "coco"
    root.mkdir()
    write_coco(root)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display: a 32x24 file shows as 24x32
    Image.new("RGB", (32, 24)).save(root / "images" / "1.jpg", exif=exif)
    os.remove(root / "polylines.json")
    _edit_json(root / "instances.json", lambda d: (d["images"][1].update(file_name="1.jpg", width=24, height=32),
                                                  d.update(annotations=d["annotations"][:2])))
    assert read_dataset(root).images[1].width == 24


def test_vertex_values_out_of_place_are_named(coco):
    cases = [
        (lambda d: d["categories"][0].update(id="1"), r"categories\[0\]: 'id': must be an integer, got '1'"),
        (lambda d: d["annotations"][2].update(keypoints=[12, 3, 5, 13, 20, 1]), r"visibility must be 0, 1 or 2"),
        (lambda d: d["categories"][1].update(skeleton=[[1, 3]]), r"'skeleton'\[0\]: must be <= 2, got 3"),
        (lambda d: d["annotations"][0].update(area=-4), r"annotations\[0\] \(id 1\): 'area': must be >= 0"),
        (lambda d: d["annotations"][1]["segmentation"].update(size=[48, 32]), r"RLE size \[48.0, 32.0\] is not the image"),
        (lambda d: d["annotations"][3]["segmentation"].update(counts=[0, 4, 20]), r"add up to 32x24 = 768 pixels"),
        (lambda d: d["annotations"][1]["segmentation"].update(counts="\x7f\x7f"), r"malformed compressed RLE"),
        (lambda d: d["images"][0].update(width=10**12), r"declared size 1000000000000x24"),
        (lambda d: d["images"].append("not an image"), r"images\[2\]: must be an object"),
        (lambda d: d["categories"][0].pop("name"), r"categories\[0\] \(id 1\): missing 'name'"),
        (lambda d: d["annotations"][0].update(segmentation=[[1, 2, 3, 4]]), r"at least 6"),
    ]
    original = (coco / "instances.json").read_text()
    for edit, message in cases:
        (coco / "instances.json").write_text(original)
        _edit_json(coco / "instances.json", edit)
        with pytest.raises(InputError, match=message):
            read_dataset(coco)


def test_a_non_utf8_label_file_is_one_error(yolo):
    (yolo / "labels" / "train" / "0.txt").write_bytes(b"0 0.5 0.5 0.1 0.1 \xff\n")
    with pytest.raises(InputError, match=r"0.txt: not UTF-8 text"):
        read_dataset(yolo)


def test_yolo_names_must_be_names(yolo):
    text = (yolo / "data.yaml").read_text().replace("names:\n  0: box\n  1: ring\n", "names: 5\n")
    (yolo / "data.yaml").write_text(text)
    with pytest.raises(InputError, match=r"data.yaml: names: must be a list of class names"):
        read_dataset(yolo)


def test_voc_decimal_sizes_and_boolean_flags_are_read(tmp_path):
    write_voc(tmp_path)
    xml = tmp_path / "Annotations" / "0.xml"
    xml.write_text(xml.read_text().replace("<width>32</width>", "<width>32.0</width>")
                   .replace("<truncated>0</truncated>", "<truncated>true</truncated>"))
    dataset = read_dataset(tmp_path)
    assert dataset.images[0].width == 32 and dataset.images[0].objects[0].truncation == 1.0


def test_a_voc_imagesets_entry_that_is_a_folder_is_an_error(tmp_path):
    write_voc(tmp_path)
    os.remove(tmp_path / "ImageSets" / "Main" / "val.txt")
    (tmp_path / "ImageSets" / "Main" / "val.txt").mkdir()
    with pytest.raises(InputError, match=r"val.txt: is a folder, expected a file"):
        read_dataset(tmp_path)


def test_labelstudio_regions_are_checked(tmp_path):
    write_labelstudio(tmp_path)
    original = (tmp_path / "tasks.json").read_text()
    cases = [
        (lambda t: t[0]["annotations"][0]["result"][0]["value"].update(rectanglelabels=[]), r"'rectanglelabels' is empty"),
        (lambda t: t[0]["annotations"][0]["result"][0]["value"].update(x="10"), r"'x': must be a finite number, got '10'"),
        (lambda t: t[0]["annotations"][0]["result"][1]["value"].update(points=[1, 2, 3, 4, 5, 6]), r"list of \[x, y\] pairs"),
        (lambda t: t[0]["annotations"][0]["result"][1]["value"].update(points=[[1, 2, 3]] * 3), r"list of \[x, y\] pairs"),
    ]
    for edit, message in cases:
        (tmp_path / "tasks.json").write_text(original)
        _edit_json(tmp_path / "tasks.json", edit)
        with pytest.raises(InputError, match=message):
            read_dataset(tmp_path)
    (tmp_path / "tasks.json").write_text(original)
    _edit_json(tmp_path / "tasks.json", lambda t: t[0]["annotations"][0].update(result=None))
    assert read_dataset(tmp_path).images[0].objects == []  # null: a task nobody labeled yet


def test_a_labelstudio_label_without_a_value_is_an_error(tmp_path):
    write_labelstudio(tmp_path)
    config = tmp_path / "labeling_config.xml"
    config.write_text(config.read_text().replace('<Label value="ring"/>', "<Label/>"))
    with pytest.raises(InputError, match=r"labeling_config.xml: RectangleLabels <Label> 2: 'value'"):
        read_dataset(tmp_path)


# Reads outside the dataset ------------------------------------------------------------------


def test_an_image_symlinked_out_of_the_dataset_is_refused(coco, tmp_path):
    _image(tmp_path / "elsewhere.png")
    os.remove(coco / "images" / "1.png")
    os.symlink(tmp_path / "elsewhere.png", coco / "images" / "1.png")
    with pytest.raises(InputError, match=r"images\[1\] \(id 2\): .*1.png' leads to .*elsewhere.png', outside the dataset"):
        read_dataset(coco)


def test_a_yolo_label_symlinked_out_of_the_dataset_is_refused(yolo, tmp_path):
    (tmp_path / "secret.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    os.remove(yolo / "labels" / "val" / "0.txt")
    os.symlink(tmp_path / "secret.txt", yolo / "labels" / "val" / "0.txt")
    with pytest.raises(InputError, match=r"leads to .*secret.txt', outside the dataset root"):
        read_dataset(yolo)


def test_a_symlink_loop_is_one_error(coco):
    os.remove(coco / "images" / "0.png")
    os.symlink(coco / "images" / "0.png", coco / "images" / "0.png")
    with pytest.raises(InputError, match=r"images\[0\] \(id 1\): path .*0.png' cannot be resolved"):
        read_dataset(coco)


@pytest.mark.parametrize("image", ["/etc/hostname", "../ds_copy/images/000000.png"])
def test_store_records_naming_files_outside_the_store_are_refused(store, tmp_path, image):
    import shutil

    copy = tmp_path / "ds"
    shutil.copytree(store, copy)
    shutil.copytree(store, tmp_path / "ds_copy")
    _edit_json(copy / "labels" / "000000.json", lambda r: r["files"].update(image=image))
    with pytest.raises(InputError, match=r"000000.json: files.image: path .* (is absolute|escapes the dataset root)"):
        list(open_store(copy).images)


def test_a_damaged_store_record_is_an_error_naming_it(store, tmp_path):
    import shutil

    copy = tmp_path / "ds"
    shutil.copytree(store, copy)
    _edit_json(copy / "labels" / "000001.json", lambda r: r["instances"][0].pop("bbox"))
    dataset = open_store(copy)
    assert dataset.images[0].objects  # records are read as visited
    with pytest.raises(InputError, match=r"000001.json: instances\[0\]: missing 'bbox'"):
        dataset.images[1]
    (copy / "manifest.json").write_bytes(b"\xff\xfe{}")
    with pytest.raises(InputError, match=r"manifest.json: not UTF-8 text"):
        open_store(copy)


# Settings -------------------------------------------------------------------------------------


def test_a_list_valued_key_given_one_value_is_a_one_element_list():
    from synthgen.commands.mix import MixCommandSettings
    from synthgen.commands.prelabel import PrelabelSettings

    settings = MixCommandSettings(synthetic="runs/a", real="photos", out="mixed")
    assert settings.synthetic == ["runs/a"] and settings.real == ["photos"]
    assert PrelabelSettings(images="photos", out="o", train="runs/a").train == ["runs/a"]
    with pytest.raises(ConfigError, match=r"synthetic: must be a list, e.g. synthetic=\[data/a,data/b\]"):
        MixCommandSettings(synthetic={"a": 1}, real=[], out="mixed")


def test_valid_datasets_of_every_format_read_unchanged(tmp_path):
    """The checks refuse nothing the writers' own conventions produce."""
    for name, writer in (("coco", write_coco), ("yolo", write_yolo), ("voc", write_voc), ("labelstudio", write_labelstudio)):
        root = tmp_path / name
        root.mkdir()
        writer(root)
        dataset = read_dataset(root)
        assert sum(len(image.objects) for image in dataset.images) > 0
        for image in dataset.images:
            for obj in image.objects:
                assert np.isfinite(obj.bbox).all()


def test_every_reader_is_guarded():
    """A new reader gets the last-line guard by construction of this list: add it here."""
    from synthgen.io.coco import read_coco
    from synthgen.io.labelstudio import read_labelstudio
    from synthgen.io.voc import read_voc
    from synthgen.io.yolo import read_yolo

    for reader in (read_coco, read_yolo, read_voc, read_labelstudio, read_bop, open_store):
        assert hasattr(reader, "__wrapped__"), reader.__name__


def test_a_file_name_over_255_bytes_is_one_error(coco):
    _edit_json(coco / "instances.json", lambda d: d["images"][0].update(file_name="x" * 300 + ".png"))
    with pytest.raises(InputError, match=r"images\[0\] \(id 1\): path .* has a name over 255 bytes"):
        read_dataset(coco)
