"""synthgen fit against a real labeled set: ranges move towards it, and the fitted scene generates."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from synthgen.commands.fit import fit
from synthgen.core.errors import InputError
from synthgen.paths import conf_dir
from tests.helpers import write_shapes_dataset
from tests.resources import CHESSBOARDS, FRUITS

pytestmark = pytest.mark.slow

# Small batches at 96 px: a fit in about a minute. The scene starts with its camera 3x too far.
TINY = ["progress=false", "batch=6", "rounds=1", "population=3", "eval_images=8", "finalists=2", "image_size=96",
        "scene.camera.distance=[0.6,0.8]", "scene.randomize.cloth.texture_size=128", "selection=statistics"]
# The transfer proxy at its smallest: one detector of a few steps per finalist.
TINY_TRANSFER = ["selection=transfer", "transfer_steps=3", "transfer_repeats=1", "transfer_image_size=64"]


def _generate_with(config_dir: Path, choice: str, out: Path) -> dict:
    """Run the CLI's generate with a fitted file as the README says; the dataset's manifest."""
    executable = Path(sys.executable).with_name("synthgen")
    process = subprocess.run([str(executable), "generate", "--config-dir", str(config_dir), choice, f"out={out}", "n=2",
                              "render.width=96", "render.height=72", "progress=false"],
                             capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr
    return json.loads((out / "manifest.json").read_text())


def _fit(*overrides: str) -> Path:
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        return fit(compose("fit", ["scene=tabletop_fruits", "scene_name=tabletop_fruits", *TINY, *overrides]))


@pytest.mark.realdata
def test_fit_moves_a_far_camera_closer_and_the_fitted_scene_generates(tmp_path):
    out = _fit(f"real={FRUITS}", f"out={tmp_path / 'fit'}")
    report = json.loads((out / "fit_report.json").read_text())
    assert report["chosen"] == "fitted" and report["resolution"] == [96, 72]  # the real photos' 4:3
    distance = report["parameters"]["camera_distance"]
    assert distance["before"] == [0.6, 0.8] and sum(distance["after"]) / 2 < 0.45  # boxes were ~3x too small
    size = report["before"]["statistics"]["size"], report["after"]["statistics"]["size"]
    assert size[1]["wasserstein"] < 0.8 * size[0]["wasserstein"]
    assert sum(report["parameters"]["count"]["after"]) / 2 < 25  # not drawn 3x more to make up for lost ones
    assert report["after"]["label_wasserstein_sum"] < 0.7 * report["before"]["label_wasserstein_sum"]
    assert report["reduction"]["objective"] == pytest.approx(1 - report["after"]["objective"] / report["before"]["objective"])
    assert "background_kinds" in report["skipped_parameters"]  # the fruit scene's background is its cloth
    assert (out / "fit_report.html").read_text().count("<figure>") >= 9  # search + one plot per statistic
    assert not any(p.name.startswith(".fit-") for p in out.iterdir())  # the batches' scratch folder is gone

    fitted = OmegaConf.load(out / "scene" / "tabletop_fruits_fit.yaml")
    assert "defaults" not in fitted and fitted._target_.endswith("TabletopSampler")  # the whole scene: self-contained
    assert list(fitted.camera.distance) == distance["after"]
    assert fitted.randomize.cloth.texture_size == 128  # the scene overrides given to fit are kept
    # The fitted scene is used exactly as the README says.
    manifest = _generate_with(out, "scene=tabletop_fruits_fit", tmp_path / "data")
    assert manifest["config"]["scene"]["camera"]["distance"] == distance["after"]


@pytest.mark.realdata
def test_a_users_own_scene_with_a_required_value_fits_and_its_fitted_file_generates(tmp_path):
    """The normal case: a scene in the user's --config-dir that extends a shipped one whose
    texture_dataset is required (???), given on fit's command line. Fit must render it, and
    the fitted file must load from out alone (the user's folder is not on that search path)."""
    (tmp_path / "conf" / "scene").mkdir(parents=True)
    (tmp_path / "conf" / "scene" / "my_fruits.yaml").write_text(
        "defaults:\n  - tabletop_fruits_photos\n  - _self_\ncamera:\n  distance: [0.5, 0.7]\n")
    executable = str(Path(sys.executable).with_name("synthgen"))
    fitted = subprocess.run(
        [executable, "fit", "--config-dir", str(tmp_path / "conf"), "scene=my_fruits",
         f"scene.randomize.skins.texture_dataset={FRUITS}", f"real={FRUITS}", f"out={tmp_path / 'fit'}", "progress=false",
         "batch=3", "rounds=0", "eval_images=2", "finalists=2", "image_size=64", "scene.randomize.cloth.texture_size=128",
         "selection=statistics"],
        capture_output=True, text=True, timeout=600)
    assert fitted.returncode == 0, fitted.stderr
    report = json.loads((tmp_path / "fit" / "fit_report.json").read_text())
    generated = subprocess.run(
        [executable, "generate", "--config-dir", str(tmp_path / "fit"), "scene=my_fruits_fit", f"out={tmp_path / 'data'}",
         "n=2", "render.width=64", "render.height=48", "progress=false"], capture_output=True, text=True, timeout=300,
        cwd=tmp_path)
    assert generated.returncode == 0, generated.stderr
    scene = json.loads((tmp_path / "data" / "manifest.json").read_text())["config"]["scene"]
    assert scene["camera"]["distance"] == report["parameters"]["camera_distance"]["after"]
    assert scene["randomize"]["skins"]["texture_dataset"] == str(FRUITS)


def test_bad_real_sets_give_one_error_and_write_nothing(tmp_path):
    write_shapes_dataset(tmp_path / "shapes", 2, seed=0)  # squares and discs: no fruit
    with pytest.raises(InputError, match="shares no category with the scene"):
        _fit(f"real={tmp_path / 'shapes'}", f"out={tmp_path / 'a'}")
    empty = json.loads((tmp_path / "shapes" / "annotations.json").read_text())
    empty["annotations"] = []
    (tmp_path / "shapes" / "annotations.json").write_text(json.dumps(empty))
    with pytest.raises(InputError, match="has no labeled objects"):
        _fit(f"real={tmp_path / 'shapes'}", f"out={tmp_path / 'b'}")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()




@pytest.mark.realdata
def test_chessboard_photos_become_a_labeled_real_set(tmp_path):
    """scripts/label_chessboards.py: the real set the chessboard scene is fitted to."""
    import importlib.util

    from pycocotools import mask as mask_utils

    from synthgen.io.formats import read_dataset

    spec = importlib.util.spec_from_file_location("label_chessboards", Path(__file__).resolve().parents[2] / "scripts"
                                                  / "label_chessboards.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.label_chessboards(CHESSBOARDS, tmp_path / "boards")
    assert result == {"images": 26, "skipped": []}
    dataset = read_dataset(tmp_path / "boards")
    assert [c.name for c in dataset.categories] == ["chessboard"] and len(dataset.categories[0].keypoint_names) == 54
    for image in dataset.images:
        (board,) = image.objects
        mask = mask_utils.decode({"size": board.segmentation["size"], "counts": board.segmentation["counts"].encode()})
        corners = np.round(board.keypoints[:, :2]).astype(int)
        assert mask[corners[:, 1], corners[:, 0]].all()  # every inner corner lies on the board
        assert 0.2 < board.area / (image.width * image.height) < 1.0
    assert not list(CHESSBOARDS.glob("annotations*"))  # the source folder is only read


@pytest.mark.realdata
def test_the_same_fit_twice_gives_the_same_bytes_and_transfer_decides(tmp_path):
    runs = [_fit(f"real={FRUITS}", f"out={tmp_path / name}", "rounds=0", "eval_images=3", "batch=3", "image_size=96",
                 "scene.camera.distance=[0.3,0.4]", *TINY_TRANSFER) for name in ("a", "b")]
    for file in ("fit_report.json", "fit_report.html", "scene/tabletop_fruits_fit.yaml"):
        first, second = ((run / file).read_bytes() for run in runs)
        assert first.replace(str(runs[0]).encode(), str(runs[1]).encode()) == second, file
    report = json.loads((runs[0] / "fit_report.json").read_text())
    finalists = report["search"]["finalists"]
    scores = [f["transfer"]["map50"] for f in finalists]
    assert report["selection"] == "transfer" and len(scores) == 2 and all(0.0 <= s <= 1.0 for s in scores)
    # A candidate is chosen only when its detectors found the real objects better than the original's.
    assert (report["chosen"] == "fitted") == (max(scores[1:]) > scores[0])
    assert set(report["transfer"]) >= {"before", "after"} and "Chosen by transfer" in (runs[0] / "fit_report.html").read_text()


def test_transfer_selection_never_keeps_a_worse_candidate():
    from synthgen.fit.scene_fit import _choice

    gaps = [{"objective": 3.0, "transfer": {"map50": 0.40}}, {"objective": 1.0, "transfer": {"map50": 0.35}},
            {"objective": 2.0, "transfer": {"map50": 0.40}}]
    assert _choice(gaps, by_transfer=True) == 0  # ties and losses keep the original
    assert _choice(gaps, by_transfer=False) == 1  # the statistics gap alone would take the worse one
    gaps[2]["transfer"]["map50"] = 0.41
    assert _choice(gaps, by_transfer=True) == 2


@pytest.mark.realdata
def test_fit_moves_copy_paste_ranges_and_the_fitted_generator_generates(tmp_path):
    """Paste one object per image (the photos hold ~9): fit raises the count; its generator file generates."""
    out = _fit(f"real={FRUITS}", f"out={tmp_path / 'fit'}", "rounds=0",
               f"generate=['generator=paste','generator.dataset={FRUITS}','generator.objects=[1,1]']")
    report = json.loads((out / "fit_report.json").read_text())
    assert list(report["parameters"]) == ["paste_objects", "paste_scale", "paste_rotation", "paste_max_occlusion"]
    objects = report["parameters"]["paste_objects"]
    assert objects["before"] == [1, 1] and sum(objects["after"]) / 2 > 3 and report["chosen"] == "fitted"
    generator = OmegaConf.load(out / "generator" / "paste_fit.yaml")
    assert list(generator.objects) == objects["after"] and generator.dataset == str(FRUITS)
    manifest = _generate_with(out, "generator=paste_fit", tmp_path / "data")
    assert manifest["config"]["generator"]["objects"] == objects["after"]
