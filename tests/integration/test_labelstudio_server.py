"""The Label Studio export imported into a real Label Studio server, images served (README steps)."""

import json

from synthgen.commands.generate import generate
from tests.conftest import SMALL_RUN
from tests.labelstudio_server import label_studio_executable, label_studio_server


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
