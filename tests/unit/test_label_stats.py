"""Label-statistics gap: zero for identical data, large and correctly described for shifted data."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from synthgen.core import CategoryInfo
from synthgen.io.dataset import LabeledDataset, LabeledImage, LabeledObject
from synthgen.io.formats import read_dataset
from synthgen.validation.label_stats import label_gap, label_statistics
from tests.resources import FRUITS


def _dataset(boxes_per_image, categories=("date", "fig"), size=(100, 80), occlusion=None):
    cats = tuple(CategoryInfo(i + 1, name) for i, name in enumerate(categories))
    images = []
    for index, boxes in enumerate(boxes_per_image):
        objects = [LabeledObject(category_id, np.asarray(box, dtype=float), occlusion=occlusion)
                   for category_id, box in boxes]
        images.append(LabeledImage(index, Path(f"{index}.png"), *size, objects=objects))
    return LabeledDataset("toy", cats, images)


def _shift(dataset, scale):
    """Every box scaled about its centre."""
    images = []
    for image in dataset.images:
        objects = []
        for obj in image.objects:
            centre = (obj.bbox[:2] + obj.bbox[2:]) / 2
            half = (obj.bbox[2:] - obj.bbox[:2]) / 2 * scale
            objects.append(dataclasses.replace(obj, bbox=np.concatenate([centre - half, centre + half])))
        images.append(dataclasses.replace(image, objects=objects))
    return dataclasses.replace(dataset, images=images)


def test_statistics_are_relative_to_the_image():
    stats = label_statistics(_dataset([[(1, [0, 0, 50, 20])], []], size=(100, 40)))
    assert stats["objects_per_image"].tolist() == [1, 0]
    assert stats["size"][0] == pytest.approx(np.sqrt(50 * 20 / (100 * 40)))
    assert stats["aspect"][0] == pytest.approx(np.log2(50 / 20))
    assert (stats["center_x"][0], stats["center_y"][0]) == (0.25, 0.25)


def test_identical_datasets_have_no_gap():
    data = _dataset([[(1, [10, 10, 30, 30]), (2, [40, 20, 60, 50])], [(1, [5, 5, 25, 35])]])
    gap = label_gap(data, data)
    assert gap["findings"] == []
    assert gap["class_frequencies"]["jensen_shannon"] == 0.0
    for key in ("objects_per_image", "size", "aspect", "center_x", "center_y"):
        assert gap[key]["wasserstein"] == 0.0 and gap[key]["ks_statistic"] == 0.0
    assert gap["occlusion"]["available"] is False  # neither side has it


def test_larger_boxes_and_missing_classes_are_found_and_described():
    rng = np.random.default_rng(0)
    boxes = [[(int(rng.integers(1, 3)), [x, y, x + 10, y + 8]) for x, y in rng.uniform(20, 60, size=(3, 2))]
             for _ in range(20)]
    real = _dataset(boxes)
    synthetic = _shift(real, 2.0)
    gap = label_gap(synthetic, real)
    assert gap["size"]["median_synthetic"] == pytest.approx(2 * gap["size"]["median_real"])
    assert any(f.startswith("synthetic boxes are 2.0x larger than real ones") for f in gap["findings"])
    only_dates = _dataset([[(1, box) for _, box in image] for image in boxes])
    gap = label_gap(only_dates, real)
    assert any("class 'fig' never appears in synthetic data" in f for f in gap["findings"])
    assert 0 < gap["class_frequencies"]["jensen_shannon"] < 1


@pytest.mark.realdata
def test_real_dataset_statistics():
    real = read_dataset(FRUITS)
    stats = label_statistics(real)
    assert len(stats["size"]) == 165 and len(stats["mask_fill"]) == 165
    assert 0.5 < np.median(stats["mask_fill"]) <= 1.0  # polygons fill most of their boxes
    gap = label_gap(real, real)
    assert gap["findings"] == [] and np.isclose(np.sum(gap["center_heatmap"]["real"]), 1.0)
