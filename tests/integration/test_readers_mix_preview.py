"""Reader validation (one clear error per problem), mixing, and preview galleries."""

import hashlib
import json
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from synthgen.commands.generate import generate
from synthgen.commands.mix import mix
from synthgen.commands.preview import preview
from synthgen.core.errors import ConfigError, InputError
from synthgen.io.formats import read_dataset
from synthgen.paths import conf_dir
from tests.resources import FRUITS, need

needs_fruits = pytest.mark.realdata


def _compose(name: str, *overrides: str):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name=name, overrides=list(overrides))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("mix") / "fruit_synth"
    generate(_compose("generate", "scene=tabletop_fruits", f"out={root}", "n=12", "render.width=160",
                      "render.height=120", "progress=false"))
    return root


def _coco_dataset(tmp_path: Path, edit=None) -> Path:
    """A tiny valid COCO dataset (2 images, 3 objects), optionally edited."""
    root = tmp_path / "coco"
    (root / "images").mkdir(parents=True)
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(root / "images" / name), np.zeros((40, 60, 3), np.uint8))
    data = {
        "images": [{"id": 1, "file_name": "a.png", "width": 60, "height": 40},
                   {"id": 2, "file_name": "b.png", "width": 60, "height": 40}],
        "categories": [{"id": 1, "name": "date"}, {"id": 2, "name": "fig"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [5, 5, 10, 8], "area": 80, "iscrowd": 0,
             "segmentation": [[5, 5, 15, 5, 15, 13, 5, 13]]},
            {"id": 2, "image_id": 1, "category_id": 2, "bbox": [30, 10, 20, 20], "area": 400, "iscrowd": 0},
            {"id": 3, "image_id": 2, "category_id": 1, "bbox": [0, 0, 60, 40], "area": 2400, "iscrowd": 0},
        ],
    }
    if edit:
        edit(data)
    (root / "annotations.json").write_text(json.dumps(data))
    return root


