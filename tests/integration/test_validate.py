"""`synthgen validate`: real MobileNetV2 features on the real fruits photos and degraded copies."""

import json
import shutil
from pathlib import Path

import cv2
import pytest
from hydra import compose, initialize_config_dir

from synthgen.commands.validate import validate
from synthgen.core.errors import InputError
from synthgen.paths import conf_dir
from tests.resources import FRUITS

pytestmark = pytest.mark.realdata


def _validate(synthetic, real, out, *overrides):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="validate", overrides=[f"synthetic={synthetic}", f"real={real}", f"out={out}",
                                                         "permutations=10", "kid_subsets=10", "progress=false",
                                                         *overrides])
    return json.loads((validate(cfg) / "metrics.json").read_text())


def _degraded(tmp_path: Path, name: str, blur_sigma: float, jpeg_quality: int) -> Path:
    root = tmp_path / name
    (root / "images").mkdir(parents=True)
    shutil.copy(FRUITS / "annotations.json", root / "annotations.json")
    for path in sorted((FRUITS / "images").glob("*.jpg")):
        image = cv2.imread(str(path))
        if blur_sigma:
            image = cv2.GaussianBlur(image, (0, 0), blur_sigma)
        cv2.imwrite(str(root / "images" / path.name), image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    return root


def _half(tmp_path: Path, name: str, parity: int) -> Path:
    """Every other photo of the real set (same distribution, no shared image)."""
    root = tmp_path / name
    (root / "images").mkdir(parents=True)
    data = json.loads((FRUITS / "annotations.json").read_text())
    keep = {image["id"] for i, image in enumerate(data["images"]) if i % 2 == parity}
    data["images"] = [image for image in data["images"] if image["id"] in keep]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in keep]
    for image in data["images"]:
        shutil.copy(FRUITS / "images" / image["file_name"], root / "images" / image["file_name"])
    (root / "annotations.json").write_text(json.dumps(data))
    return root


def test_identical_sets_show_no_gap_and_degradations_rank_in_order(tmp_path):
    same = _validate(FRUITS, FRUITS, tmp_path / "same")
    assert same["image_gap"]["classifier_two_sample"]["auc"] < 0.7  # a probe cannot tell a set from itself
    assert same["label_gap"]["findings"] == []
    halves = _validate(_half(tmp_path, "a", 0), _half(tmp_path, "b", 1), tmp_path / "halves")
    kid_halves = halves["image_gap"]["kid"]
    mild = _validate(_degraded(tmp_path, "mild", 1.5, 60), FRUITS, tmp_path / "report_mild")
    strong = _validate(_degraded(tmp_path, "strong", 6.0, 20), FRUITS, tmp_path / "report_strong")
    for metric in ("kid", "mmd_rbf"):
        key = "mean" if metric == "kid" else "value"
        assert halves["image_gap"][metric][key] < mild["image_gap"][metric][key] < strong["image_gap"][metric][key]
    assert strong["image_gap"]["classifier_two_sample"]["auc"] > 0.9
    # Two halves of one distribution: KID about 0 (9 images a side: noisy, may be negative),
    # small beside a real degradation.
    assert abs(kid_halves["mean"]) < 0.2 * strong["image_gap"]["kid"]["mean"]
    record = strong["extractor"]
    assert record["name"] == "MobileNetV2" and "bicubic" in record["preprocessing"] and record["dimensions"] == 1280
    assert strong["image_gap"]["kid"]["n_real"] == 18 and strong["image_gap"]["frechet_distance"]["full_rank"] is False


def test_report_is_one_self_contained_page_with_plots_and_galleries(tmp_path):
    _validate(_degraded(tmp_path, "blurred", 3.0, 50), FRUITS, tmp_path / "report", "gallery=3")
    page = (tmp_path / "report" / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 5  # plots
    assert page.count("data:image/jpeg;base64,") == 6  # two galleries of 3
    assert "KID-MobileNetV2" in page and "FD-MobileNetV2" in page and "<script" not in page
    assert "src=\"http" not in page


def test_empty_sets_and_unrelated_classes_are_clear_errors(tmp_path):
    empty = tmp_path / "empty"
    (empty / "images").mkdir(parents=True)
    (empty / "annotations.json").write_text(json.dumps({"images": [], "annotations": [], "categories": [
        {"id": 1, "name": "date"}]}))
    with pytest.raises(InputError, match=r"synthetic=empty: needs at least 2 images, has 0"):
        _validate(empty, FRUITS, tmp_path / "a")
    renamed = _degraded(tmp_path, "renamed", 0, 95)
    data = json.loads((renamed / "annotations.json").read_text())
    for category in data["categories"]:
        category["name"] = "x_" + category["name"]
    (renamed / "annotations.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"share no category names"):
        _validate(renamed, FRUITS, tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
