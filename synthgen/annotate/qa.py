"""Annotator quality on gold tasks, and agreement between annotators where tasks overlap.

**Gold accuracy.** On each gold task an annotator labeled, their regions are matched to the
gold ones one to one (Hungarian assignment, ``scipy.optimize.linear_sum_assignment``, on
IoU from ``pycocotools``) among regions of the same class with IoU >= ``iou_threshold``:
boxes by box IoU, outlines by mask IoU. A keypoint of a matched object is correct when its
object keypoint similarity exp(-d^2 / (2 s^2 k^2)) >= ``oks_threshold`` (COCO's OKS term;
s^2 the gold object's area, k = ``oks_k`` for every keypoint); the keypoints of unmatched
gold objects are wrong. Accuracy = correct / (correct + errors), where an error is a gold
region missed, an annotated region matching nothing (extra or wrong class) or a wrong
keypoint, summed over the annotator's gold tasks. An annotator is flagged below
``accuracy_threshold`` (or with no gold task done).

**Agreement.** On every task labeled by two or more annotators, boxes are grouped into units
(a box joins the unit whose first box it overlaps most, IoU >= ``iou_threshold``, if that
annotator is not in it yet); each annotator of the task gives every unit its class, or
``(none)`` when they drew no box there. Over these nominal ratings: Cohen's kappa per pair
(``sklearn.metrics.cohen_kappa_score``), Fleiss' kappa over the units whose task had the most
common number of annotators (``statsmodels``), Krippendorff's alpha over all (``krippendorff``;
it allows missing ratings), each read on Landis and Koch's scale.
"""

from __future__ import annotations

import itertools
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils
from scipy.optimize import linear_sum_assignment

from synthgen.core.errors import ConfigError, InputError
from synthgen.io.dataset import LabeledObject
from synthgen.io.input_checks import load_json
from synthgen.io.labelstudio import annotation_objects

__all__ = ["AnnotatedTask", "QaThresholds", "agreement", "gold_accuracy", "landis_koch", "match_objects", "read_annotations",
           "read_gold"]

_NONE = "(none)"
_LANDIS_KOCH = ((0.0, "poor"), (0.20, "slight"), (0.40, "fair"), (0.60, "moderate"), (0.80, "substantial"),
                (1.0, "almost perfect"))


@dataclass(frozen=True)
class QaThresholds:
    """Matching and flagging thresholds (see the module docstring)."""

    iou_threshold: float = 0.5
    oks_threshold: float = 0.5
    oks_k: float = 0.1
    accuracy_threshold: float = 0.9


@dataclass
class AnnotatedTask:
    """One annotation of one task: whose, and its objects (labels by name)."""

    key: str
    annotator: str
    objects: list[tuple[str, LabeledObject]] = field(default_factory=list)


def _task_key(task, where: str) -> str:
    if not isinstance(task, Mapping) or not isinstance(task.get("data"), Mapping) or "image" not in task["data"]:
        raise InputError(f"{where}: not a Label Studio task (needs data.image)")
    return str(task["data"]["image"])


def _size(results: list, fallback: tuple[int, int] | None, where: str) -> tuple[int, int]:
    for result in results:
        if isinstance(result, Mapping) and "original_width" in result and "original_height" in result:
            return int(result["original_width"]), int(result["original_height"])
    if fallback is None:
        raise InputError(f"{where}: regions carry no original_width/original_height")
    return fallback


def _objects(results, size: tuple[int, int], where: str) -> list[tuple[str, LabeledObject]]:
    if not isinstance(results, list):
        raise InputError(f"{where}: result must be a list of regions")
    try:
        labels, objects = annotation_objects(results, size[0], size[1], where)
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise InputError(f"{where}: malformed region ({error!r})") from error
    return [(labels[obj.category_id - 1], obj) for obj in objects]


def _tasks_file(path: Path) -> Path:
    return path / "tasks.json" if path.is_dir() else path


