"""Foreground masks from box-only labels (GrabCut seeded by the box), checked against the real
polygon masks of the fruit photos, and used for photo textures of box-only datasets."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from synthgen.io.formats import read_dataset
from synthgen.io.record import decode_rle
from synthgen.randomize.cutouts import CutoutCheck, box_cutout
from synthgen.randomize.real_photos import DatasetPhotos
from tests.resources import FRUITS

pytestmark = pytest.mark.realdata


def test_box_cutouts_match_the_real_masks_and_refuse_the_implausible():
    dataset = read_dataset(FRUITS)
    ious, box_ious, refused, total = [], [], 0, 0
    for image in dataset.images[:5]:
        photo = cv2.imread(str(image.path))
        for k, obj in enumerate(image.objects):
            total += 1
            x0, y0, x1, y1 = np.clip(np.rint(obj.bbox), 0, [image.width, image.height] * 2).astype(int)
            truth = decode_rle(obj.segmentation)[y0:y1, x0:x1]
            mask = box_cutout(photo, obj.bbox, seed=k, iterations=3)
            box_ious.append(truth.mean())  # the whole box taken as the object
            if mask is None:
                refused += 1
                continue
            assert mask.shape == truth.shape and mask.dtype == bool  # inside its box by construction
            ious.append((mask & truth).sum() / (mask | truth).sum())
    assert refused / total < 0.25
    assert np.mean(ious) > 0.85 and np.mean(ious) > np.mean(box_ious) + 0.15
    photo = cv2.imread(str(dataset.images[0].path))
    box = dataset.images[0].objects[0].bbox
    assert np.array_equal(box_cutout(photo, box, seed=3), box_cutout(photo, box, seed=3))  # same seed, same mask


def test_implausible_masks_are_refused():
    flat = np.full((60, 80, 3), 128, np.uint8)  # nothing to separate from the background
    assert box_cutout(flat, np.array([20.0, 15.0, 60.0, 45.0]), seed=0) is None
    assert box_cutout(flat, np.array([0.0, 0.0, 80.0, 60.0]), seed=0) is None  # no background outside the box
    assert box_cutout(flat, np.array([5.0, 5.0, 7.0, 7.0]), seed=0) is None  # too small
    disc = flat.copy()
    cv2.circle(disc, (40, 30), 12, (20, 200, 40), -1)
    mask = box_cutout(disc, np.array([28.0, 18.0, 53.0, 43.0]), seed=0)
    assert mask is not None and 0.7 < mask.mean() < 0.85  # a disc fills pi/4 of its box
    assert box_cutout(disc, np.array([28.0, 18.0, 53.0, 43.0]), seed=0, check=CutoutCheck(min_fill=0.9)) is None


def test_box_only_photos_give_segmented_textures(tmp_path):
    """A box-only copy of the fruit photos: patches come from GrabCut masks, not the box's centre."""
    shutil.copytree(FRUITS / "images", tmp_path / "images")
    data = json.loads((FRUITS / "annotations.json").read_text())
    for annotation in data["annotations"]:
        annotation.pop("segmentation", None)
    (tmp_path / "annotations.json").write_text(json.dumps(data))
    photos = DatasetPhotos(str(tmp_path), "texture_dataset")
    rng = np.random.default_rng(0)
    patches = [photos.object_patch(rng, "date") for _ in range(6)]
    counts = photos.cutout_counts
    assert counts["segmented"] > 0 and counts["rejected"] / (counts["segmented"] + counts["rejected"]) < 0.5
    assert all(patch.ndim == 3 and patch.shape[2] == 3 for patch in patches)
