"""The `synthgen` console script in a subprocess, as a user runs it."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _synthgen(*args, cwd):
    executable = os.path.join(os.path.dirname(sys.executable), "synthgen")
    return subprocess.run([executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_generate_end_to_end(tmp_path):
    result = _synthgen("generate", "out=ds", "n=3", "seed=7", "render.width=160", "render.height=120",
                       "scene=tabletop", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "images: 3 committed" in result.stderr and "images/s" in result.stderr
    assert "quarantined: 0" in result.stderr and "cube:" in result.stderr
    coco = json.loads((tmp_path / "ds" / "annotations" / "instances.json").read_text())
    assert len(coco["images"]) == 3 and coco["annotations"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no Hydra output folders left behind


def test_second_run_into_same_folder_is_refused(tmp_path):
    assert _synthgen("generate", "out=ds", "n=1", "render.width=64", "render.height=48", cwd=tmp_path).returncode == 0
    result = _synthgen("generate", "out=ds", "n=1", "render.width=64", "render.height=48", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("synthgen: error: out=ds: folder is not empty; pass resume=true")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("override, expected", [
    ("render.width=0", "synthgen: error: render.width: must be an integer >= 16 and <= 8192, got 0"),
    ("writer.depth_format=exr", "writer.depth_format: must be one of ['png16', 'npz'], got 'exr'"),
])
def test_invalid_value_gives_one_clear_line(tmp_path, override, expected):
    result = _synthgen("generate", "out=ds", "n=1", override, cwd=tmp_path)
    assert result.returncode == 2 and expected in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "ds").exists()


def test_unknown_key_and_unknown_group_option_are_named(tmp_path):
    result = _synthgen("generate", "rendr.width=5", cwd=tmp_path)
    assert result.returncode != 0 and "rendr" in result.stderr
    result = _synthgen("generate", "scene=tabeltop", cwd=tmp_path)
    assert result.returncode != 0 and "scene/tabeltop" in result.stderr and "tabletop" in result.stderr


def test_usage_and_unknown_command(tmp_path):
    usage = _synthgen(cwd=tmp_path).stdout
    assert "synthgen generate" in usage
    from synthgen.io.formats import FORMATS

    # Formats and component options come from the registry and the config groups, not a text to keep in step.
    assert all(re.search(rf"^  {f.name} +(read|write)", usage, re.M) for f in FORMATS)
    assert re.search(r"^  scene +bin_picking, .*tabletop_textured$", usage, re.M)
    assert re.search(r"^  generator +.*paste", usage, re.M)
    result = _synthgen("frobnicate", cwd=tmp_path)
    assert result.returncode == 2 and "unknown command 'frobnicate'" in result.stderr


def _readme_fruit_scene() -> str:
    """The docs' own-categories example (docs/generating.md), exactly as printed there."""
    readme = (Path(__file__).resolve().parents[2] / "docs" / "generating.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.S)
    (block,) = [b for b in blocks if b.startswith("# myconf/scene/fruit.yaml")]
    return block


def test_user_defined_categories_from_a_config_dir(tmp_path):
    """The docs' recipe, copied from docs/generating.md: a scene file in the user's own folder, no code."""
    scene_dir = tmp_path / "myconf" / "scene"
    scene_dir.mkdir(parents=True)
    (scene_dir / "fruit.yaml").write_text(_readme_fruit_scene())
    result = _synthgen("generate", "--config-dir", "myconf", "scene=fruit", "out=ds", "n=2",
                       "render.width=96", "render.height=72", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    coco = json.loads((tmp_path / "ds" / "annotations" / "instances.json").read_text())
    assert [c["name"] for c in coco["categories"]] == ["apple", "banana", "orange"]
    assert {a["category_id"] for a in coco["annotations"]} <= {1, 2, 3} and coco["annotations"]


def test_ctrl_c_keeps_committed_samples_and_says_how_to_resume(tmp_path):
    executable = os.path.join(os.path.dirname(sys.executable), "synthgen")
    process = subprocess.Popen([executable, "generate", "out=ds", "n=500", "render.width=96", "render.height=72"],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    labels = tmp_path / "ds" / "labels"
    deadline = time.monotonic() + 120
    while not (labels.is_dir() and len(list(labels.glob("*.json"))) >= 3) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "resume=true" in stderr and "Traceback" not in stderr
    committed = sorted(labels.glob("*.json"))
    assert 3 <= len(committed) < 500
    assert not list((tmp_path / "ds").rglob(".*tmp-*"))
    result = _synthgen("generate", "out=ds", "n=5", "render.width=96", "render.height=72", "resume=true", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_export_mix_and_preview_commands(tmp_path):
    assert _synthgen("generate", "out=ds", "n=3", "render.width=96", "render.height=72", cwd=tmp_path).returncode == 0
    result = _synthgen("export", "format=yolo", "in=ds", "out=yolo", "task=segment", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wrote yolo/data.yaml" in result.stderr and len(list((tmp_path / "yolo" / "labels" / "train").iterdir())) == 3
    result = _synthgen("export", "format=voc", "in=yolo", "out=voc", cwd=tmp_path)  # real formats convert too
    assert result.returncode == 0, result.stderr
    result = _synthgen("export", "format=kitti", "in=yolo", "out=kitti", cwd=tmp_path)
    assert result.returncode == 2 and "KITTI export needs synthetic images with 3D labels" in result.stderr
    result = _synthgen("export", "format=voc", "task=pose", "in=ds", "out=x", cwd=tmp_path)
    assert result.returncode == 2 and "export.voc.task: unknown key" in result.stderr
    result = _synthgen("mix", "synthetic=[ds]", "real=[voc]", "out=mixed", "unmatched=merge", "test_fraction=0.34",
                       cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    counts = json.loads((tmp_path / "mixed" / "mix_manifest.json").read_text())["counts"]
    assert counts["test"] == {"synthetic": 0, "real": 1} and counts["train"] == {"synthetic": 3, "real": 2}
    result = _synthgen("preview", "in=ds", "out=preview", "n=3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "preview" / "gallery.png").is_file() and (tmp_path / "preview" / "index.html").is_file()