def read_gold(path: str | Path) -> tuple[dict[str, tuple[tuple[int, int], list]], set[str]]:
    """The gold tasks of a ``synthgen export format=gold`` folder (or its tasks.json).

    Returns:
        {task key (data.image): ((width, height), [(label, object)])} for the gold tasks,
        and the keys of every task in the file (gold and human queue).

    Raises:
        InputError: Not a list of tasks, or no task has a ``ground_truth`` annotation.
    """
    file = _tasks_file(Path(path).expanduser())
    if not file.is_file():
        raise InputError(f"gold={path}: not found; give a folder written by synthgen export format=gold or its tasks.json")
    tasks = load_json(file)
    if not isinstance(tasks, list):
        raise InputError(f"gold={file}: not a gold export (not a list of Label Studio tasks); write one with "
                         "synthgen export format=gold")
    gold, keys = {}, set()
    for position, task in enumerate(tasks):
        where = f"{file}: task[{position}]"
        key = _task_key(task, where)
        keys.add(key)
        truth = [a for a in task.get("annotations") or [] if isinstance(a, Mapping) and a.get("ground_truth")]
        if truth:
            results = truth[0].get("result", [])
            size = _size(results, None, where)
            gold[key] = (size, _objects(results, size, where))
    if not gold:
        raise InputError(f"gold={file}: not a gold export (no task has a ground_truth annotation); write one with "
                         "synthgen export format=gold")
    return gold, keys


def _annotator(annotation: Mapping) -> str:
    who = annotation.get("completed_by")
    if isinstance(who, Mapping):
        who = who.get("email") or who.get("id")
    return str(who)


