"""``StoreDataset``: a map-style PyTorch dataset over a synthgen store (loose or tar shards) or any readable dataset."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from synthgen.io.formats import read_dataset
from synthgen.io.input_checks import load_json
from synthgen.io.manifest import categories_from_manifest, read_manifest
from synthgen.io.record import labeled_image
from synthgen.io.shards import ShardIndex, is_shard_store, read_member
from synthgen.torch.targets import detection_target, torch

__all__ = ["StoreDataset", "store_item"]


def _rgb(image: Image.Image) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file, turned as its EXIF orientation says (as the readers size it)."""
    return np.array(ImageOps.exif_transpose(image).convert("RGB"))  # a writable copy: torch shares it


def store_item(root: Path, record_path: Path, categories) -> tuple:
    """``(image, target)`` of one committed record of a loose store (its files checked as any reader does)."""
    image = labeled_image(root, load_json(record_path), categories, str(record_path))
    with Image.open(image.path) as file:
        return detection_target(image, _rgb(file))


class StoreDataset(torch.utils.data.Dataset):
    """Map-style dataset: item ``i`` is ``(image, target)`` of the dataset's ``i``-th image.

    Works with ``torch.utils.data.DataLoader`` (any worker count; use
    ``collate_fn=synthgen.torch.collate_detection`` for detection models) and with
    torchvision v2 transforms, which move boxes, masks and keypoints with the image.

    Args:
        root: A synthgen store (``synthgen generate``'s ``out``; loose files or
            ``writer.layout=webdataset`` tar shards), or any dataset ``synthgen`` reads
            (COCO, YOLO, VOC, Label Studio, ...).
        transforms: Called as ``transforms(image, target)`` (a torchvision v2 transform).
        format: ``auto`` or a readable format's name (ignored for shard stores).

    Attributes:
        categories: The dataset's categories (``CategoryInfo``: id, name, ...).

    Raises:
        InputError: The dataset cannot be read (the message names the file and entry).
    """

    def __init__(self, root: str | Path, transforms: Callable | None = None, format: str = "auto"):
        self.root = Path(root).expanduser()
        self.transforms = transforms
        if is_shard_store(self.root):
            self.categories = categories_from_manifest(read_manifest(self.root))
            self._shards = ShardIndex(self.root)
            self._images = None
        else:
            dataset = read_dataset(self.root, format)
            self.categories, self._images, self._shards = dataset.categories, dataset.images, None

    def __len__(self) -> int:
        return len(self._shards) if self._shards is not None else len(self._images)

    def labeled_image(self, index: int):
        """The ``LabeledImage`` (every label the source has, typed) of item ``index``."""
        if self._shards is None:
            return self._images[index]
        sample = self._shards.samples[index]
        return labeled_image(self.root, sample.record, self.categories, f"{self.root}: sample {sample.key}",
                             files_on_disk=False)

    def _pixels(self, index: int) -> np.ndarray:
        if self._shards is None:
            source = self._images[index].path
        else:
            source = io.BytesIO(read_member(self._shards.samples[index].image))
        with Image.open(source) as image:
            return _rgb(image)

    def __getitem__(self, index: int) -> tuple:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} images")
        index %= len(self)
        image, target = detection_target(self.labeled_image(index), self._pixels(index))
        return self.transforms(image, target) if self.transforms is not None else (image, target)
