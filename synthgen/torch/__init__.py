"""PyTorch datasets of synthgen data (the ``torch`` extra: ``pip install 'synthgen[torch]'``).

- ``StoreDataset``: map-style, over a synthgen store (loose or tar shards) or any dataset
  synthgen reads (COCO, YOLO, VOC, Label Studio, ...).
- ``StreamingDataset``: iterable, renders samples inside the DataLoader's workers (one
  renderer per worker); sample ``i`` is the sample ``synthgen generate`` would write.

Both yield ``(image, target)``: a ``tv_tensors.Image`` (3, H, W) uint8 and the target dict
torchvision's detection models and v2 transforms take (``boxes``, ``labels``, ``masks``,
``keypoints``; see ``synthgen.torch.targets``). ``collate_detection`` batches them as lists.
"""

from synthgen.torch.store_dataset import StoreDataset
from synthgen.torch.streaming_dataset import StreamingDataset
from synthgen.torch.targets import collate_detection, detection_target

__all__ = ["StoreDataset", "StreamingDataset", "collate_detection", "detection_target"]
