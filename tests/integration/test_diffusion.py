"""Diffusion generators end to end with tiny random pipelines loaded from disk like a user's model."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from synthgen.commands.generate import generate
from synthgen.core.errors import ConfigError, InputError
from synthgen.diffusion.prompts import PromptTemplate, describe_objects
from synthgen.io.store import iter_records, read_sample
from synthgen.labels.agreement import agreement_scores
from synthgen.paths import conf_dir

ROOT = Path(__file__).resolve().parents[2]
RUN = ("render.width=64", "render.height=48", "progress=false", "scene.placement.count=[3,4]", "n=4")


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name="generate", overrides=list(overrides))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """Tiny pipelines written by the user-facing script, offline."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    folder = tmp_path_factory.mktemp("tiny")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_tiny_pipelines.py"), str(folder)], check=True,
                   capture_output=True, cwd=ROOT)
    return folder


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("plain") / "ds"
    generate(_compose(*RUN, f"out={out}"))
    return out


def _instances(root: Path, folder: str = "labels") -> list:
    return [r["instances"] for r in iter_records(root, folder)]


def test_inpaint_background_keeps_every_object_pixel_and_label(tiny, plain, tmp_path):
    out = tmp_path / "inpainted"
    summary = generate(_compose(*RUN, f"out={out}", "generator=inpaint_background",
                                f"generator.model={tiny / 'sd-inpaint'}", "generator.steps=2", "generator.batch_size=2"))
    assert summary.images == 4 and summary.quarantined == 0
    assert _instances(out) == _instances(plain)  # the same labels, record for record
    for index in range(4):
        render, generated = read_sample(plain, index), read_sample(out, index)
        objects = render.instance_ids > 0
        assert objects.any() and np.array_equal(generated.image[objects], render.image[objects])
        background = np.abs(generated.image.astype(int) - render.image.astype(int))[~objects]
        assert background.mean() > 10  # the background was really redrawn
        generation = generated.generation
        assert generation["generator"] == "InpaintBackground" and generation["model"] == str(tiny / "sd-inpaint")
        assert any(i.category.replace("_", " ") in generation["prompt"] for i in generated.instances)
        assert generation["steps"] == 2 and "agreement" not in generation


def test_same_config_and_seed_give_the_same_bytes(tiny, tmp_path):
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        generate(_compose(*RUN, "n=2", f"out={out}", "generator=inpaint_background",
                          f"generator.model={tiny / 'sd-inpaint'}", "generator.steps=2"))
        runs.append({str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()})
    assert runs[0] == runs[1]
    different = tmp_path / "seed"
    generate(_compose(*RUN, "n=2", "seed=1", f"out={different}", "generator=inpaint_background",
                      f"generator.model={tiny / 'sd-inpaint'}", "generator.steps=2"))
    assert (different / "images" / "000000.png").read_bytes() != runs[0]["images/000000.png"]


def test_controlnet_and_img2img_record_agreement_and_quarantine_below_the_threshold(tiny, tmp_path):
    controlnet = ("generator=controlnet", f"generator.model={tiny / 'sd'}", "generator.steps=2",
                  f"generator.controlnets.segmentation={tiny / 'controlnet-segmentation'}",
                  f"generator.controlnets.depth={tiny / 'controlnet-depth'}", "generator.batch_size=2")
    img2img = ("generator=img2img", f"generator.model={tiny / 'sd'}", "generator.steps=4", "generator.strength=0.5")
    for name, overrides in (("controlnet", controlnet), ("img2img", img2img)):
        # Random weights draw noise: nothing of the layout survives, so every sample is quarantined.
        strict = generate(_compose(*RUN, f"out={tmp_path / name}", *overrides))
        assert strict.quarantined == 4 and strict.images == 0
        for record in iter_records(tmp_path / name, "quarantine"):
            agreement = record["generation"]["agreement"]
            assert agreement["score"] < 0.5 and set(agreement["relative"]) == {"edges", "colour"}
            assert any("label agreement" in problem for problem in record["problems"])
        coco = json.loads((tmp_path / name / "annotations" / "instances.json").read_text())
        assert coco["images"] == []
        kept = generate(_compose(*RUN, f"out={tmp_path / (name + '_all')}", *overrides, "generator.min_agreement=0"))
        assert kept.quarantined == 0 and kept.images == 4
        record = next(iter_records(tmp_path / (name + "_all")))
        assert record["generation"]["agreement"]["render"]["edges"] > 0.3  # the render's own evidence
    assert record["generation"]["strength"] == 0.5


