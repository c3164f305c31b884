"""How far a batch of renders is from a real dataset: the quantity ``synthgen fit`` lowers.

Label statistics (objects per image, relative box size, aspect, centre, occlusion; see
``synthgen.validation.label_stats``) and pixel statistics (brightness, contrast,
colourfulness; ``synthgen.validation.image_stats``) of both sides are compared one by one
with the 1-D Wasserstein distance. Each distance is divided by the spread of the real
statistic (its standard deviation, floored), so a count and a relative size weigh alike;
the objective is the sum of the normalised label distances plus ``image_weight`` times
the sum of the normalised pixel distances. The plain, unnormalised sum of the label
distances is reported too: it is what ``synthgen validate`` prints.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import wasserstein_distance

from synthgen.io.dataset import LabeledDataset
from synthgen.validation.image_stats import IMAGE_STATISTICS, image_statistics
from synthgen.validation.label_stats import label_statistics

__all__ = ["IMAGE_STATISTICS", "LABEL_STATISTICS", "MISSING_PENALTY", "dataset_statistics", "statistics_gap",
           "statistic_scales"]

LABEL_STATISTICS = ("objects_per_image", "size", "aspect", "center_x", "center_y", "occlusion")
# A statistic the real set has but a batch lacks (e.g. no object in view) counts as this far.
MISSING_PENALTY = 10.0
# Floors of the real spread: a real set where every image has 1 object still needs a unit, and a
# photo set shot in one room should not make a 0.02 brightness difference count as far.
_SCALE_FLOORS = {"objects_per_image": 0.5, "size": 0.01, "aspect": 0.05, "center_x": 0.02, "center_y": 0.02,
                 "occlusion": 0.02, "brightness": 0.05, "contrast": 0.05, "colourfulness": 0.05}


def dataset_statistics(dataset: LabeledDataset) -> dict[str, np.ndarray]:
    """The label and pixel statistics ``fit`` compares (float64 arrays, one value per object or image)."""
    labels = label_statistics(dataset)
    pixels = image_statistics([image.path for image in dataset.images])
    return {**{key: labels[key].astype(np.float64) for key in LABEL_STATISTICS}, **pixels}


def statistic_scales(real: dict[str, np.ndarray]) -> dict[str, float]:
    """Per statistic the unit its distances are measured in: the real standard deviation, floored.

    Only statistics the real set has (non-empty) are listed; only they are compared.
    """
    return {key: max(float(np.std(values)), _SCALE_FLOORS[key]) for key, values in real.items() if len(values)}


def statistics_gap(synthetic: dict[str, np.ndarray], real: dict[str, np.ndarray], scales: dict[str, float],
                   image_weight: float) -> dict:
    """Distances between two sets of statistics.

    Args:
        synthetic: ``dataset_statistics`` of the renders.
        real: ``dataset_statistics`` of the real set.
        scales: ``statistic_scales(real)``: which statistics count and their units.
        image_weight: Weight of the pixel statistics in ``objective``.

    Returns:
        ``statistics`` {name: {wasserstein, normalised, mean_synthetic, mean_real,
        n_synthetic, n_real}} (``wasserstein`` None and ``normalised`` the penalty where the
        batch lacks a statistic), ``label_wasserstein_sum`` (plain sum over label
        statistics), ``label_normalised_sum``, ``image_normalised_sum`` and ``objective``.
    """
    entries = {}
    for key, scale in scales.items():
        s, r = synthetic.get(key, np.zeros(0)), real[key]
        entry = {"n_synthetic": int(len(s)), "n_real": int(len(r)), "mean_real": float(np.mean(r)), "scale": scale}
        if len(s):
            distance = float(wasserstein_distance(s, r))
            entry.update(wasserstein=distance, normalised=distance / scale, mean_synthetic=float(np.mean(s)))
        else:
            entry.update(wasserstein=None, normalised=MISSING_PENALTY, mean_synthetic=None)
        entries[key] = entry
    labels = [entries[k] for k in LABEL_STATISTICS if k in entries]
    pixels = [entries[k] for k in IMAGE_STATISTICS if k in entries]
    label_sum = sum(e["normalised"] for e in labels)
    image_sum = sum(e["normalised"] for e in pixels)
    plain = [e["wasserstein"] for e in labels]
    return {
        "statistics": entries,
        "label_wasserstein_sum": None if None in plain else float(sum(plain)),
        "label_normalised_sum": float(label_sum),
        "image_normalised_sum": float(image_sum),
        "objective": float(label_sum + image_weight * image_sum),
    }
