"""The analytic first step of ``synthgen fit``: moment matching from one batch of renders.

Each rule moves the knob that drives a statistic most directly, assuming the simple
relation between them; the cross-entropy rounds then correct what the relations miss.

- ``count``: objects that cannot be placed or are not visible are lost at a rate seen in
  the batch (achieved / drawn mean), so the drawn uniform range gets the mean and standard
  deviation of the real objects per image divided by that keep rate. Only when the boxes
  are already within 1.5x of the real size: far off, objects are lost for being too small
  or out of view, a rate the distance change below alters (the next pass matches it).
- ``camera_distance``: a box's relative size goes as 1 / distance, so both ends are
  multiplied by median synthetic size / median real size.
- ``placement_region``: the spread of box centres in the image goes as region / distance,
  so the radius is multiplied by the spread ratio and the distance factor above.
- ``light_intensity`` and ``ambient``: encoded brightness goes about as radiance^(1/2.2),
  so both are multiplied by (real / synthetic mean brightness)^2.2.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["match_moments"]

_GAMMA = 2.2
_SIZE_CLOSE = 1.5


def _ratio(a: float, b: float) -> float | None:
    return a / b if a > 0 and b > 0 and np.isfinite(a / b) else None


def _centre_spread(stats: Mapping[str, np.ndarray]) -> float:
    if not len(stats["center_x"]):
        return 0.0
    return float(np.sqrt(0.5 * (np.var(stats["center_x"]) + np.var(stats["center_y"]))))


def _count_range(current: list, synthetic: Mapping[str, np.ndarray], real: Mapping[str, np.ndarray]) -> list:
    """A drawn-count range whose labeled objects per image match the real mean and spread,
    given the share of drawn objects the batch kept (lost ones: too small, hidden, outside)."""
    low, high = current
    keep = _ratio(float(np.mean(synthetic["objects_per_image"])), 0.5 * (low + high))
    if not keep:
        return current
    mean, spread = np.mean(real["objects_per_image"]) / keep, np.std(real["objects_per_image"]) / keep
    half = np.sqrt(3.0) * spread  # a uniform range of this half width has that standard deviation
    return [max(1.0, mean - half), max(1.0, mean + half)]


def match_moments(values: Mapping, synthetic: Mapping[str, np.ndarray], real: Mapping[str, np.ndarray]) -> dict:
    """New knob values from the statistics of one batch rendered with ``values``.

    Args:
        values: Knob values as ``SearchSpace.current`` / ``decode`` give them.
        synthetic: ``dataset_statistics`` of the batch.
        real: ``dataset_statistics`` of the real set.

    Returns:
        A copy of ``values`` with the knobs above moved (others unchanged; a rule whose
        statistics are missing on either side leaves its knob alone). Values are not
        rounded or bounded here: ``SearchSpace.encode`` clips them to the search bounds.
    """
    new = {key: (list(value) if isinstance(value, list) else value) for key, value in values.items()}
    size = (_ratio(float(np.median(synthetic["size"])), float(np.median(real["size"])))
            if len(synthetic["size"]) and len(real["size"]) else None)
    sizes_close = size is not None and 1 / _SIZE_CLOSE <= size <= _SIZE_CLOSE
    if "count" in new and sizes_close and len(real["objects_per_image"]):
        new["count"] = _count_range(new["count"], synthetic, real)
    if "paste_objects" in new and len(real["objects_per_image"]):
        new["paste_objects"] = _count_range(new["paste_objects"], synthetic, real)
    if "paste_scale" in new and size:  # pasted boxes scale with the factor directly
        new["paste_scale"] = [v / size for v in new["paste_scale"]]
    if "camera_distance" in new and size:
        new["camera_distance"] = [d * size for d in new["camera_distance"]]
    spread = _ratio(_centre_spread(real), _centre_spread(synthetic))
    if "placement_region" in new and spread and new["placement_region"] > 0:
        distance_factor = size if "camera_distance" in new and size else 1.0
        new["placement_region"] = new["placement_region"] * spread * distance_factor
    brightness = _ratio(float(np.mean(real["brightness"])), float(np.mean(synthetic["brightness"])))
    if brightness:
        gain = brightness ** _GAMMA
        for key in ("light_intensity", "ambient"):
            if key in new:
                new[key] = [v * gain for v in new[key]]
    return new
