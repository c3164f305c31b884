"""The Label Studio export imported into a real Label Studio server, images served (README steps)."""

import json

import pytest

from synthgen.commands.generate import generate
from tests.conftest import SMALL_RUN
from tests.labelstudio_server import label_studio_executable, label_studio_server

pytestmark = pytest.mark.server


def test_tasks_and_predictions_import_and_images_are_served(generate_cfg, tmp_path):
    label_studio_executable()  # skip (or fail in CI) before rendering anything
    store = tmp_path / "ds"
    generate(generate_cfg(*SMALL_RUN, f"out={store}", "n=3", "export=[coco,labelstudio]"))
    export = store / "exports" / "labelstudio"
    tasks = json.loads((export / "tasks.json").read_text())
    regions = sum(len(task["predictions"][0]["result"]) for task in tasks)
    assert len(tasks) == 3 and regions > 0

    (tmp_path / "ls").mkdir()
    # README: the document root is the export folder; the Local Storage is its images/ below it.
    with label_studio_server(tmp_path / "ls", document_root=export) as server:
        project = server.json("POST", "/api/projects", {"title": "synthgen",
                                                        "label_config": (export / "labeling_config.xml").read_text()})
        imported = server.json("POST", f"/api/projects/{project['id']}/import", tasks)
        assert imported["task_count"] == 3 and imported["prediction_count"] == 3

        url = tasks[0]["data"]["image"]
        assert url.startswith("/data/local-files/?d=images/")
        status, _ = server.request("GET", url)
        assert status == 404  # not served before a Local Storage covers the folder

        refused, message = server.request("POST", "/api/storages/localfiles",
                                          {"project": project["id"], "path": str(export), "title": "root"})
        assert refused == 400 and b"cannot be the same" in message  # the document root itself is refused
        server.json("POST", "/api/storages/localfiles", {"project": project["id"], "path": str(export / "images"),
                                                         "title": "synthgen images", "use_blob_urls": False})
        status, content = server.request("GET", url)
        assert status == 200 and content == (export / url.split("d=", 1)[1]).read_bytes()

        assert server.json("GET", f"/api/projects/{project['id']}")["task_number"] == 3
        stored = server.json("GET", f"/api/predictions?project={project['id']}")
        predictions = stored if isinstance(stored, list) else stored["results"]
        assert len(predictions) == 3 and sum(len(p["result"]) for p in predictions) == regions


