"""synthgen prelabel: train on one labeled set, pre-label another's images, order them for review."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from pycocotools.coco import COCO

from synthgen.annotate.uncertainty import box_uncertainty, image_uncertainty
from synthgen.commands.prelabel import prelabel
from synthgen.core.errors import ConfigError, InputError
from synthgen.paths import conf_dir
from tests.helpers import write_shapes_dataset

pytestmark = pytest.mark.slow

pytest.importorskip("torchvision")

FAST = ["progress=false", "detector.image_size=128", "detector.batch_size=2"]
# Faster R-CNN on 40 shapes images, 120 steps: mAP50 0.98 on 12 others (Mask R-CNN needs more steps).


def _run(*overrides: str):
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        return prelabel(compose("prelabel", [*FAST, *overrides]))


@pytest.fixture(scope="module")
def prelabeled(tmp_path_factory):
    root = tmp_path_factory.mktemp("prelabel")
    write_shapes_dataset(root / "train", 40, seed=0)
    write_shapes_dataset(root / "photos", 12, seed=5)
    out = _run(f"train=[{root / 'train'}]", f"images={root / 'photos' / 'images'}", f"ground_truth={root / 'photos'}",
               f"out={root / 'out'}", "detector.steps=120", "detector.batch_size=4", "detector.masks=false",
               "auto_accept=0.7")
    return root, out


def test_prelabels_score_well_and_are_ordered_by_uncertainty(prelabeled):
    root, out = prelabeled
    report = json.loads((out / "prelabel_report.json").read_text())
    tasks = json.loads((out / "tasks.json").read_text())
    assert report["images"] == len(tasks) == 12 and report["evaluation"]["images"] == 12
    assert report["evaluation"]["bbox"]["map50"] > 0.8, report["evaluation"]  # observed ~0.95, as TSTR's shapes test
    uncertainties = [t["data"]["uncertainty"] for t in tasks]
    assert uncertainties == sorted(uncertainties, reverse=True)
    assert [t["data"]["review_rank"] for t in tasks] == list(range(1, 13))
    for task in tasks:
        prediction = task["predictions"][0]
        assert prediction["score"] == pytest.approx(1 - task["data"]["uncertainty"])
        scores = [r["score"] for r in prediction["result"]]
        assert all(s >= 0.5 for s in scores)
        assert {r["type"] for r in prediction["result"]} <= {"rectanglelabels"}
        if task["data"]["auto_accept"]:
            assert scores and min(scores) >= 0.7
    assert report["auto_accepted"] == sum(t["data"]["auto_accept"] for t in tasks)
    assert report["auto_accept_share"] == pytest.approx(report["auto_accepted"] / 12)
    evaluation = report["evaluation"]
    assert report["auto_accepted"] > 0 and evaluation["auto_accepted"] == report["auto_accepted"]
    assert 0 <= evaluation["auto_accepted_exact"] <= report["auto_accepted"]
    # The COCO results load with pycocotools against the images they name.
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(out / "coco_images.json"))
        results = coco.loadRes(str(out / "coco_results.json"))
    assert len(results.getImgIds()) <= 12 and len(results.anns) >= report["pre_labels"]
    assert {img["file_name"] for img in coco.dataset["images"]} == {t["data"]["file_name"] for t in tasks}
    assert all((out / "images" / t["data"]["file_name"]).is_file() for t in tasks)


def test_a_saved_mask_model_gives_the_same_prelabels_with_outlines(prelabeled, tmp_path):
    root, _ = prelabeled
    first = _run(f"train=[{root / 'train'}]", f"images={root / 'photos' / 'images'}", f"out={tmp_path / 'first'}",
                 "detector.steps=40", "detector.batch_size=4", "detector.image_size=96", "score_threshold=0.05")
    again = _run(f"model={first / 'model.pt'}", f"images={root / 'photos' / 'images'}", f"out={tmp_path / 'again'}",
                 "score_threshold=0.05")
    assert (again / "tasks.json").read_bytes() == (first / "tasks.json").read_bytes()
    assert (again / "coco_results.json").read_bytes() == (first / "coco_results.json").read_bytes()
    report = json.loads((again / "prelabel_report.json").read_text())
    assert report["detector"]["masks"] and report["training"] == {"model": str(first / "model.pt")}
    regions = [r for t in json.loads((again / "tasks.json").read_text()) for r in t["predictions"][0]["result"]]
    kinds = {r["type"] for r in regions}
    assert kinds == {"rectanglelabels", "polygonlabels"}, kinds  # outlines from the mask head


def test_uncertainty_strategies():
    sure, torn, background = [0.0, 0.98, 0.02], [0.02, 0.49, 0.49], [0.5, 0.45, 0.05]
    p = np.array([sure, torn, background])
    assert np.allclose(box_uncertainty(p, "least_confidence"), [0.02, 0.51, 0.5])
    assert np.allclose(box_uncertainty(p, "margin"), [0.04, 1.0, 0.95])
    entropy = box_uncertainty(p, "entropy")
    assert entropy[0] < 0.2 < entropy[2] and entropy[1] > entropy[0] and np.all((0 <= entropy) & (entropy <= 1))
    assert image_uncertainty(p, "margin") == pytest.approx(1.0) and image_uncertainty(np.zeros((0, 3)), "entropy") == 1.0


def test_bad_inputs(tmp_path):
    write_shapes_dataset(tmp_path / "train", 2, seed=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no image"):
        _run(f"train=[{tmp_path / 'train'}]", f"images={tmp_path / 'empty'}", f"out={tmp_path / 'a'}")
    with pytest.raises(ConfigError, match="train/model: give train"):
        _run(f"images={tmp_path / 'train' / 'images'}", f"out={tmp_path / 'b'}")
    (tmp_path / "bad.pt").write_bytes(b"not a model")
    with pytest.raises(InputError, match="model=.*bad.pt: could not be read"):
        _run(f"model={tmp_path / 'bad.pt'}", f"images={tmp_path / 'train' / 'images'}", f"out={tmp_path / 'c'}")
    with pytest.raises(ConfigError, match="strategy: must be one of"):
        _run(f"train=[{tmp_path / 'train'}]", f"images={tmp_path / 'train' / 'images'}", "strategy=random",
             f"out={tmp_path / 'd'}")
    assert not any((tmp_path / name).exists() for name in "abcd")
