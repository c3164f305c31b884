"""``synthgen qa``: annotators scored on gold tasks, and their agreement where tasks overlap.

Reads a Label Studio JSON export of the project and the gold export (``synthgen export
format=gold``, possibly mixed into the human queue) its tasks came from; writes
``out/qa.json`` and ``out/qa.html``. The method is ``synthgen.annotate.qa``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from synthgen.annotate.qa import QaThresholds, agreement, gold_accuracy, read_annotations, read_gold
from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_list, check_number
from synthgen.io.export_files import prepare_export_folder
from synthgen.io.files import write_bytes_atomic, write_json_atomic
from synthgen.validation.html_page import html_page, html_table

__all__ = ["QaSettings", "write_qa_report"]


class QaSettings:
    """The settings of ``synthgen qa`` (conf/qa.yaml documents each key)."""

    def __init__(self, annotations: str, gold: str, out: str, overwrite: bool = False, iou_threshold: float = 0.5,
                 oks_threshold: float = 0.5, oks_k: float = 0.1, accuracy_threshold: float = 0.9,
                 annotators: Sequence | None = None):
        if not isinstance(overwrite, bool):
            raise ConfigError(f"overwrite: must be true or false, got {overwrite!r}")
        self.annotations, self.gold, self.out, self.overwrite = str(annotations), str(gold), str(out), overwrite
        self.annotators = check_list("annotators", annotators, example="[ann1@example.com,ann2@example.com]")
        self.thresholds = QaThresholds(
            iou_threshold=check_number("iou_threshold", iou_threshold, minimum=0.0, maximum=1.0, exclusive_minimum=True),
            oks_threshold=check_number("oks_threshold", oks_threshold, minimum=0.0, maximum=1.0),
            oks_k=check_number("oks_k", oks_k, minimum=0.0, exclusive_minimum=True),
            accuracy_threshold=check_number("accuracy_threshold", accuracy_threshold, minimum=0.0, maximum=1.0))


def _percent(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _html(report: dict) -> str:
    rows = []
    for who, entry in report["annotators"].items():
        parts = ", ".join(f"{kind} {entry[kind]['matched']}/{entry[kind]['gold']} gold, {entry[kind]['annotated']} drawn"
                          for kind in ("boxes", "polygons", "keypoints") if kind in entry)
        rows.append([who, entry["gold_tasks"], _percent(entry["accuracy"]), "FLAGGED" if entry["flagged"] else "ok",
                     entry["reason"], parts])
    agreement = report["agreement"]
    coefficients = [[f"Cohen's kappa {pair}", "-" if c["value"] is None else f"{c['value']:.3f}", c["reading"] or "-",
                     c["units"]] for pair, c in agreement["cohen_kappa"].items()]
    for key, name in (("fleiss_kappa", "Fleiss' kappa"), ("krippendorff_alpha", "Krippendorff's alpha")):
        c = agreement[key]
        coefficients.append([name, "-" if c["value"] is None else f"{c['value']:.3f}", c["reading"] or "-", c["units"]])
    t = report["settings"]
    body = (f"<p>{len(report['annotators'])} annotators; gold: {report['gold_tasks']} tasks. Matching: same class, IoU >= "
            f"{t['iou_threshold']}; keypoints OKS >= {t['oks_threshold']} (k={t['oks_k']}); flagged below "
            f"{t['accuracy_threshold']:.0%} accuracy.</p>"
            + html_table(["annotator", "gold tasks", "accuracy", "", "why", "parts"], rows)
            + f"<h2>Agreement</h2><p>{agreement['units']} box units on {agreement['tasks']} tasks with two or more "
              "annotators (Landis and Koch reading).</p>"
            + html_table(["coefficient", "value", "reading", "units"], coefficients))
    return html_page("synthgen qa: annotators on gold tasks", body)


def write_qa_report(settings: QaSettings) -> Path:
    """Run ``synthgen qa`` as configured (conf/qa.yaml); returns the output folder.

    Raises:
        InputError: The gold file is not a gold export, the annotations are not a Label
            Studio export or hold tasks the gold file lacks (nothing is written then).
    """
    gold, queue = read_gold(settings.gold)
    annotated = read_annotations(settings.annotations, gold, queue)
    report = {
        "annotators": gold_accuracy(gold, annotated, settings.thresholds, settings.annotators),
        "agreement": agreement(annotated, settings.thresholds.iou_threshold),
        "gold_tasks": len(gold),
        "annotations": len(annotated),
        "settings": vars(settings.thresholds),
    }
    out = prepare_export_folder(settings.out, settings.overwrite)
    write_json_atomic(out / "qa.json", report)
    write_bytes_atomic(out / "qa.html", _html(report).encode())
    return out
