"""Train on synthetic, test on real: a real torchvision detector, pycocotools scores, Hydra sweeps, Chromium."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from PIL import Image

from synthgen.commands.validate import validate
from synthgen.core.errors import ConfigError, InputError
from synthgen.io.formats import read_dataset
from synthgen.paths import conf_dir
from synthgen.validation.detector import coco_scores
from tests.helpers import write_shapes_dataset

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
QUICK = ["features=null", "progress=false", "tstr.enabled=true", "tstr.bootstrap=5", "tstr.image_size=64",
         "tstr.steps=3", "tstr.batch_size=2"]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """(synthetic, real): two independently drawn sets of red squares and blue discs."""
    root = tmp_path_factory.mktemp("shapes")
    write_shapes_dataset(root / "synthetic", 40, seed=0)
    write_shapes_dataset(root / "real", 20, seed=1)
    return root / "synthetic", root / "real"


def _validate(synthetic, real, out, *overrides) -> dict:
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="validate",
                      overrides=[f"synthetic={synthetic}", f"real={real}", f"out={out}", *overrides])
    return json.loads((validate(cfg) / "metrics.json").read_text())


def test_detector_trained_on_separable_synthetic_shapes_finds_the_real_ones(shapes, tmp_path):
    synthetic, real = shapes
    metrics = _validate(synthetic, real, tmp_path / "gap", "features=null", "progress=false", "tstr.enabled=true",
                        "tstr.real_fractions=[0.0]", "tstr.real_only=false", "tstr.masks=false",
                        "tstr.image_size=128", "tstr.steps=120", "tstr.bootstrap=20")
    (run,) = metrics["tstr"]
    assert run["name"] == "synthetic only" and run["train_images"] == {"synthetic": 40, "real": 0}
    assert len(run["test_images"]) == 10 and "segm" not in run and run["model"].startswith("Faster R-CNN")
    scores = run["bbox"]
    assert scores["map50"] > 0.8, scores  # observed 0.95
    assert scores["map"] > 0.4 and min(scores["per_class"].values()) > 0.3
    for metric in ("map", "map50"):
        low, high = scores["ci95"][metric]
        assert low <= scores[metric] <= high and high - low < 0.5
    assert run["loss_first_last"][1] < 0.5 * run["loss_first_last"][0]
    page = (tmp_path / "gap" / "report.html").read_text()
    assert "Train on synthetic, test on real" in page and "box mAP50" in page


@pytest.fixture(scope="module")
def sweep(shapes, tmp_path_factory):
    """A Hydra multirun over the real fraction (two jobs) into one report folder; (folder, metrics)."""
    synthetic, real = shapes
    cwd = tmp_path_factory.mktemp("sweep")
    executable = Path(sys.executable).parent / "synthgen"
    result = subprocess.run([str(executable), "validate", "-m", f"synthetic={synthetic}", f"real={real}", "out=gap",
                             *QUICK, "tstr.real_fractions=0.0,0.5"], cwd=cwd, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd / "gap", json.loads((cwd / "gap" / "metrics.json").read_text())


def test_multirun_over_the_real_fraction_draws_one_curve(sweep):
    folder, metrics = sweep
    runs = metrics["tstr"]
    assert [(r["kind"], r["real_fraction"]) for r in runs] == [
        ("synthetic_plus_real", 0.0), ("synthetic_plus_real", 0.5), ("real_only", None)]
    assert [r["train_images"] for r in runs] == [{"synthetic": 40, "real": 0}, {"synthetic": 40, "real": 5},
                                                {"synthetic": 0, "real": 10}]
    assert len({tuple(r["test_images"]) for r in runs}) == 1  # every run is scored on the same real images
    # Masks on both sides: Mask R-CNN, with mask scores.
    assert all(r["model"].startswith("Mask R-CNN") and "map" in r["segm"] for r in runs)
    assert sorted(p.name for p in (folder / "tstr").iterdir()) == [
        "real_fraction_0.0000.json", "real_fraction_0.5000.json", "real_only.json"]
    assert sorted(p.name for p in folder.parent.iterdir()) == ["gap", "multirun.yaml"]  # no Hydra job folders
    page = (folder / "report.html").read_text()
    assert page.count("<tr><td>synthetic") == 2 and "real only" in page


def test_a_sweep_never_mixes_settings_nor_overwrites_in_parallel(shapes, sweep, tmp_path):
    synthetic, real = shapes
    folder, _ = sweep
    # A different TSTR setting into the same folder is refused, not added to the curve.
    with pytest.raises(InputError, match="folder is not empty"):
        _validate(synthetic, real, folder, *QUICK, "tstr.steps=4")
    out = tmp_path / "gap"
    _validate(synthetic, real, out, *QUICK, "tstr.real_fractions=[0.0]", "tstr.real_only=false")
    first = (out / "tstr" / "real_fraction_0.0000.json").read_bytes()
    # The same settings add points; the existing one is kept, not retrained.
    metrics = _validate(synthetic, real, out, *QUICK, "tstr.real_fractions=[0.0,1.0]", "tstr.real_only=false")
    assert [r["real_fraction"] for r in metrics["tstr"]] == [0.0, 1.0]
    assert (out / "tstr" / "real_fraction_0.0000.json").read_bytes() == first


def test_bad_tstr_settings_and_unusable_real_sets_are_clear_errors(shapes, tmp_path):
    synthetic, real = shapes
    with pytest.raises(ConfigError, match=r"tstr.epochs: unknown key; allowed keys: \[.*'steps'"):
        _validate(synthetic, real, tmp_path / "a", *QUICK, "+tstr.epochs=3")
    with pytest.raises(ConfigError, match=r"tstr.real_fractions.*1.5"):
        _validate(synthetic, real, tmp_path / "b", *QUICK, "tstr.real_fractions=[1.5]")
    unlabeled = tmp_path / "unlabeled"
    shutil.copytree(real, unlabeled)
    data = json.loads((unlabeled / "annotations.json").read_text())
    data["annotations"] = []
    (unlabeled / "annotations.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"real test split \(10 images at tstr.test_fraction=0.5\) has no labeled"):
        _validate(synthetic, unlabeled, tmp_path / "c", *QUICK)
    assert not any((tmp_path / name).exists() for name in "abc")  # nothing written


def test_coco_scores_are_one_for_the_truth_and_zero_for_a_missed_class(shapes):
    _, real = shapes
    dataset = read_dataset(str(real))
    truth = [{"image_id": position + 1, "category_id": obj.category_id, "score": 1.0,
              "bbox": [*obj.bbox[:2], *(obj.bbox[2:] - obj.bbox[:2])]}
             for position, image in enumerate(dataset.images) for obj in image.objects]
    perfect = coco_scores(dataset, truth, "bbox", 20, np.random.default_rng(0))
    assert perfect["map"] == perfect["map50"] == 1.0 and perfect["ci95"]["map"] == [1.0, 1.0]
    assert perfect["n_images"] == 20 and perfect["n_objects"] == sum(len(i.objects) for i in dataset.images)
    no_discs = coco_scores(dataset, [t for t in truth if t["category_id"] == 1], "bbox", 20, np.random.default_rng(0))
    assert no_discs["per_class"] == {"square": 1.0, "disc": 0.0} and no_discs["map50"] == 0.5
    shifted = [{**t, "bbox": [t["bbox"][0] + t["bbox"][2] * 0.3, *t["bbox"][1:]]} for t in truth]  # IoU ~0.54
    partial = coco_scores(dataset, shifted, "bbox", 20, np.random.default_rng(0))
    assert partial["map50"] == 1.0 and 0.05 < partial["map"] < 0.3
    low, high = partial["ci95"]["map"]
    assert low <= partial["map"] <= high


def _screenshot(page: Path, png: Path) -> subprocess.CompletedProcess:
    # Flags as for any headless Chromium on a closed network; a fresh profile each time.
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={png.parent / 'profile'}", "--hide-scrollbars", "--window-size=1280,2600",
                           "--enable-logging=stderr", "--v=0", f"--screenshot={png}", page.as_uri()],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.chromium
def test_report_opens_in_headless_chromium_and_shows_its_plots(sweep, tmp_path):
    folder, _ = sweep
    png = tmp_path / "report.png"
    result = _screenshot(folder / "report.html", png)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "CONSOLE" not in result.stderr and "Uncaught" not in result.stderr  # no page errors
    shot = np.asarray(Image.open(png).convert("RGB")).astype(int)
    assert shot.shape[:2] == (2600, 1280)

    def share(rgb) -> float:
        return float((np.abs(shot - np.array(rgb)).sum(axis=2) < 30).mean())

    # matplotlib's first two colours fill the bars, curve points and histograms of the embedded
    # PNG plots: a page whose images failed to decode shows neither.
    assert share((31, 119, 180)) > 0.003 and share((255, 127, 14)) > 0.002
    # Breaking one embedded plot is visible: the same page with its images' data cut.
    broken = tmp_path / "broken.html"
    broken.write_text((folder / "report.html").read_text().replace("data:image/png;base64,", "data:image/png;base64,x"))
    assert _screenshot(broken, tmp_path / "broken.png").returncode == 0
    shot = np.asarray(Image.open(tmp_path / "broken.png").convert("RGB")).astype(int)
    assert share((31, 119, 180)) < 0.0005
