"""synthgen qa on gold tasks mixed into a human queue: a perfect, a sloppy and an absent annotator."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from synthgen.annotate.qa import QaThresholds, gold_accuracy, landis_koch, read_annotations, read_gold
from synthgen.commands.qa import qa
from synthgen.core.errors import InputError
from synthgen.io.formats import read_dataset
from synthgen.io.labelstudio import export_gold, export_labelstudio
from synthgen.paths import conf_dir
from tests.helpers import write_shapes_dataset


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A gold export (6 gold tasks in a queue of 20 human ones) and the human queue's true labels."""
    root = tmp_path_factory.mktemp("qa")
    write_shapes_dataset(root / "gold_set", 6, seed=1)
    write_shapes_dataset(root / "human_set", 20, seed=2)
    (root / "queue").mkdir()
    (root / "gold").mkdir()
    export_labelstudio(read_dataset(root / "human_set"), root / "queue")
    export_gold(read_dataset(root / "gold_set"), root / "gold", rate=0.2, queue=root / "queue" / "tasks.json", seed=0)
    return root


def _truth(task: dict) -> list:
    """The exact regions of a task: its gold annotation, or the human queue's pre-labels."""
    return copy.deepcopy((task.get("annotations") or task["predictions"])[0]["result"])


def _sloppy(regions: list, position: int) -> list:
    """Every other box shifted by 60% of its width (IoU 0.25); the others get the other class."""
    changed = []
    for k, region in enumerate(r for r in regions if r["type"] == "rectanglelabels"):
        value = region["value"]
        if (k + position) % 2:
            shift = 0.6 * value["width"]
            value["x"] += shift if value["x"] + value["width"] + shift <= 100 else -shift
        else:
            value["rectanglelabels"] = ["disc" if value["rectanglelabels"] == ["square"] else "square"]
        changed.append(region)
    return changed


def _export(project: Path, annotators: dict, out: Path) -> Path:
    """A Label Studio JSON export: each task with the annotations of the annotators given for it."""
    tasks = json.loads((project / "gold" / "tasks.json").read_text())
    exported = []
    for position, task in enumerate(tasks):
        entry = {"id": position + 1, "data": task["data"], "annotations": []}
        if "annotations" in task:  # the imported ground truth comes back in the export too
            entry["annotations"].append({"id": 1000 + position, "completed_by": 1, "ground_truth": True,
                                         "result": _truth(task)})
        for who, make in annotators.items():
            result = make(task, position)
            if result is not None:
                entry["annotations"].append({"id": len(exported) * 10 + len(entry["annotations"]),
                                             "completed_by": {"id": who, "email": f"annotator{who}@example.com"},
                                             "was_cancelled": False, "ground_truth": False, "result": result})
        exported.append(entry)
    out.write_text(json.dumps(exported))
    return out


def _run(overrides: list[str]):
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        return qa(compose("qa", overrides))


def test_perfect_sloppy_and_absent_annotators(project, tmp_path):
    export = _export(project, {
        2: lambda task, i: _truth(task),                                    # perfect, everywhere
        3: lambda task, i: _sloppy(_truth(task), i),                        # sloppy, everywhere
        4: lambda task, i: _truth(task) if i % 2 == 0 else None,            # perfect, half the queue
    }, tmp_path / "export.json")
    out = _run([f"annotations={export}", f"gold={project / 'gold'}", f"out={tmp_path / 'report'}",
                "annotators=[annotator2@example.com,annotator3@example.com,annotator4@example.com,"
                "annotator5@example.com]"])
    report = json.loads((out / "qa.json").read_text())
    people = report["annotators"]
    assert set(people) == {f"annotator{i}@example.com" for i in (2, 3, 4, 5)}  # the ground truth's importer is not one
    perfect, sloppy, half, absent = (people[f"annotator{i}@example.com"] for i in (2, 3, 4, 5))
    assert perfect["gold_tasks"] == 5 and perfect["accuracy"] == 1.0 and not perfect["flagged"]
    assert perfect["polygons"]["accuracy"] == 1.0  # the outlines are scored too
    assert sloppy["gold_tasks"] == 5 and sloppy["flagged"] and sloppy["boxes"]["matched"] == 0
    assert sloppy["accuracy"] < 0.5 and "accuracy" in sloppy["reason"]
    assert 0 < half["gold_tasks"] < 5 and half["accuracy"] == 1.0
    assert absent == {"gold_tasks": 0, "accuracy": None, "flagged": True, "reason": "no gold task annotated"}
    agreement = report["agreement"]
    assert agreement["tasks"] == 25  # every task had two or more annotators
    kappa = agreement["cohen_kappa"]
    assert kappa["annotator2@example.com|annotator4@example.com"]["value"] == 1.0
    assert kappa["annotator2@example.com|annotator4@example.com"]["reading"] == "almost perfect"
    assert kappa["annotator2@example.com|annotator3@example.com"]["value"] < 0.2
    assert agreement["fleiss_kappa"]["raters"] in (2, 3) and agreement["fleiss_kappa"]["value"] < 0.6
    assert -1 <= agreement["krippendorff_alpha"]["value"] < 0.6
    # The mixed queue is served from one folder: the queue's images were placed beside the gold ones.
    for task in json.loads((project / "gold" / "tasks.json").read_text()):
        assert (project / "gold" / task["data"]["image"].split("d=", 1)[1]).is_file()
    page = (out / "qa.html").read_text()
    assert "FLAGGED" in page and "Krippendorff" in page