def test_a_user_segmenter_joins_the_agreement_score(tiny, tmp_path):
    out = tmp_path / "segmented"
    generate(_compose(*RUN, "n=1", f"out={out}", "generator=img2img", f"generator.model={tiny / 'sd'}",
                      "generator.steps=4", "generator.min_agreement=0", "allowed_target_prefixes=[tests.]",
                      "+generator.segmenter._target_=tests.integration.test_diffusion.BrightObjects"))
    agreement = next(iter_records(out))["generation"]["agreement"]
    assert set(agreement["image"]) == {"edges", "colour", "segmenter"}
    assert 0 <= agreement["image"]["segmenter"] <= 1


class BrightObjects:
    """A stand-in user model: foreground where a pixel is brighter than the image median."""

    def __call__(self, image: np.ndarray) -> np.ndarray:
        grey = image.mean(axis=2)
        return grey > np.median(grey)


def test_agreement_scores_rank_aligned_above_shifted_above_noise(plain):
    sample = read_sample(plain, 0)
    noise = np.random.default_rng(0).integers(0, 256, sample.image.shape).astype(np.uint8)
    shifted = np.roll(sample.image, 12, axis=1)
    aligned = agreement_scores(sample.image, sample)
    assert aligned["score"] == 1.0 and aligned["render"]["edges"] > 0.3
    assert agreement_scores(shifted, sample)["score"] < 0.8
    assert agreement_scores(noise, sample)["score"] < 0.2
    perfect = agreement_scores(sample.image, sample, lambda image: sample.semantic_mask())
    blind = agreement_scores(sample.image, sample, lambda image: np.zeros(image.shape[:2], dtype=int))
    assert perfect["image"]["segmenter"] == 1.0 and blind["image"]["segmenter"] == 0.0


def test_prompts_describe_the_scene_and_randomize_the_rest(plain):
    sample = read_sample(plain, 0)
    words = describe_objects(sample)
    assert all(i.category.replace("_", " ") in words for i in sample.instances)
    template = PromptTemplate("{objects} on {surface} under {lighting}", choices={"surface": ["grass", "sand", "snow"]})
    prompts = {template(sample, np.random.default_rng(seed)) for seed in range(20)}
    assert len(prompts) > 3 and all(p.startswith(words) for p in prompts)
    assert template(sample, np.random.default_rng(5)) == template(sample, np.random.default_rng(5))
    with pytest.raises(ConfigError, match=r"prompt.template: field \{weather\} has no choices"):
        PromptTemplate("{objects} in {weather}")


def test_bad_models_and_settings_fail_before_anything_is_written(tiny, tmp_path, monkeypatch):
    out = tmp_path / "never"
    cases = [
        (InputError, "generator.model=/no/such/model: cannot load", ("generator=img2img", "generator.model=/no/such/model")),
        (InputError, "its UNet takes 9 input channels, img2img needs 4",
         ("generator=img2img", f"generator.model={tiny / 'sd-inpaint'}")),
        (InputError, "not a diffusers model folder", ("generator=inpaint_background",
                                                      f"generator.model={tiny / 'controlnet-depth'}")),
        (ConfigError, "generator.model: required", ("generator=inpaint_background",)),
        (ConfigError, "generator.controlnets: set at least one", ("generator=controlnet", f"generator.model={tiny / 'sd'}")),
        (ConfigError, "render.width=60", ("generator=img2img", f"generator.model={tiny / 'sd'}", "render.width=60")),
        (ConfigError, "steps=2 x strength=0.3", ("generator=img2img", f"generator.model={tiny / 'sd'}", "generator.steps=2")),
        (ConfigError, "generator: diffusion and paste are not supported with sequence", ("generator=img2img",
                                                                             f"generator.model={tiny / 'sd'}",
                                                                             "sequence.frames=3")),
        (ConfigError, "generator.dtype=float16: half precision needs a CUDA device",
         ("generator=img2img", f"generator.model={tiny / 'sd'}", "generator.dtype=float16", "generator.device=cpu")),
    ]
    for error, message, overrides in cases:
        with pytest.raises(error, match=message.replace("(", r"\(").replace("[", r"\[")):
            generate(_compose(*RUN, f"out={out}", *overrides))
        assert not out.exists()
    monkeypatch.setitem(sys.modules, "diffusers", None)  # as if the extra were not installed
    with pytest.raises(ConfigError, match=r"needs the diffusion extra: pip install -e '\.\[diffusion\]'"):
        generate(_compose(*RUN, f"out={out}", "generator=img2img", f"generator.model={tiny / 'sd'}"))
    assert not out.exists()