def read_annotations(path: str | Path, gold: Mapping, queue: set[str]) -> list[AnnotatedTask]:
    """Every annotator's annotation in a Label Studio JSON export (ground-truth and cancelled ones left out).

    Raises:
        InputError: Not a JSON export, or a task that is not in the gold file's queue.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise InputError(f"annotations={path}: not found; give a Label Studio JSON export (Export > JSON)")
    tasks = load_json(file)
    if not isinstance(tasks, list):
        raise InputError(f"annotations={file}: not a Label Studio JSON export (a list of tasks)")
    annotated = []
    for position, task in enumerate(tasks):
        where = f"{file}: task[{position}]"
        key = _task_key(task, where)
        done = [a for a in task.get("annotations") or []
                if isinstance(a, Mapping) and not a.get("ground_truth") and not a.get("was_cancelled")]
        if done and key not in queue:
            raise InputError(f"{where}: annotations for task {key!r}, which is not in the gold file; export the "
                             "project the gold tasks were imported into")
        fallback = gold[key][0] if key in gold else None
        for number, annotation in enumerate(done):
            results = annotation.get("result", [])
            there = f"{where}.annotations[{number}]"
            annotated.append(AnnotatedTask(key, _annotator(annotation), _objects(results, _size(results, fallback, there),
                                                                                 there)))
    return annotated


def _iou(a: list[LabeledObject], b: list[LabeledObject], masks: bool) -> np.ndarray:
    if not a or not b:
        return np.zeros((len(a), len(b)))
    if masks:
        def rles(objects):
            return [{"size": o.segmentation["size"], "counts": o.segmentation["counts"].encode()} for o in objects]
        first, second = rles(a), rles(b)
    else:
        def xywh(objects):
            return [[o.bbox[0], o.bbox[1], o.bbox[2] - o.bbox[0], o.bbox[3] - o.bbox[1]] for o in objects]
        first, second = xywh(a), xywh(b)
    return np.asarray(mask_utils.iou(first, second, [0] * len(b)), dtype=np.float64).reshape(len(a), len(b))


def match_objects(gold: list[tuple[str, LabeledObject]], annotated: list[tuple[str, LabeledObject]], masks: bool,
           threshold: float) -> list[tuple[int, int]]:
    """One-to-one (gold index, annotated index) pairs of the same class with IoU >= threshold.

    Args:
        gold: (label, object) pairs of the reference.
        annotated: (label, object) pairs to score.
        masks: Compare the objects' masks (``segmentation``, all given) instead of their boxes.
        threshold: Least IoU of a match.
    """
    iou = _iou([o for _, o in gold], [o for _, o in annotated], masks)
    same = np.array([[g == a for a, _ in annotated] for g, _ in gold], dtype=bool).reshape(iou.shape)
    iou = np.where(same & (iou >= threshold), iou, 0.0)
    if not iou.size:
        return []
    rows, columns = linear_sum_assignment(-iou)
    return [(int(r), int(c)) for r, c in zip(rows, columns) if iou[r, c] > 0]


def _keypoints_correct(gold: LabeledObject, annotated: LabeledObject | None, thresholds: QaThresholds) -> tuple[int, int]:
    truth = {name: p for name, p in gold.named_keypoints.items() if p[2] > 0}
    if annotated is None:
        return 0, len(truth)
    area = max(gold.area or float(np.prod(gold.bbox[2:] - gold.bbox[:2])), 1.0)
    correct = 0
    for name, (x, y, _) in truth.items():
        if name in annotated.named_keypoints:
            ax, ay, _ = annotated.named_keypoints[name]
            similarity = np.exp(-((ax - x) ** 2 + (ay - y) ** 2) / (2 * area * thresholds.oks_k ** 2))
            correct += similarity >= thresholds.oks_threshold
    return int(correct), len(truth)


def _score_task(gold: list, annotated: list, thresholds: QaThresholds) -> dict[str, list[int]]:
    """Per kind [matched, gold, annotated] (keypoints: [correct, gold, gold])."""
    counts = {}
    pairs = match_objects(gold, annotated, False, thresholds.iou_threshold)
    counts["boxes"] = [len(pairs), len(gold), len(annotated)]
    gold_masks = [(i, g) for i, g in enumerate(gold) if g[1].segmentation is not None]
    if gold_masks:
        drawn = [a for a in annotated if a[1].segmentation is not None]
        counts["polygons"] = [len(match_objects([g for _, g in gold_masks], drawn, True, thresholds.iou_threshold)),
                              len(gold_masks), len(drawn)]
    partner = {g: a for g, a in pairs}
    correct = total = 0
    for i, (_, obj) in enumerate(gold):
        c, t = _keypoints_correct(obj, annotated[partner[i]][1] if i in partner else None, thresholds)
        correct, total = correct + c, total + t
    if total:
        counts["keypoints"] = [correct, total, total]
    return counts


def gold_accuracy(gold: Mapping, annotated: Sequence[AnnotatedTask], thresholds: QaThresholds,
                  expected: Sequence[str] = ()) -> dict:
    """Per annotator: gold tasks done, accuracy and its parts, flagged or not (see the module docstring).

    Args:
        gold: ``read_gold``'s gold tasks.
        annotated: ``read_annotations``' annotations.
        thresholds: Matching and flagging thresholds.
        expected: Annotators who should appear (listed, and flagged, even with no annotation).
    """
    totals: dict[str, Counter] = {}
    tasks: dict[str, set] = {}
    for who in expected:
        totals.setdefault(str(who), Counter())
        tasks.setdefault(str(who), set())
    for task in annotated:
        totals.setdefault(task.annotator, Counter())
        tasks.setdefault(task.annotator, set())
        if task.key not in gold or task.key in tasks[task.annotator]:
            continue  # a second annotation of the same gold task by the same person counts once
        tasks[task.annotator].add(task.key)
        for kind, (matched, n_gold, n_annotated) in _score_task(gold[task.key][1], task.objects, thresholds).items():
            totals[task.annotator].update({f"{kind}_matched": matched, f"{kind}_gold": n_gold,
                                           f"{kind}_annotated": n_annotated})
    report = {}
    for who in sorted(totals):
        counts, entry = totals[who], {"gold_tasks": len(tasks[who])}
        correct = attempts = 0
        for kind in ("boxes", "polygons", "keypoints"):
            matched, n_gold, n_annotated = (counts[f"{kind}_{part}"] for part in ("matched", "gold", "annotated"))
            if n_gold or n_annotated:
                union = n_gold + n_annotated - matched
                entry[kind] = {"matched": matched, "gold": n_gold, "annotated": n_annotated,
                               "accuracy": matched / union if union else 1.0}
                correct, attempts = correct + matched, attempts + union
        entry["accuracy"] = (correct / attempts if attempts else 1.0) if entry["gold_tasks"] else None
        entry["flagged"] = entry["accuracy"] is None or entry["accuracy"] < thresholds.accuracy_threshold
        entry["reason"] = ("no gold task annotated" if entry["accuracy"] is None else
                           f"accuracy {entry['accuracy']:.3f} < {thresholds.accuracy_threshold}" if entry["flagged"]
                           else "")
        report[who] = entry
    return report


def landis_koch(value: float | None) -> str | None:
    """Landis and Koch's (1977) reading of a kappa-like coefficient."""
    if value is None or not np.isfinite(value):
        return None
    if value < 0:
        return "poor"
    return next(name for upper, name in _LANDIS_KOCH[1:] if value <= upper)


