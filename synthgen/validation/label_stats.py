"""Label-statistics gap between a synthetic and a real dataset (numpy and scipy only).

Compares what the labels say, not what the pixels look like: objects per image, class
frequencies, box size / aspect / position, mask fill, occlusion and keypoint visibility.
Every distribution gets its sample sizes, means, the Wasserstein distance
(``scipy.stats.wasserstein_distance``) and the Kolmogorov-Smirnov statistic as an effect
size with its p-value (``scipy.stats.ks_2samp``); class frequencies get the
Jensen-Shannon distance (``scipy.spatial.distance.jensenshannon``, base 2: 0 same, 1
disjoint). ``findings`` turns the large differences into plain sentences.

Box statistics are relative to the image, so datasets of different resolutions compare:
size = sqrt(box area / image area), aspect = log2(width / height), centre = (cx / W, cy / H).
"""

from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_utils
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp, wasserstein_distance

from synthgen.io.dataset import LabeledDataset

__all__ = ["label_gap", "label_statistics"]

# Findings report a ratio of medians beyond this factor, or a KS statistic beyond this.
_RATIO_WORTH_SAYING = 1.25
_KS_WORTH_SAYING = 0.2
_HEATMAP_BINS = 16


def label_statistics(dataset: LabeledDataset) -> dict[str, np.ndarray]:
    """Per-image and per-object label statistics.

    Returns:
        ``objects_per_image`` (images,), ``category`` (objects,) names, ``size``,
        ``aspect``, ``center_x``, ``center_y`` (objects,) relative to the image,
        ``mask_fill`` (objects with a mask,), ``occlusion`` (objects that have it,),
        ``keypoint_visible`` (labeled keypoints,) 1 visible / 0 occluded.
    """
    stats: dict[str, list] = {key: [] for key in ("objects_per_image", "category", "size", "aspect", "center_x",
                                                  "center_y", "mask_fill", "occlusion", "keypoint_visible")}
    names = {c.id: c.name for c in dataset.categories}
    for image in dataset.images:
        objects = [o for o in image.objects if dataset.category(o.category_id).kind == "object"]
        stats["objects_per_image"].append(len(objects))
        for obj in objects:
            x0, y0, x1, y1 = obj.bbox
            width, height = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
            stats["category"].append(names[obj.category_id])
            stats["size"].append(np.sqrt(width * height / (image.width * image.height)))
            stats["aspect"].append(np.log2(width / height))
            stats["center_x"].append((x0 + x1) / 2 / image.width)
            stats["center_y"].append((y0 + y1) / 2 / image.height)
            if obj.segmentation is not None:
                rle = {"size": obj.segmentation["size"], "counts": obj.segmentation["counts"].encode()}
                stats["mask_fill"].append(float(mask_utils.area(rle)) / (width * height))
            if obj.occlusion is not None:
                stats["occlusion"].append(float(obj.occlusion))
            labeled = obj.keypoints[obj.keypoints[:, 2] > 0] if len(obj.keypoints) else np.zeros((0, 3))
            stats["keypoint_visible"].extend((labeled[:, 2] == 2).astype(float).tolist())
    return {key: np.asarray(values) for key, values in stats.items()}


def _compare(synthetic: np.ndarray, real: np.ndarray) -> dict:
    entry = {"n_synthetic": int(len(synthetic)), "n_real": int(len(real))}
    if len(synthetic) == 0 or len(real) == 0:
        return {**entry, "available": False}
    test = ks_2samp(synthetic, real)
    return {
        **entry,
        "available": True,
        "mean_synthetic": float(np.mean(synthetic)), "mean_real": float(np.mean(real)),
        "median_synthetic": float(np.median(synthetic)), "median_real": float(np.median(real)),
        "wasserstein": float(wasserstein_distance(synthetic, real)),
        "ks_statistic": float(test.statistic), "ks_pvalue": float(test.pvalue),
    }


