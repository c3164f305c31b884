"""generate() end to end with real Hydra composition, pyrender and the store."""

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from synthgen.commands.generate import generate
from synthgen.core import sample_rng
from synthgen.core.errors import ConfigError, InputError
from synthgen.io.manifest import read_manifest
from synthgen.io.store import read_sample
from synthgen.registry import instantiate
from tests.conftest import SMALL_RUN


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _run(generate_cfg, out, *overrides):
    return generate(generate_cfg(f"out={out}", *SMALL_RUN, *overrides))


def test_generate_writes_complete_dataset(generate_cfg, tmp_path):
    summary = _run(generate_cfg, tmp_path / "ds", "n=4", "seed=3")
    root = tmp_path / "ds"
    assert summary.images == 4 and summary.quarantined == 0 and summary.rendered == 4
    assert summary.instances == sum(summary.instances_per_category.values()) > 0
    for folder, suffix in (("images", "png"), ("depth", "png"), ("instance_ids", "png"), ("semantic", "png"),
                           ("labels", "json")):
        assert sorted(p.name for p in (root / folder).iterdir()) == [f"{i:06d}.{suffix}" for i in range(4)]
    manifest = read_manifest(root)
    assert manifest["status"] == "complete" and manifest["seed"] == 3
    assert manifest["counts"]["images"] == 4
    assert manifest["config"]["render"]["width"] == 96 and "out" not in manifest["config"]
    assert {"numpy", "pyrender", "trimesh", "hydra-core"} <= set(manifest["versions"])
    assert [c["name"] for c in manifest["categories"]][:3] == ["cube", "ball", "can"]
    assert not list(root.rglob(".*tmp-*"))


def test_store_round_trip_equals_in_memory_sample(generate_cfg, tmp_path):
    cfg = generate_cfg(f"out={tmp_path / 'ds'}", *SMALL_RUN, "n=2", "seed=5", "writer.depth_format=npz")
    generate(cfg)
    sampler = instantiate(cfg.scene, "scene")
    renderer = instantiate(cfg.render, "render")
    deriver = instantiate(cfg.labels, "labels")
    spec = sampler.sample(sample_rng(5, 1), 96, 72)
    expected = deriver(renderer.render(spec), spec, 1)
    stored = read_sample(tmp_path / "ds", 1)
    assert np.array_equal(stored.image, expected.image)
    assert np.array_equal(stored.instance_ids, expected.instance_ids)
    assert np.array_equal(stored.depth, expected.depth)
    assert np.array_equal(stored.camera.K, expected.camera.K)
    assert len(stored.instances) == len(expected.instances) > 0
    for a, b in zip(stored.instances, expected.instances):
        assert np.array_equal(a.mask, b.mask) and np.array_equal(a.amodal_mask, b.amodal_mask)
        for field in ("bbox", "amodal_bbox", "keypoints", "pose"):
            assert np.array_equal(getattr(a, field), getattr(b, field), equal_nan=True), field
        assert np.array_equal(a.cuboid.corners_2d, b.cuboid.corners_2d, equal_nan=True)
        assert (a.area, a.occlusion, a.truncation) == (b.area, b.occlusion, b.truncation)


def test_png16_depth_is_millimetre_accurate(generate_cfg, tmp_path):
    generate(generate_cfg(f"out={tmp_path / 'ds'}", *SMALL_RUN, "n=1"))
    stored = read_sample(tmp_path / "ds", 0)
    cfg = generate_cfg(*SMALL_RUN)
    spec = instantiate(cfg.scene, "scene").sample(sample_rng(0, 0), 96, 72)
    exact = instantiate(cfg.render, "render").render(spec, amodal=False).depth
    assert np.abs(stored.depth - exact).max() <= 0.0005 + 1e-6


def test_same_seed_gives_byte_identical_datasets(generate_cfg, tmp_path):
    _run(generate_cfg, tmp_path / "a", "n=5", "seed=11")
    _run(generate_cfg, tmp_path / "b", "n=5", "seed=11", "threads=1")
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert first.keys() == second.keys() and len(first) > 20
    assert all(first[name] == second[name] for name in first)
    _run(generate_cfg, tmp_path / "c", "n=5", "seed=12")
    assert _files(tmp_path / "c")["images/000000.png"] != first["images/000000.png"]


def test_non_empty_output_is_refused_and_left_untouched(generate_cfg, tmp_path):
    out = tmp_path / "ds"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    with pytest.raises(InputError, match="not empty; pass resume=true .* overwrite=true"):
        _run(generate_cfg, out, "n=1")
    with pytest.raises(InputError, match="refusing to delete a folder that is not a synthgen dataset"):
        _run(generate_cfg, out, "n=1", "overwrite=true")
    assert _files(out) == {"precious.txt": b"keep me"}


def test_overwrite_replaces_a_previous_dataset(generate_cfg, tmp_path):
    _run(generate_cfg, tmp_path / "ds", "n=3")
    summary = _run(generate_cfg, tmp_path / "ds", "n=1", "overwrite=true")
    assert summary.images == 1 and sorted(p.name for p in (tmp_path / "ds" / "labels").iterdir()) == ["000000.json"]


def test_overwrite_leaves_a_dataset_with_foreign_files_alone(generate_cfg, tmp_path):
    _run(generate_cfg, tmp_path / "ds", "n=2")
    (tmp_path / "ds" / "notes.txt").write_text("mine")
    before = _files(tmp_path / "ds")
    with pytest.raises(InputError, match=r"holds files synthgen did not write: \['notes.txt'\]"):
        _run(generate_cfg, tmp_path / "ds", "n=1", "overwrite=true")
    assert _files(tmp_path / "ds") == before