def _units(annotated: Sequence[AnnotatedTask], threshold: float) -> list[tuple[str, dict[str, str]]]:
    """(task key, {annotator: class or (none)}) for every box unit of tasks with >= 2 annotators."""
    by_task: dict[str, dict[str, list]] = {}
    for task in annotated:
        by_task.setdefault(task.key, {}).setdefault(task.annotator, task.objects)
    units = []
    for key, annotators in sorted(by_task.items()):
        if len(annotators) < 2:
            continue
        groups: list[tuple[LabeledObject, dict[str, str]]] = []
        for who in sorted(annotators):
            for label, obj in annotators[who]:
                free = [g for g in groups if who not in g[1]]
                overlaps = _iou([obj], [g[0] for g in free], False)[0] if free else np.zeros(0)
                best = int(np.argmax(overlaps)) if len(overlaps) else -1
                if best >= 0 and overlaps[best] >= threshold:
                    free[best][1][who] = label
                else:
                    groups.append((obj, {who: label}))
        for _, ratings in groups:
            units.append((key, {who: ratings.get(who, _NONE) for who in annotators}))
    return units


def _import(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ConfigError(f"synthgen qa needs {module.split('.')[0]}: pip install 'synthgen[qa]'") from error


def _coefficient(value, units: int, **extra) -> dict:
    value = None if value is None or not np.isfinite(value) else float(value)
    return {"value": value, "reading": landis_koch(value), "units": units, **extra}


def agreement(annotated: Sequence[AnnotatedTask], iou_threshold: float) -> dict:
    """Cohen's kappa per pair, Fleiss' kappa and Krippendorff's alpha over box units (module docstring).

    Returns:
        ``tasks`` (with >= 2 annotators), ``units``, ``cohen_kappa`` {"a|b": {value,
        reading, units}}, ``fleiss_kappa`` {value, reading, units, raters},
        ``krippendorff_alpha`` {value, reading, units}; a value is None where undefined
        (no overlap, or one class only).
    """
    units = _units(annotated, iou_threshold)
    annotators = sorted({who for _, ratings in units for who in ratings})
    classes = sorted({c for _, ratings in units for c in ratings.values()})
    code = {c: i for i, c in enumerate(classes)}
    result = {"tasks": len({key for key, _ in units}), "units": len(units), "classes": classes}
    metrics = _import("sklearn.metrics")
    pairs = {}
    for a, b in itertools.combinations(annotators, 2):
        both = [(r[a], r[b]) for _, r in units if a in r and b in r]
        value = None
        if both and len({c for pair in both for c in pair}) > 1:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                value = metrics.cohen_kappa_score([x for x, _ in both], [y for _, y in both], labels=classes)
        elif both:
            value = 1.0  # one class throughout, given by both every time: complete agreement
        pairs[f"{a}|{b}"] = _coefficient(value, len(both))
    result["cohen_kappa"] = pairs
    sizes = Counter(len(r) for _, r in units)
    if sizes:
        raters = max(sizes, key=lambda m: (sizes[m], m))
        rows = np.array([[code[c] for _, c in sorted(r.items())] for _, r in units if len(r) == raters])
        inter_rater = _import("statsmodels.stats.inter_rater")
        table, _ = inter_rater.aggregate_raters(rows, n_cat=len(classes))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fleiss = inter_rater.fleiss_kappa(table) if len(classes) > 1 else None
        result["fleiss_kappa"] = _coefficient(fleiss, len(rows), raters=int(raters))
        matrix = np.full((len(annotators), len(units)), np.nan)
        for j, (_, ratings) in enumerate(units):
            for who, c in ratings.items():
                matrix[annotators.index(who), j] = code[c]
        alpha = None
        if len(classes) > 1:
            alpha = _import("krippendorff").alpha(reliability_data=matrix, level_of_measurement="nominal")
        result["krippendorff_alpha"] = _coefficient(alpha, len(units))
    else:
        result["fleiss_kappa"] = _coefficient(None, 0, raters=0)
        result["krippendorff_alpha"] = _coefficient(None, 0)
    return result
