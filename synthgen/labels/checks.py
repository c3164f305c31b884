"""Label self-checks run on every sample before it is committed. Pure numpy.

A sample that fails any check is quarantined instead of written to the dataset. Every
check covers the whole image, but is computed from pixel counts and box crops so that
it costs little at full resolution.
"""

from __future__ import annotations

import numpy as np

from synthgen.core import Instance, Sample
from synthgen.labels.geometry import VISIBLE

__all__ = ["check_sample"]


def _box_problem(mask: np.ndarray, box: np.ndarray, area: int) -> str | None:
    """Why ``box`` is not the exact extent of ``mask`` or ``area`` not its pixel count (None if both hold)."""
    total = int(np.count_nonzero(mask))
    if total != area:
        return f"area {area} != pixel count {total}"
    if total == 0:
        return None if not box.any() else f"box {box.tolist()} of an empty mask is not all zeros"
    x0, y0, x1, y1 = (int(v) for v in box)
    if not np.array_equal(box, [x0, y0, x1, y1]) or not (0 <= x0 < x1 <= mask.shape[1] and 0 <= y0 < y1 <= mask.shape[0]):
        return f"box {box.tolist()} is not an integer box inside the image"
    crop = mask[y0:y1, x0:x1]
    # Every pixel inside the box, and a pixel on each of its four borders: the box is the extent.
    if int(np.count_nonzero(crop)) != total:
        return f"box {box.tolist()} != mask extent (pixels outside the box)"
    if not (crop[0].any() and crop[-1].any() and crop[:, 0].any() and crop[:, -1].any()):
        return f"box {box.tolist()} != mask extent (box larger than the mask)"
    return None


def _check_instance(instance: Instance, sample: Sample, id_counts: np.ndarray) -> list[str]:
    name = f"instance {instance.instance_id} ({instance.category})"
    height, width = sample.instance_ids.shape
    if instance.mask.shape != (height, width) or instance.amodal_mask.shape != (height, width):
        return [f"{name}: mask shape differs from the image's {(height, width)}"]
    problems = []
    for label, mask, box, area in (
        ("visible", instance.mask, instance.bbox, instance.area),
        ("amodal", instance.amodal_mask, instance.amodal_bbox, instance.amodal_area),
    ):
        problem = _box_problem(mask, box, area)
        if problem:
            problems.append(f"{name}: {label} {problem}")
    if problems or instance.area == 0:
        return problems or [f"{name}: labeled instance with no visible pixels"]
    x0, y0, x1, y1 = (int(v) for v in instance.bbox)
    window = np.s_[y0:y1, x0:x1]
    # Same pixel count as its id-map region and equal inside the box (which holds all of
    # both): the visible mask is exactly the id map's region.
    in_id_map = id_counts[instance.instance_id] if instance.instance_id < len(id_counts) else 0
    in_window = sample.instance_ids[window] == instance.instance_id
    if in_id_map != instance.area or not np.array_equal(instance.mask[window], in_window):
        problems.append(f"{name}: visible mask differs from the instance id map")
    outside_amodal = int(np.count_nonzero(instance.mask[window] & ~instance.amodal_mask[window]))
    if outside_amodal:
        problems.append(f"{name}: {outside_amodal} visible pixels lie outside the amodal mask")
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


def _overlap_problems(instances: list[Instance]) -> list[str]:
    problems = []
    for i, first in enumerate(instances):
        for second in instances[i + 1:]:
            x0, y0 = max(first.bbox[0], second.bbox[0]), max(first.bbox[1], second.bbox[1])
            x1, y1 = min(first.bbox[2], second.bbox[2]), min(first.bbox[3], second.bbox[3])
            if x0 >= x1 or y0 >= y1:
                continue
            window = np.s_[int(y0):int(y1), int(x0):int(x1)]
            shared = int(np.count_nonzero(first.mask[window] & second.mask[window]))
            if shared:
                problems.append(
                    f"visible masks of instances {first.instance_id} and {second.instance_id} overlap on {shared} pixels"
                )
    return problems


def _polyline_problems(sample: Sample) -> list[str]:
    height, width = sample.instance_ids.shape
    problems = []
    for i, line in enumerate(sample.polylines):
        points = line.points
        if points.ndim != 2 or points.shape[1] != 3 or len(points) < 2 or not np.isfinite(points).all():
            problems.append(f"polyline {i} ({line.category}): needs at least 2 finite (x, y, v) points")
            continue
        inside = (points[:, 0] >= 0) & (points[:, 0] <= width) & (points[:, 1] >= 0) & (points[:, 1] <= height)
        if not inside.all():
            problems.append(f"polyline {i} ({line.category}): {int((~inside).sum())} points outside the image")
        if not np.isin(points[:, 2], (1, 2)).all():
            problems.append(f"polyline {i} ({line.category}): visibility not in {{1, 2}}")
    return problems


def _sequence_problems(sample: Sample, id_counts: np.ndarray) -> list[str]:
    """Tracks agree with the frame's instances and id map; flow fields have the image's size."""
    problems = []
    labeled = {instance.instance_id for instance in sample.instances}
    visible = {track.track_id for track in sample.tracks if track.state == "visible"}
    if labeled != visible:
        problems.append(f"tracks: visible tracks {sorted(visible)} differ from labeled instances {sorted(labeled)}")
    for track in sample.tracks:
        pixels = int(id_counts[track.track_id]) if track.track_id < id_counts.size else 0
        if (pixels > 0) != (track.state in ("visible", "too_small")) or not 0.0 <= track.visibility <= 1.0:
            problems.append(f"track {track.track_id}: state {track.state} / visibility {track.visibility} "
                            f"disagree with its {pixels} pixels in the id map")
    for name, field in (("flow_forward", sample.flow_forward), ("flow_backward", sample.flow_backward)):
        if field is not None and (field.flow.shape != (*sample.instance_ids.shape, 2)
                                  or field.occluded.shape != sample.instance_ids.shape):
            problems.append(f"{name}: flow must be (H, W, 2) and its occlusion mask (H, W)")
    return problems


def check_sample(sample: Sample) -> list[str]:
    """Check a sample's labels for internal consistency.

    Checks: boxes equal mask extents and areas equal pixel counts (visible and amodal);
    every visible mask equals its region of the id map; no two visible masks overlap;
    visible lies within amodal; occlusion equals ``1 - visible / amodal``; truncation
    lies in [0, 1]; keypoint visibility is 0/1/2 and visible keypoints lie in the
    image; polylines have finite points inside the image with visibility 1/2; the id
    map holds only labeled or dropped ids; image, depth and id map agree in size.
    Sequence frames: visible tracks are exactly the labeled instances, every track's
    state agrees with its pixels in the id map, flow fields have the image's size.

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
    if ids.min(initial=0) < 0:
        return problems + ["instance id map holds negative ids"]
    id_counts = np.bincount(ids.ravel())
    known = {instance.instance_id for instance in sample.instances} | set(sample.dropped_instance_ids) | {0}
    unknown = sorted(set(np.flatnonzero(id_counts).tolist()) - known)
    if unknown:
        problems.append(f"instance id map holds ids with no instance: {unknown}")
    for instance in sample.instances:
        problems.extend(_check_instance(instance, sample, id_counts))
    problems.extend(_overlap_problems(sample.instances))
    problems.extend(_polyline_problems(sample))
    if sample.frame is not None:
        problems.extend(_sequence_problems(sample, id_counts))
    return problems
