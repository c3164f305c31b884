"""COCO export: a pure function of the canonical store.

Writes ``annotations/instances.json`` (image root: the dataset's ``images/`` folder).
Standard fields load in pycocotools, detectron2, mmdetection and torchvision; synthgen
adds, per annotation: ``amodal_bbox`` (xywh), ``amodal_segmentation``, ``amodal_area``,
``occlusion``, ``truncation``, ``cuboid`` and ``pose`` (object -> OpenCV camera), and
per image its ``camera`` and the paths of its depth and id maps. Polyline labels (lane
markings) are annotations of their own category (``synthgen_kind: polyline``) with a
``polyline`` field ``[x1, y1, v1, ...]`` (keypoint convention), the points' ``bbox``,
``area`` 0 and an empty RLE mask, so COCO tools that read every annotation still work.

Coordinates: boxes and polygons are continuous (pixel column c spans [c, c + 1)), as
COCO's. Keypoints follow COCO's pixel-index convention (detectron2 adds 0.5 on load),
so they are written as continuous coordinates minus 0.5; unlabeled ones are (0, 0, 0).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from synthgen.io.store import decode_rle, encode_rle, iter_records, read_manifest, write_json_atomic
from synthgen.validation import check_choice

__all__ = ["CocoExporter", "export_coco", "mask_to_polygons", "outer_polygon"]


def _xywh(box: list[float]) -> list[float]:
    return [box[0], box[1], box[2] - box[0], box[3] - box[1]]


def mask_to_polygons(mask: np.ndarray) -> list[list[float]] | None:
    """COCO polygons that trace a mask's pixel edges, or None when the mask has holes.

    OpenCV traces the contour of the mask upsampled 2x, so the polygon follows the
    pixels' outer edges rather than their centres; pycocotools rasterises it back to
    exactly the same mask. COCO polygons cannot express holes: callers keep RLE then.

    Args:
        mask: (H, W) bool.

    Returns:
        Flat ``[x0, y0, x1, y1, ...]`` lists in continuous pixel coordinates, one per
        connected part, or None.
    """
    contours, hierarchy = _edge_contours(mask, cv2.RETR_CCOMP)
    if hierarchy is not None and np.any(hierarchy[0][:, 3] >= 0):
        return None
    return [((contour.reshape(-1, 2) + 0.5) / 2.0).ravel().tolist() for contour in contours]


def _edge_contours(mask: np.ndarray, mode: int):
    upsampled = np.kron(mask.astype(np.uint8), np.ones((2, 2), np.uint8))
    return cv2.findContours(upsampled, mode, cv2.CHAIN_APPROX_SIMPLE)


def outer_polygon(mask: np.ndarray) -> list[float] | None:
    """The pixel-edge outline of a mask's largest part (holes ignored), flat ``[x0, y0, ...]``, or None if empty.

    For formats that take one polygon per object (YOLO segment, Label Studio).
    """
    contours, _ = _edge_contours(mask, cv2.RETR_EXTERNAL)
    if not contours:
        return None
    largest = max(contours, key=cv2.contourArea)
    return ((largest.reshape(-1, 2) + 0.5) / 2.0).ravel().tolist()


def _segmentation(rle: dict, mode: str):
    if mode == "rle":
        return rle
    polygons = mask_to_polygons(decode_rle(rle))
    return rle if polygons is None else polygons


def _keypoints(keypoints: list, category: dict) -> dict:
    if not category["keypoints"]:
        return {}
    flat = []
    for x, y, v in keypoints:
        flat.extend([x - 0.5, y - 0.5, int(v)] if v > 0 else [0.0, 0.0, 0])
    return {"keypoints": flat, "num_keypoints": sum(1 for *_, v in keypoints if v > 0)}


def _polyline_annotation(line: dict, width: int, height: int) -> dict:
    """A polyline as a COCO annotation: ``polyline`` [x1, y1, v1, ...] in COCO's pixel-index
    convention (like keypoints), its points' box, no area and an empty mask (so COCO
    tools that read every annotation's segmentation keep working)."""
    points = np.asarray(line["points"], dtype=np.float64)
    low, high = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
    flat = [value for x, y, v in points for value in (float(x) - 0.5, float(y) - 0.5, int(v))]
    return {
        "category_id": line["category_id"],
        "polyline": flat,
        "num_polyline_points": len(points),
        "bbox": [float(low[0]), float(low[1]), float(high[0] - low[0]), float(high[1] - low[1])],
        "area": 0,
        "iscrowd": 0,
        "segmentation": encode_rle(np.zeros((height, width), dtype=bool)),
    }