def test_keypoints_are_scored_by_object_keypoint_similarity(tmp_path):
    def task(dx: float) -> dict:
        common = {"to_name": "image", "original_width": 100, "original_height": 100}
        box = {**common, "id": "0-0-box", "from_name": "box", "type": "rectanglelabels",
               "value": {"x": 10, "y": 10, "width": 40, "height": 40, "rectanglelabels": ["board"]}}
        points = [{**common, "id": f"0-0-kp{j}", "from_name": "keypoint", "type": "keypointlabels",
                   "value": {"x": x + (dx if j else 0), "y": 30, "width": 0.5, "keypointlabels": [f"k{j}"]}}
                  for j, x in enumerate((20, 40))]
        return {"data": {"image": "a.png"}, "annotations": [{"result": [box, *points], "ground_truth": True}]}

    gold_file = tmp_path / "gold.json"
    gold_file.write_text(json.dumps([task(0)]))
    gold, queue = read_gold(gold_file)
    for dx, correct in ((1.0, 2), (12.0, 1)):  # 1 px: OKS 0.99; 12 px on a 40 px box: OKS 0.011
        export = tmp_path / f"export{dx}.json"
        annotated = task(dx)
        annotated["annotations"][0] = {"result": annotated["annotations"][0]["result"], "completed_by": 7}
        export.write_text(json.dumps([annotated]))
        entry = gold_accuracy(gold, read_annotations(export, gold, queue), QaThresholds())["7"]
        assert entry["keypoints"]["matched"] == correct and entry["keypoints"]["gold"] == 2
        assert entry["boxes"]["accuracy"] == 1.0


def test_landis_koch_reading():
    assert [landis_koch(v) for v in (-0.1, 0.1, 0.3, 0.5, 0.7, 0.9, None)] == [
        "poor", "slight", "fair", "moderate", "substantial", "almost perfect", None]


def test_bad_inputs_give_one_line_and_write_nothing(project, tmp_path):
    human_only = project / "queue"  # a labelstudio export, not a gold one
    export = _export(project, {2: lambda task, i: _truth(task)}, tmp_path / "export.json")
    with pytest.raises(InputError, match="not a gold export .no task has a ground_truth annotation"):
        _run([f"annotations={export}", f"gold={human_only}", f"out={tmp_path / 'a'}"])
    # annotations of a project the gold tasks were never imported into
    foreign = json.loads(export.read_text())
    foreign[0]["data"]["image"] = "/data/local-files/?d=images/elsewhere.png"
    (tmp_path / "foreign.json").write_text(json.dumps(foreign))
    with pytest.raises(InputError, match="not in the gold file"):
        _run([f"annotations={tmp_path / 'foreign.json'}", f"gold={project / 'gold'}", f"out={tmp_path / 'b'}"])
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    executable = Path(sys.executable).with_name("synthgen")
    process = subprocess.run([str(executable), "qa", f"annotations={tmp_path / 'foreign.json'}",
                              f"gold={project / 'gold'}", f"out={tmp_path / 'c'}"], capture_output=True, text=True,
                             timeout=120)
    assert process.returncode == 2 and process.stderr.count("\n") == 1 and "not in the gold file" in process.stderr
