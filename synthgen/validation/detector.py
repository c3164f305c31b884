"""A small torchvision detector on the offline MobileNetV2 backbone: train, predict, evaluate.

Used by train-on-synthetic-test-on-real (``synthgen.validation.tstr``). The backbone is
MobileNetV2's ImageNet feature extractor cut after block 13 (stride 16, 96 channels; the
full stride-32 network finds objects of a few tens of pixels poorly at the small image
sizes a CPU trains at), with frozen batch norm; Faster R-CNN heads, or Mask R-CNN with a
light mask head when masks are wanted. Images are resized so their longer side is
``image_size`` pixels; boxes and masks are predicted back in original pixels. Scores are
COCO mAP from pycocotools. Needs the ``validate`` extra (torch, torchvision).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
from collections.abc import Sequence

import numpy as np
from PIL import Image

from synthgen.core.errors import InputError
from synthgen.core.validation import check_number
from synthgen.io.coco import coco_dict
from synthgen.io.dataset import LabeledDataset, LabeledImage
from synthgen.io.record import decode_rle
from synthgen.validation.features import import_torch, load_mobilenet_v2

__all__ = ["DetectorTraining", "MobileNetV2Detector", "coco_results", "coco_scores"]

_BACKBONE_BLOCKS = 14  # features[:14]: stride 16, 96 channels
_BACKBONE_CHANNELS = 96


def _build_model(num_classes: int, masks: bool, image_size: int, weights: str, trainable_blocks: int):
    torch, torchvision = import_torch()
    from torchvision.models.detection import FasterRCNN, MaskRCNN
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.models.detection.rpn import AnchorGenerator
    from torchvision.ops import MultiScaleRoIAlign
    from torchvision.ops.misc import FrozenBatchNorm2d

    network = load_mobilenet_v2(weights, norm_layer=FrozenBatchNorm2d)
    backbone = network.features[:_BACKBONE_BLOCKS]
    for block in backbone[:_BACKBONE_BLOCKS - trainable_blocks]:
        block.requires_grad_(False)
    backbone.out_channels = _BACKBONE_CHANNELS
    common = {
        "num_classes": num_classes + 1,  # + background
        "min_size": image_size, "max_size": image_size,
        "rpn_anchor_generator": AnchorGenerator(sizes=((16, 32, 64, 128, 256),), aspect_ratios=((0.5, 1.0, 2.0),)),
        "box_roi_pool": MultiScaleRoIAlign(["0"], output_size=7, sampling_ratio=2),
        "rpn_pre_nms_top_n_train": 1000, "rpn_post_nms_top_n_train": 500,
        "rpn_pre_nms_top_n_test": 500, "rpn_post_nms_top_n_test": 300,
        "box_batch_size_per_image": 128, "box_detections_per_img": 100,
    }
    if not masks:
        return FasterRCNN(backbone, **common)
    # torchvision takes either num_classes or explicit predictors; the light mask head needs the latter.
    common.pop("num_classes")
    return MaskRCNN(backbone, **common, box_predictor=FastRCNNPredictor(1024, num_classes + 1),
                    mask_roi_pool=MultiScaleRoIAlign(["0"], output_size=14, sampling_ratio=2),
                    mask_head=MaskRCNNHeads(_BACKBONE_CHANNELS, (64, 64), 1),
                    mask_predictor=MaskRCNNPredictor(64, 64, num_classes + 1))


class MobileNetV2Detector:
    """Faster R-CNN (or Mask R-CNN) on MobileNetV2 ImageNet features, trained for a fixed number of steps.

    A fixed step count (not epochs) makes runs on training sets of different sizes
    comparable: every run sees the same number of images.

    Args:
        category_ids: The dataset's ids of the categories to detect (others are ignored).
        masks: Train a mask head and predict masks (Mask R-CNN).
        image_size: Longer image side fed to the network (pixels).
        steps: Optimizer steps (SGD with momentum, linear warm-up, cosine decay).
        batch_size: Images per step.
        learning_rate: Peak learning rate.
        trainable_blocks: MobileNetV2 blocks trained, counted from the last (0: frozen backbone).
        weights: ``auto`` or a torchvision ``mobilenet_v2`` state dict path (see features.py).
        device: ``cpu`` or ``cuda``.
        seed: Seeds weight initialisation, batch order and flips.
    """

    def __init__(self, category_ids: Sequence[int], masks: bool, image_size: int, steps: int, batch_size: int,
                 learning_rate: float, trainable_blocks: int, weights: str, device: str, seed: int):
        torch, _ = import_torch()
        torch.manual_seed(seed)
        self.category_ids = list(category_ids)
        self._labels = {category_id: label for label, category_id in enumerate(self.category_ids, start=1)}
        self.model = _build_model(len(self.category_ids), masks, image_size, weights, trainable_blocks).to(device)
        self.masks, self.image_size, self.steps, self.batch_size = masks, image_size, steps, batch_size
        self.learning_rate, self.device, self.seed = learning_rate, device, seed
        self._cache: dict[str, np.ndarray] = {}

    def _image(self, image: LabeledImage) -> tuple[np.ndarray, float]:
        """(H', W', 3) uint8 image resized to ``image_size`` on its longer side, and the scale."""
        scale = self.image_size / max(image.width, image.height)
        key = str(image.path)
        if key not in self._cache:
            try:
                with Image.open(image.path) as pil:
                    pil = pil.convert("RGB")
                    if pil.size != (image.width, image.height):
                        raise InputError(f"{image.path}: image is {pil.size[0]}x{pil.size[1]} pixels but its labels "
                                         f"say {image.width}x{image.height}; fix the dataset's image size")
                    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
                    self._cache[key] = np.asarray(pil.resize(size, Image.BILINEAR))
            except OSError as error:
                raise InputError(f"{image.path}: image could not be read ({error})") from error
        return self._cache[key], scale

    def _target(self, image: LabeledImage, pixels: np.ndarray, scale: float, flip: bool):
        torch, _ = import_torch()
        height, width = pixels.shape[:2]
        objects = [obj for obj in image.objects if obj.category_id in self._labels]
        boxes = np.array([obj.bbox for obj in objects], dtype=np.float32).reshape(-1, 4) * scale
        if flip:
            boxes[:, [0, 2]] = width - boxes[:, [2, 0]]
        target = {"boxes": torch.from_numpy(boxes),
                  "labels": torch.tensor([self._labels[obj.category_id] for obj in objects], dtype=torch.int64)}
        if self.masks:
            masks = np.zeros((len(objects), height, width), dtype=np.uint8)
            for i, obj in enumerate(objects):
                if obj.segmentation is not None:
                    full = decode_rle(obj.segmentation).astype(np.uint8)
                    masks[i] = np.asarray(Image.fromarray(full).resize((width, height), Image.NEAREST))
            target["masks"] = torch.from_numpy(masks[:, :, ::-1].copy() if flip else masks)
        return target

    def _tensor(self, pixels: np.ndarray):
        torch, _ = import_torch()
        return torch.from_numpy(pixels.transpose(2, 0, 1).copy()).float().div_(255.0).to(self.device)

    def fit(self, images: Sequence[LabeledImage], progress=None) -> list[float]:
        """Train on ``images``; returns the loss of every step (images without objects are skipped)."""
        torch, _ = import_torch()
        images = [image for image in images if any(obj.category_id in self._labels for obj in image.objects)]
        if not images:
            raise InputError("training set has no labeled objects; nothing to train a detector on")
        rng = np.random.default_rng(self.seed)
        parameters = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = torch.optim.SGD(parameters, lr=self.learning_rate, momentum=0.9, weight_decay=1e-4)
        warmup = max(1, self.steps // 10)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup) * 0.5 * (
            1.0 + math.cos(math.pi * min(step, self.steps) / self.steps)))
        self.model.train()
        order, losses = np.zeros(0, dtype=np.int64), []
        for _ in range(self.steps):
            if len(order) < self.batch_size:
                order = np.concatenate([order, rng.permutation(len(images))])
            batch, order = order[:self.batch_size], order[self.batch_size:]
            tensors, targets = [], []
            for index in batch:
                pixels, scale = self._image(images[index])
                flip = bool(rng.random() < 0.5)
                targets.append({k: v.to(self.device) for k, v in
                                self._target(images[index], pixels, scale, flip).items()})
                tensors.append(self._tensor(pixels[:, ::-1] if flip else pixels))
            loss = sum(self.model(tensors, targets).values())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(float(loss.detach()))
            if progress is not None:
                progress.update(1)
        return losses

    def detect(self, images: Sequence[LabeledImage]) -> list[dict]:
        """Detections per image, with the class distribution of every detected box.

        Returns:
            Per image: ``boxes`` (N, 4) float64 ``xyxy`` original pixels, ``category_ids``
            (N,) int dataset ids, ``scores`` (N,) float64, ``probabilities`` (N, K + 1)
            float64 softmax of the box head on the final box (column 0 background, then
            the categories in ``category_ids`` order) and ``masks`` (N COCO RLEs, or None
            without a mask head).
        """
        torch, _ = import_torch()
        from pycocotools import mask as mask_utils

        model = self.model.eval()
        found = []
        with torch.inference_mode():
            for image in images:
                pixels, scale = self._image(image)
                tensor = self._tensor(pixels)
                # GeneralizedRCNN.forward step by step, to score the final boxes with the box head again.
                batch, _ = model.transform([tensor])
                features = {"0": model.backbone(batch.tensors)}
                proposals, _ = model.rpn(batch, features)
                detections, _ = model.roi_heads(features, proposals, batch.image_sizes)
                final = detections[0]["boxes"]
                classes = len(self.category_ids) + 1
                probabilities = torch.zeros((0, classes))
                if len(final):
                    pooled = model.roi_heads.box_roi_pool(features, [final], batch.image_sizes)
                    logits, _ = model.roi_heads.box_predictor(model.roi_heads.box_head(pooled))
                    probabilities = torch.softmax(logits, dim=-1)
                output = model.transform.postprocess(detections, batch.image_sizes, [tuple(tensor.shape[-2:])])[0]
                entry = {"boxes": output["boxes"].cpu().numpy().astype(np.float64) / scale,
                         "category_ids": np.array([self.category_ids[label - 1] for label in output["labels"].tolist()],
                                                  dtype=np.int64),
                         "scores": output["scores"].cpu().numpy().astype(np.float64),
                         "probabilities": probabilities.cpu().numpy().astype(np.float64), "masks": None}
                if self.masks:
                    entry["masks"] = []
                    for soft in output["masks"][:, 0].cpu().numpy():
                        full = np.asarray(Image.fromarray(soft).resize((image.width, image.height), Image.BILINEAR))
                        rle = mask_utils.encode(np.asfortranarray(full > 0.5))
                        entry["masks"].append({"size": rle["size"], "counts": rle["counts"].decode()})
                found.append(entry)
        return found

    def predict(self, images: Sequence[LabeledImage]) -> list[dict]:
        """COCO result entries (``image_id`` = position + 1, as in :func:`coco_dict`)."""
        return [entry for position, found in enumerate(self.detect(images))
                for entry in coco_results(found, position + 1)]


def coco_results(found: dict, image_id: int) -> list[dict]:
    """One image's detections (as :meth:`MobileNetV2Detector.detect` gives them) as COCO
    result entries: ``bbox`` ``xywh`` pixels, ``score``, and ``segmentation`` RLE with masks."""
    results = []
    for i, (box, category_id, score) in enumerate(zip(found["boxes"], found["category_ids"], found["scores"])):
        entry = {"image_id": image_id, "category_id": int(category_id),
                 "bbox": [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])],
                 "score": float(score)}
        if found["masks"] is not None:
            entry["segmentation"] = found["masks"][i]
        results.append(entry)
    return results


@dataclasses.dataclass
class DetectorTraining:
    """How :class:`MobileNetV2Detector` is trained (``tstr:`` in conf/validate.yaml and
    ``detector:`` in conf/prelabel.yaml document each field)."""

    image_size: int = 320
    steps: int = 300
    batch_size: int = 4
    learning_rate: float = 0.02
    trainable_blocks: int = 6
    weights: str = "auto"
    seed: int = 0

    def check_training(self, prefix: str) -> None:
        """Raise ``ConfigError`` naming ``<prefix>.<field>`` for a value out of range."""
        check_number(f"{prefix}.image_size", self.image_size, minimum=64, maximum=2048, integer=True)
        check_number(f"{prefix}.steps", self.steps, minimum=1, integer=True)
        check_number(f"{prefix}.batch_size", self.batch_size, minimum=1, maximum=256, integer=True)
        check_number(f"{prefix}.learning_rate", self.learning_rate, minimum=1e-6, maximum=1.0)
        check_number(f"{prefix}.trainable_blocks", self.trainable_blocks, minimum=0, maximum=14, integer=True)
        check_number(f"{prefix}.seed", self.seed, minimum=0, integer=True)

    def build(self, category_ids: Sequence[int], masks: bool, device: str) -> MobileNetV2Detector:
        """An untrained detector with these settings."""
        return MobileNetV2Detector(category_ids, masks, self.image_size, self.steps, self.batch_size,
                                   self.learning_rate, self.trainable_blocks, self.weights, device, self.seed)


def _coco_eval(ground_truth: dict, results: list[dict], iou_type: str):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        gt = COCO()
        gt.dataset = ground_truth
        gt.createIndex()
        dt = gt.loadRes(results) if results else COCO()
        evaluation = COCOeval(gt, dt, iou_type)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return evaluation


def _resampled(ground_truth: dict, results: list[dict], picks: np.ndarray) -> tuple[dict, list[dict]]:
    """The test set drawn with replacement: each pick becomes a new image with its own id."""
    by_image_gt, by_image_dt = {}, {}
    for annotation in ground_truth["annotations"]:
        by_image_gt.setdefault(annotation["image_id"], []).append(annotation)
    for entry in results:
        by_image_dt.setdefault(entry["image_id"], []).append(entry)
    images, annotations, detections = [], [], []
    for new_id, old in enumerate(picks, start=1):
        old_image = ground_truth["images"][old]
        images.append({**old_image, "id": new_id})
        for annotation in by_image_gt.get(old_image["id"], []):
            annotations.append({**annotation, "id": len(annotations) + 1, "image_id": new_id})
        detections += [{**entry, "image_id": new_id} for entry in by_image_dt.get(old_image["id"], [])]
    return {**ground_truth, "images": images, "annotations": annotations}, detections


def coco_scores(test: LabeledDataset, results: list[dict], iou_type: str, bootstrap: int,
                rng: np.random.Generator) -> dict:
    """COCO mAP (IoU .50:.95), mAP50 and per-class AP with percentile bootstrap 95% intervals.

    Args:
        test: Ground truth; object categories only (polylines are not detected).
        results: COCO result entries with ``image_id`` = position in ``test.images`` + 1.
        iou_type: ``bbox`` or ``segm``.
        bootstrap: Resamples of the test images (with replacement) for the intervals; 0: none.
        rng: Draws the resamples.

    Returns:
        ``map``, ``map50``, ``per_class`` {name: AP or None when the class is absent},
        ``ci95`` {``map``: [low, high], ``map50``: [...]} (absent when ``bootstrap`` is 0),
        ``bootstrap``, ``n_images``, ``n_objects``.
    """
    ground_truth = coco_dict(LabeledDataset(test.name, test.categories,
                                            [_objects_only(image) for image in test.images]),
                             file_name=lambda image: image.path.name)
    evaluation = _coco_eval(ground_truth, results, iou_type)
    precision = evaluation.eval["precision"]  # [IoU thresholds, recall, class, area range, max dets]
    per_class = {}
    for k, category_id in enumerate(evaluation.params.catIds):
        values = precision[:, :, k, 0, -1]
        name = test.category(category_id).name
        per_class[name] = float(values[values > -1].mean()) if (values > -1).any() else None
    scores = {"map": max(0.0, float(evaluation.stats[0])), "map50": max(0.0, float(evaluation.stats[1])),
              "per_class": per_class, "bootstrap": bootstrap, "n_images": len(test.images),
              "n_objects": len(ground_truth["annotations"])}
    if bootstrap:
        draws = []
        for _ in range(bootstrap):
            picks = rng.integers(0, len(ground_truth["images"]), len(ground_truth["images"]))
            stats = _coco_eval(*_resampled(ground_truth, results, picks), iou_type).stats
            draws.append((max(0.0, stats[0]), max(0.0, stats[1])))
        draws = np.asarray(draws)
        scores["ci95"] = {key: [float(np.percentile(draws[:, i], 2.5)), float(np.percentile(draws[:, i], 97.5))]
                          for i, key in enumerate(("map", "map50"))}
    return scores


def _objects_only(image: LabeledImage) -> LabeledImage:
    from dataclasses import replace

    return replace(image, polylines=[], depth_file=None, depth_unit_m=None, instance_ids_file=None, camera=None,
                   source={}, weight=1.0)
