"""Label self-checks run on every sample before it is committed. Pure numpy.

A sample that fails any check is quarantined instead of written to the dataset.
"""

from __future__ import annotations

import numpy as np

from synthgen.labels.geometry import VISIBLE, mask_box
from synthgen.types import Instance, Sample

__all__ = ["check_sample"]


def _check_instance(instance: Instance, sample: Sample) -> list[str]:
    name = f"instance {instance.instance_id} ({instance.category})"
    height, width = sample.instance_ids.shape
    if instance.mask.shape != (height, width) or instance.amodal_mask.shape != (height, width):
        return [f"{name}: mask shape differs from the image's {(height, width)}"]
    problems = []
    if not np.array_equal(instance.mask, sample.instance_ids == instance.instance_id):
        problems.append(f"{name}: visible mask differs from the instance id map")
    outside_amodal = int(np.count_nonzero(instance.mask & ~instance.amodal_mask))
    if outside_amodal:
        problems.append(f"{name}: {outside_amodal} visible pixels lie outside the amodal mask")
    for label, mask, box, area in (
        ("visible", instance.mask, instance.bbox, instance.area),
        ("amodal", instance.amodal_mask, instance.amodal_bbox, instance.amodal_area),
    ):
        if not np.array_equal(box, mask_box(mask)):
            problems.append(f"{name}: {label} box {box.tolist()} != mask extent {mask_box(mask).tolist()}")
        if area != int(np.count_nonzero(mask)):
            problems.append(f"{name}: {label} area {area} != pixel count {int(np.count_nonzero(mask))}")
    expected_occlusion = 1.0 - instance.area / instance.amodal_area if instance.amodal_area else 0.0
    if not (0.0 <= instance.occlusion <= 1.0 and abs(instance.occlusion - expected_occlusion) < 1e-9):
        problems.append(f"{name}: occlusion {instance.occlusion} != 1 - visible/amodal ({expected_occlusion})")
    if not 0.0 <= instance.truncation <= 1.0:
        problems.append(f"{name}: truncation {instance.truncation} outside [0, 1]")
    keypoints = instance.keypoints
    if len(keypoints):
        if not np.isin(keypoints[:, 2], (0, 1, 2)).all():
            problems.append(f"{name}: keypoint visibility not in {{0, 1, 2}}")
        shown = keypoints[keypoints[:, 2] == VISIBLE]
        if np.any((shown[:, 0] < 0) | (shown[:, 0] >= width) | (shown[:, 1] < 0) | (shown[:, 1] >= height)):
            problems.append(f"{name}: a keypoint marked visible lies outside the image")
    return problems


def check_sample(sample: Sample) -> list[str]:
    """Check a sample's labels for internal consistency.

    Checks: every visible mask equals its region of the id map; no two visible masks
    overlap; visible is within amodal; boxes equal mask extents; areas equal pixel
    counts; occlusion equals ``1 - visible / amodal``; truncation lies in [0, 1];
    keypoint visibility is 0/1/2 and visible keypoints lie in the image; the id map
    holds only labeled or dropped ids; image, depth and id map agree in size.

    Returns:
        Human-readable problems; empty when the sample is consistent.
    """
    ids = sample.instance_ids
    height, width = ids.shape
    problems = []
    if sample.image.shape != (height, width, 3) or sample.image.dtype != np.uint8:
        problems.append(f"image must be ({height}, {width}, 3) uint8, got {sample.image.shape} {sample.image.dtype}")
    if sample.depth.shape != (height, width) or not np.all(np.isfinite(sample.depth)) or sample.depth.min() < 0:
        problems.append("depth must be finite, non-negative and the size of the id map")
    known = {instance.instance_id for instance in sample.instances} | set(sample.dropped_instance_ids) | {0}
    unknown = sorted(set(np.unique(ids).tolist()) - known)
    if unknown:
        problems.append(f"instance id map holds ids with no instance: {unknown}")
    coverage = np.zeros(ids.shape, dtype=np.int32)
    for instance in sample.instances:
        problems.extend(_check_instance(instance, sample))
        if instance.mask.shape == ids.shape:
            coverage += instance.mask
    if coverage.max(initial=0) > 1:
        problems.append(f"visible masks overlap on {int(np.count_nonzero(coverage > 1))} pixels")
    return problems