def _folder_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(path.as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def test_valid_coco_reads_without_touching_the_input(tmp_path):
    root = _coco_dataset(tmp_path)
    before = _folder_hash(root)
    dataset = read_dataset(root)
    assert [len(i.objects) for i in dataset.images] == [2, 1]
    assert np.allclose(dataset.images[0].objects[0].bbox, [5, 5, 15, 13])
    assert _folder_hash(root) == before


def _set(path, value):
    def edit(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return edit


@pytest.mark.parametrize("edit, message", [
    (_set(("annotations", 1, "category_id"), 7), r"annotations\[1\] \(id 2\): category_id 7 is not declared"),
    (_set(("annotations", 0, "bbox"), [50, 30, 20, 20]), r"annotations\[0\] \(id 1\): box .* outside the 60x40 image"),
    (_set(("images", 1, "file_name"), "missing.png"), r"images\[1\] \(id 2\): image file .*missing.png' is missing"),
    (_set(("images", 1, "id"), 1), r"images\[1\]: duplicate image id 1"),
    (_set(("annotations", 2, "id"), 1), r"annotations\[2\]: duplicate annotation id 1"),
    (_set(("images", 0, "file_name"), "../../etc/passwd"), r"images\[0\] \(id 1\): path '../../etc/passwd' escapes"),
    (_set(("images", 0, "file_name"), "/etc/passwd"), r"images\[0\] \(id 1\): path '/etc/passwd' is absolute"),
    (_set(("annotations", 0, "image_id"), 9), r"annotations\[0\] \(id 1\): image_id 9 is not in 'images'"),
])
def test_each_coco_problem_is_one_clear_error(tmp_path, edit, message):
    root = _coco_dataset(tmp_path, edit)
    with pytest.raises(InputError, match=message) as error:
        read_dataset(root)
    assert str(root / "annotations.json") in str(error.value)


def test_malformed_coco_json_names_the_file(tmp_path):
    root = _coco_dataset(tmp_path)
    (root / "annotations.json").write_text('{"images": [')
    with pytest.raises(InputError, match=r"annotations.json: malformed JSON"):
        read_dataset(root)


def _yolo_dataset(tmp_path: Path, line: str) -> Path:
    root = tmp_path / "yolo"
    (root / "images" / "train").mkdir(parents=True)
    (root / "labels" / "train").mkdir(parents=True)
    cv2.imwrite(str(root / "images" / "train" / "a.png"), np.zeros((40, 60, 3), np.uint8))
    (root / "labels" / "train" / "a.txt").write_text(line + "\n")
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/train\nnames:\n  0: date\n")
    return root


@pytest.mark.parametrize("line, message", [
    ("0 0.5 0.5 0.2 0.2", None),
    ("0 0.5 zero 0.2 0.2", r"a.txt:1: malformed line"),
    ("3 0.5 0.5 0.2 0.2", r"a.txt:1: class 3 is not declared"),
    ("0 0.8 0.5 0.8 0.2", r"a.txt:1: box .* outside the 60x40 image"),
    ("0 1.5 0.5 0.2 0.2", r"a.txt:1: coordinates must be normalised"),
    ("0 0.5 0.5 0.2", r"a.txt:1: 4 values"),
])
def test_yolo_lines_are_validated(tmp_path, line, message):
    root = _yolo_dataset(tmp_path, line)
    if message is None:
        (image,) = read_dataset(root).images
        assert np.allclose(image.objects[0].bbox, [24, 16, 36, 24])
        return
    with pytest.raises(InputError, match=message):
        read_dataset(root)


def test_yolo_image_folder_outside_the_dataset_is_refused(tmp_path):
    root = _yolo_dataset(tmp_path, "0 0.5 0.5 0.2 0.2")
    (root / "data.yaml").write_text("train: ../../somewhere\nval: images/train\nnames: [date]\n")
    with pytest.raises(InputError, match=r"data.yaml: train: path '../../somewhere' escapes the dataset root"):
        read_dataset(root)


def test_malformed_voc_xml_names_the_file(tmp_path):
    root = tmp_path / "voc"
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "a.xml").write_text("<annotation><size>")
    with pytest.raises(InputError, match=r"a.xml: malformed XML"):
        read_dataset(root)


def test_labelstudio_paths_outside_the_root_are_refused(tmp_path):
    root = tmp_path / "ls"
    root.mkdir()
    (root / "tasks.json").write_text(json.dumps([{"data": {"image": "/data/local-files/?d=../../etc/passwd"}}]))
    with pytest.raises(InputError, match=r"task\[0\]: path '../../etc/passwd' escapes the dataset root"):
        read_dataset(root)


def _mix(tmp_path, synthetic, *overrides):
    return mix(_compose("mix", f"synthetic=[{synthetic}]", f"real=[{FRUITS}]", f"out={tmp_path / 'out'}", *overrides))


def _manifest(out: Path) -> dict:
    return json.loads((out / "mix_manifest.json").read_text())


@needs_fruits
def test_mix_counts_ratio_provenance_and_untouched_real_test_split(tmp_path, synthetic):
    out = _mix(tmp_path, synthetic, "synthetic_per_real=0.5", "test_fraction=0.25", "real_weight=2.0")
    manifest = _manifest(out)
    real_total = 18
    n_test = round(0.25 * real_total)
    assert manifest["counts"]["test"] == {"synthetic": 0, "real": n_test}
    train = manifest["counts"]["train"]
    assert train["real"] == real_total - n_test and train["synthetic"] == round(0.5 * train["real"])
    coco = json.loads((out / "annotations" / "instances_train.json").read_text())
    sources = [image["source"] for image in coco["images"]]
    assert {s["kind"] for s in sources} == {"synthetic", "real"}
    assert {s["dataset"] for s in sources} == {Path(synthetic).name, "fruits_nuts"}
    assert all(image.get("weight", 1.0) == (2.0 if image["source"]["kind"] == "real" else 1.0) for image in coco["images"])
    test_ids = {image["source"]["original_id"] for image in json.loads(
        (out / "annotations" / "instances_test.json").read_text())["images"]}
    # The held-out real test split does not depend on how the training set is mixed.
    other = _mix(tmp_path / "b", synthetic, "real_fraction=0.5", "test_fraction=0.25")
    other_ids = {image["source"]["original_id"] for image in json.loads(
        (other / "annotations" / "instances_test.json").read_text())["images"]}
    assert test_ids == other_ids and len(test_ids) == n_test
    assert _manifest(other)["counts"]["train"]["real"] == 12  # 50% real: as many as the 12 synthetic


@needs_fruits
def test_mix_category_mapping_and_unmatched_policies(tmp_path, synthetic):
    renamed = tmp_path / "renamed"
    shutil.copytree(synthetic, renamed)
    manifest = json.loads((renamed / "manifest.json").read_text())
    manifest["categories"][2]["name"] = "nut"
    (renamed / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match=r"unmatched: synthetic categories \['renamed:nut'\] have no real counterpart"):
        _mix(tmp_path, renamed)
    out = _mix(tmp_path / "mapped", renamed, "+category_map.nut=hazelnut")
    assert [c["name"] for c in _manifest(out)["categories"]] == ["date", "fig", "hazelnut"]
    out = _mix(tmp_path / "merged", renamed, "unmatched=merge", "format=yolo")
    assert [c["name"] for c in _manifest(out)["categories"]] == ["date", "fig", "hazelnut", "nut"]
    assert "3: nut" in (out / "data.yaml").read_text()


@needs_fruits
def test_mix_asking_for_more_than_there_is_says_so(tmp_path, synthetic):
    with pytest.raises(InputError, match=r"synthetic_per_real=10: 14 real training images need 140 synthetic"):
        _mix(tmp_path, synthetic, "synthetic_per_real=10")
    with pytest.raises(ConfigError, match=r"choose one way to size the mix"):
        _mix(tmp_path, synthetic, "synthetic_per_real=1", "real_fraction=0.5")


@pytest.mark.parametrize("source", ["synthetic", "real"])
def test_preview_gallery_for_synthetic_and_real_datasets(tmp_path, synthetic, source):
    if source == "real" and not FRUITS.is_dir():
        need("realdata")
    dataset = synthetic if source == "synthetic" else FRUITS
    out = preview(_compose("preview", f"in={dataset}", f"out={tmp_path / 'p'}", "n=6", "columns=3", "size=96"))
    gallery = cv2.imread(str(out / "gallery.png"))
    assert gallery.shape == (2 * 96, 3 * 96, 3)
    page = (out / "index.html").read_text()
    images = re.findall(r'<img src="data:image/png;base64,', page)
    assert len(images) == 6 and "<script" not in page
    # Labels are drawn: the tiles differ from the plain images' thumbnails.
    first = read_dataset(dataset).images[0]
    plain = cv2.resize(cv2.imread(str(first.path)), (96, int(round(96 * first.height / first.width))))
    top = (96 - plain.shape[0]) // 2
    assert np.abs(gallery[top:top + plain.shape[0], :96].astype(int) - plain).mean() > 2