def _class_frequencies(synthetic: np.ndarray, real: np.ndarray) -> dict:
    names = sorted(set(synthetic.tolist()) | set(real.tolist()))
    p = np.array([np.sum(synthetic == n) for n in names], dtype=np.float64)
    q = np.array([np.sum(real == n) for n in names], dtype=np.float64)
    frequencies = {n: {"synthetic": float(a / max(p.sum(), 1)), "real": float(b / max(q.sum(), 1))}
                   for n, a, b in zip(names, p, q)}
    distance = float(jensenshannon(p, q, base=2)) if p.sum() and q.sum() else None
    return {"jensen_shannon": distance, "frequencies": frequencies,
            "n_synthetic": int(p.sum()), "n_real": int(q.sum())}


def _heatmap(x: np.ndarray, y: np.ndarray) -> list[list[float]]:
    counts, _, _ = np.histogram2d(y, x, bins=_HEATMAP_BINS, range=[[0, 1], [0, 1]])
    return (counts / max(counts.sum(), 1)).tolist()


def _findings(gap: dict) -> list[str]:
    findings = []
    described = {
        "objects_per_image": ("synthetic images have {ratio} {direction} objects than real ones "
                              "({s:.1f} vs {r:.1f} per image, median)"),
        "size": "synthetic boxes are {ratio} {direction} than real ones (median relative size {s:.3f} vs {r:.3f})",
        "mask_fill": "synthetic masks fill {ratio} {direction} of their boxes than real ones ({s:.2f} vs {r:.2f})",
        "occlusion": "synthetic objects are {ratio} {direction} occluded than real ones ({s:.2f} vs {r:.2f})",
    }
    words = {"objects_per_image": ("more", "fewer"), "size": ("larger", "smaller"),
             "mask_fill": ("more", "less"), "occlusion": ("more", "less")}
    for key, template in described.items():
        entry = gap[key]
        if not entry.get("available"):
            continue
        s, r = entry["median_synthetic"], entry["median_real"]
        if min(s, r) > 0 and max(s, r) / min(s, r) >= _RATIO_WORTH_SAYING:
            more = s > r
            ratio = f"{max(s, r) / min(s, r):.1f}x"
            findings.append(template.format(ratio=ratio, direction=words[key][0 if more else 1], s=s, r=r))
    for key, label in (("aspect", "box shapes"), ("center_x", "horizontal box positions"),
                       ("center_y", "vertical box positions")):
        entry = gap[key]
        if entry.get("available") and entry["ks_statistic"] >= _KS_WORTH_SAYING:
            findings.append(f"{label} differ (KS {entry['ks_statistic']:.2f}, p={entry['ks_pvalue']:.2g})")
    classes = gap["class_frequencies"]
    for name, share in classes["frequencies"].items():
        s, r = share["synthetic"], share["real"]
        if r == 0 and s > 0:
            findings.append(f"class {name!r} appears only in synthetic data ({100 * s:.0f}% of its objects)")
        elif s == 0 and r > 0:
            findings.append(f"class {name!r} never appears in synthetic data ({100 * r:.0f}% of real objects)")
        elif min(s, r) > 0 and max(s, r) / min(s, r) >= _RATIO_WORTH_SAYING:
            direction = "more" if s > r else "less"
            findings.append(f"class {name!r} is {max(s, r) / min(s, r):.1f}x {direction} frequent in synthetic data "
                            f"({100 * s:.0f}% vs {100 * r:.0f}% of objects)")
    return findings


def label_gap(synthetic: LabeledDataset, real: LabeledDataset) -> dict:
    """The label-statistics gap between a synthetic and a real dataset.

    Returns:
        A JSON-ready dict: one entry per statistic (sizes, means, medians, Wasserstein,
        KS statistic and p-value; ``available`` false when a side lacks it), the class
        frequencies with their Jensen-Shannon distance, box-centre heatmaps
        (16x16, rows = y) for both sides, and ``findings`` in plain language.
    """
    s, r = label_statistics(synthetic), label_statistics(real)
    gap = {key: _compare(s[key], r[key]) for key in
           ("objects_per_image", "size", "aspect", "center_x", "center_y", "mask_fill", "occlusion",
            "keypoint_visible")}
    gap["class_frequencies"] = _class_frequencies(s["category"], r["category"])
    gap["center_heatmap"] = {"synthetic": _heatmap(s["center_x"], s["center_y"]),
                             "real": _heatmap(r["center_x"], r["center_y"]), "bins": _HEATMAP_BINS}
    gap["findings"] = _findings(gap)
    return gap