def test_prelabel_and_gold_round_trip_through_label_studio(tmp_path):
    """Pre-labels and gold tasks imported, annotated through the REST API, exported, read back and scored."""
    label_studio_executable()
    from hydra import compose, initialize_config_dir

    from synthgen.commands.prelabel import prelabel
    from synthgen.commands.qa import qa
    from synthgen.io.formats import read_dataset
    from synthgen.io.labelstudio import export_gold
    from synthgen.paths import conf_dir
    from tests.helpers import write_shapes_dataset

    write_shapes_dataset(tmp_path / "train", 12, seed=0)
    write_shapes_dataset(tmp_path / "photos", 4, seed=5)
    write_shapes_dataset(tmp_path / "gold_set", 3, seed=6)
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        out = prelabel(compose("prelabel", [f"train=[{tmp_path / 'train'}]", f"images={tmp_path / 'photos' / 'images'}",
                                            f"out={tmp_path / 'prelabels'}", "progress=false", "detector.steps=40",
                                            "detector.image_size=128", "detector.masks=false", "score_threshold=0.05"]))
    (tmp_path / "gold").mkdir()
    export_gold(read_dataset(tmp_path / "gold_set"), tmp_path / "gold", rate=0.5)
    tasks = json.loads((out / "tasks.json").read_text())
    gold_tasks = json.loads((tmp_path / "gold" / "tasks.json").read_text())

    (tmp_path / "ls").mkdir()
    with label_studio_server(tmp_path / "ls", document_root=out) as server:
        # Pre-labels: imported as predictions, accepted as they are on one task and corrected on another.
        project = server.json("POST", "/api/projects", {"title": "prelabels",
                                                        "label_config": (out / "labeling_config.xml").read_text()})
        imported = server.json("POST", f"/api/projects/{project['id']}/import", tasks)
        assert imported["task_count"] == 4 and imported["prediction_count"] == 4
        stored = server.json("GET", f"/api/tasks?project={project['id']}&page_size=100")
        stored = stored["tasks"] if isinstance(stored, dict) else stored
        by_rank = {t["data"]["review_rank"]: t for t in stored}
        assert sorted(by_rank) == [1, 2, 3, 4]
        accepted = tasks[0]["predictions"][0]["result"]
        corrected = accepted[:-1] if accepted else []
        for rank, result in ((1, accepted), (2, corrected)):
            server.json("POST", f"/api/tasks/{by_rank[rank]['id']}/annotations", {"result": result})
        exported = server.json("GET", f"/api/projects/{project['id']}/export?exportType=JSON&download_all_tasks=true")
        assert len(exported) == 4
        ranks = {t["data"]["review_rank"]: t for t in exported}
        assert [len(ranks[r]["annotations"]) for r in (1, 2, 3, 4)] == [1, 1, 0, 0]
        assert ranks[1]["data"]["uncertainty"] == tasks[0]["data"]["uncertainty"]
        predictions = server.json("GET", f"/api/predictions?task={ranks[1]['id']}")
        predictions = predictions if isinstance(predictions, list) else predictions["results"]
        assert predictions[0]["score"] == pytest.approx(tasks[0]["predictions"][0]["score"])
        scores = [region.get("score") for region in predictions[0]["result"]]
        assert scores == [region["score"] for region in accepted]  # per-region scores survive the round trip
        (out / "export.json").write_text(json.dumps(exported))
        read = read_dataset(out / "export.json")  # annotations are read, predictions where there are none
        objects = {image.path.name: len(image.objects) for image in read.images}
        assert objects[ranks[2]["data"]["file_name"]] == len([r for r in corrected if r["type"] == "rectanglelabels"])

        # Gold tasks: annotated through the API, one of the three with its boxes moved away, then scored.
        gold_project = server.json("POST", "/api/projects", {
            "title": "gold", "label_config": (tmp_path / "gold" / "labeling_config.xml").read_text()})
        server.json("POST", f"/api/projects/{gold_project['id']}/import", gold_tasks)
        stored = server.json("GET", f"/api/tasks?project={gold_project['id']}&page_size=100")
        stored = stored["tasks"] if isinstance(stored, dict) else stored
        truth = {t["data"]["image"]: t["annotations"][0]["result"] for t in gold_tasks}
        boxes = {key: sum(r["type"] == "rectanglelabels" for r in result) for key, result in truth.items()}
        sloppy_key = sorted(truth)[0]
        for task in stored:
            result = json.loads(json.dumps(truth[task["data"]["image"]]))
            if task["data"]["image"] == sloppy_key:
                for region in result:  # every region 30% of the image to the right or left
                    for point in region["value"].get("points", []):
                        point[0] = point[0] + 30 if point[0] < 50 else point[0] - 30
                    if "x" in region["value"]:
                        region["value"]["x"] += 30 if region["value"]["x"] < 50 else -30
            server.json("POST", f"/api/tasks/{task['id']}/annotations", {"result": result})
        export = server.json("GET", f"/api/projects/{gold_project['id']}/export?exportType=JSON&download_all_tasks=true")
    (tmp_path / "gold_export.json").write_text(json.dumps(export))
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        report_dir = qa(compose("qa", [f"annotations={tmp_path / 'gold_export.json'}", f"gold={tmp_path / 'gold'}",
                                       f"out={tmp_path / 'qa'}"]))
    report = json.loads((report_dir / "qa.json").read_text())
    (annotator,) = report["annotators"].values()  # the API user; the imported ground truth is not an annotator
    good = sum(boxes.values()) - boxes[sloppy_key]
    assert annotator["gold_tasks"] == 3
    assert annotator["boxes"] == {"matched": good, "gold": sum(boxes.values()), "annotated": sum(boxes.values()),
                                  "accuracy": good / (sum(boxes.values()) + boxes[sloppy_key])}
    assert annotator["flagged"]