def _categories(manifest: dict) -> list[dict]:
    return [
        {
            "id": c["id"],
            "name": c["name"],
            "supercategory": c.get("supercategory", "object"),
            "keypoints": list(c["keypoints"]),
            # COCO skeletons are 1-based.
            "skeleton": [[a + 1, b + 1] for a, b in c["skeleton"]],
            "synthgen_kind": c.get("kind", "object"),
        }
        for c in manifest["categories"]
    ]


def export_coco(root: str | Path, segmentation: str = "rle", output: str | Path | None = None) -> Path:
    """Build a COCO instances file from a dataset's committed samples.

    Args:
        root: Dataset folder.
        segmentation: ``rle`` (compressed RLE) or ``polygon`` (pixel-edge polygons;
            masks with holes keep RLE). Both decode to the exact masks.
        output: Output path; defaults to ``root/annotations/instances.json``.

    Returns:
        The written path. Image ids are sample index + 1; annotation ids count from 1.
    """
    check_choice("segmentation", segmentation, ["rle", "polygon"])
    root = Path(root)
    manifest = read_manifest(root)
    categories = _categories(manifest)
    by_id = {c["id"]: c for c in categories}
    images, annotations = [], []
    for record in iter_records(root):
        image_id = record["index"] + 1
        files = record["files"]
        images.append({
            "id": image_id,
            "file_name": Path(files["image"]).name,
            "width": record["width"],
            "height": record["height"],
            "synthgen_index": record["index"],
            "depth_file": files["depth"],
            "depth_unit_m": record["depth_unit_m"],
            "instance_ids_file": files["instance_ids"],
            "camera": record["camera"],
        })
        for item in record["instances"]:
            annotations.append({
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": item["category_id"],
                "bbox": _xywh(item["bbox"]),
                "area": item["area"],
                "iscrowd": 0,
                "segmentation": _segmentation(item["segmentation"], segmentation),
                **_keypoints(item["keypoints"], by_id[item["category_id"]]),
                "amodal_bbox": _xywh(item["amodal_bbox"]),
                "amodal_area": item["amodal_area"],
                "amodal_segmentation": _segmentation(item["amodal_segmentation"], segmentation),
                "occlusion": item["occlusion"],
                "truncation": item["truncation"],
                "cuboid": item["cuboid"],
                "pose": item["pose"],
                "synthgen_instance_id": item["instance_id"],
            })
        for line in record.get("polylines", []):
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id,
                **_polyline_annotation(line, record["width"], record["height"]),
            })
    coco = {
        "info": {"description": "synthgen synthetic dataset", "version": manifest.get("synthgen_version", "")},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }
    path = Path(output) if output is not None else root / "annotations" / "instances.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, coco, indent=None)
    return path


class CocoExporter:
    """Config node for the COCO export run at the end of ``generate``.

    Args:
        segmentation: ``rle`` or ``polygon`` (masks with holes keep RLE).
    """

    def __init__(self, segmentation: str = "rle"):
        self.segmentation = check_choice("segmentation", segmentation, ["rle", "polygon"])

    def __call__(self, root: str | Path) -> Path:
        return export_coco(root, self.segmentation)

    def export_to(self, root: str | Path, out: Path) -> Path:
        """COCO of the store at ``root`` in ``out``: ``annotations/instances.json`` and ``images/``."""
        from synthgen.io.export_files import place_image  # export_files imports this module

        for record in iter_records(root):
            image = Path(root) / record["files"]["image"]
            place_image(image, Path(out) / "images" / image.name)
        return export_coco(root, self.segmentation, Path(out) / "annotations" / "instances.json")