def test_resume_completes_an_interrupted_run_identically(generate_cfg, tmp_path):
    _run(generate_cfg, tmp_path / "clean", "n=5")
    interrupted = tmp_path / "interrupted"
    _run(generate_cfg, interrupted, "n=5")
    # Simulate a crash: samples 2 and 4 lost their commit marker, 4 left a partial image.
    for index in (2, 4):
        (interrupted / "labels" / f"{index:06d}.json").unlink()
    (interrupted / "images" / "000004.png").write_bytes(b"partial")
    summary = _run(generate_cfg, interrupted, "n=5", "resume=true")
    assert (summary.rendered, summary.skipped) == (2, 3)
    assert _files(interrupted) == _files(tmp_path / "clean")


def test_resume_extends_a_run(generate_cfg, tmp_path):
    _run(generate_cfg, tmp_path / "ds", "n=2")
    summary = _run(generate_cfg, tmp_path / "ds", "n=4", "resume=true")
    assert (summary.rendered, summary.images) == (2, 4)


def test_resume_with_a_different_config_is_refused_with_a_diff(generate_cfg, tmp_path):
    _run(generate_cfg, tmp_path / "ds", "n=2")
    with pytest.raises(InputError, match=r"(?s)cannot resume.*render\.width: 96 -> 64\n  seed: 0 -> 1\n"):
        _run(generate_cfg, tmp_path / "ds", "n=2", "resume=true", "seed=1", "render.width=64")


def test_failing_samples_are_quarantined_logged_and_not_exported(generate_cfg, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="synthgen")
    summary = _run(generate_cfg, tmp_path / "ds", "n=3", "allowed_target_prefixes=[tests.]",
                   "labels._target_=tests.helpers.CorruptingDeriver", "+labels.corrupt_indices=[1]")
    root = tmp_path / "ds"
    assert (summary.images, summary.quarantined) == (2, 1)
    record = json.loads((root / "quarantine" / "000001.json").read_text())
    assert any("!= mask extent" in problem for problem in record["problems"])
    assert "sample 1 quarantined" in caplog.text and "!= mask extent" in caplog.text
    assert not (root / "labels" / "000001.json").exists()
    coco = json.loads((root / "annotations" / "instances.json").read_text())
    assert [image["synthgen_index"] for image in coco["images"]] == [0, 2]
    assert read_manifest(root)["counts"]["quarantined"] == 1


def test_foreign_target_in_config_is_refused(generate_cfg, tmp_path):
    with pytest.raises(ConfigError, match=r"labels\._target_: 'os\.system' is not allowed"):
        _run(generate_cfg, tmp_path / "ds", "n=1", "labels._target_=os.system")
    assert not (tmp_path / "ds").exists()


@pytest.mark.parametrize("override, message", [
    ("render.width=-5", r"render\.width: must be an integer >= 16"),
    ("writer.image_format=gif", r"writer\.image_format: must be one of \['png', 'jpg'\], got 'gif'"),
    ("export.coco.segmentation=mask", r"export\.coco\.segmentation: must be one of \['rle', 'polygon'\]"),
    ("scene.camera.elevation_deg=[10,100]", r"scene\.camera\.elevation_deg\[1\]: must be a number >= -90.0 and <= 90.0"),
    ("+scene.lighting.colour=1", r"scene\.lighting\.colour: unknown key; allowed keys: \['ambient'"),
    ("n=0", r"^n: must be an integer >= 1, got 0"),
])
def test_invalid_values_name_the_key(generate_cfg, tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        _run(generate_cfg, tmp_path / "ds", override)
    assert not (tmp_path / "ds").exists()


def test_unreadable_mesh_file_is_named_with_its_config_key(generate_cfg, tmp_path):
    broken = tmp_path / "broken.ply"
    broken.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 99\nend_header\n\x00\x01")
    with pytest.raises(InputError, match=r"scene\.categories\[3\]\.asset: mesh file '.*broken\.ply' could not be read"):
        _run(generate_cfg, tmp_path / "ds", f"scene.categories.3.asset.path={broken}")
    assert not (tmp_path / "ds").exists()


def test_quarantine_record_keeps_the_real_amodal_mask(tmp_path):
    """A failed sample's record shows its masks as they are, even when areas happen to match."""
    from synthgen.io.record import decode_rle
    from synthgen.io.store import DatasetWriter
    from synthgen.labels.checks import check_sample
    from tests.conftest import two_instance_sample

    sample = two_instance_sample()
    instance = sample.instances[1]  # amodal == visible: 12 pixels each
    instance.amodal_mask = np.asfortranarray(np.roll(instance.amodal_mask, 1, axis=1))  # same area, shifted
    instance.amodal_bbox = instance.amodal_bbox + [1, 0, 1, 0]
    problems = check_sample(sample)
    assert any("outside the amodal mask" in p for p in problems)
    with DatasetWriter(tmp_path) as writer:
        record = writer.quarantine(sample, problems)
    stored = record["instances"][1]
    assert np.array_equal(decode_rle(stored["amodal_segmentation"]), instance.amodal_mask)
    assert not np.array_equal(decode_rle(stored["segmentation"]), instance.amodal_mask)
