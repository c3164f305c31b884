"""What every diffusion generator shares: settings, model loading, seeds, batching, verification.

A generator takes a batch of labeled samples (renders) and returns them with a new
image and ``generation`` provenance; labels are the scene's. Subclasses (one per file)
say which pipeline they load and what they pass it. Generators whose output may move
object boundaries (ControlNet, img2img) verify the labels on every image and report
the samples under ``min_agreement`` for quarantine.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping

import numpy as np

from synthgen.core import DIFFUSION_STREAM, Sample
from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_number
from synthgen.diffusion.models import load_pipeline
from synthgen.diffusion.prompts import PromptTemplate
from synthgen.labels.agreement import agreement_scores

__all__ = ["DiffusionGenerator"]

_SIZE_MULTIPLE = 8  # the VAE downsamples by 8


class DiffusionGenerator:
    """Base of the generators (``conf/generator/``).

    Args:
        model: Local diffusers folder or hub id.
        prompt: ``PromptTemplate`` settings (``template``, ``choices``, ``negative``).
        steps: Denoising steps.
        guidance_scale: Classifier-free guidance scale (1 turns it off).
        device: auto (cuda when present) | cpu | cuda[:N].
        dtype: float32 | float16 (CUDA) | bfloat16.
        batch_size: Samples per pipeline call.
        download: Allow hub downloads (offline by default; HF_HUB_OFFLINE wins).
        min_agreement: Samples whose label-agreement score (relative to the render, 0..1)
            falls below this are quarantined; 0 keeps all.
        segmenter: Optional ``image -> (H, W) category ids or bool foreground`` model for
            the agreement score (a config node with ``_target_``).
    """

    kind = ""  # inpaint | img2img | controlnet
    verifies_labels = True  # False where labels are exact by construction
    needs_render = True  # diffusion starts from the render
    stage = "diffusion"  # its seconds in the run's per-stage timings
    stream = DIFFUSION_STREAM  # the per-sample random stream it draws from (prompts, noise)

    def __init__(self, model: str, prompt: Mapping | None = None, steps: int = 25, guidance_scale: float = 7.5,
                 device: str = "auto", dtype: str = "float32", batch_size: int = 1, download: bool = False,
                 min_agreement: float = 0.5, segmenter=None):
        if not isinstance(model, str) or model in ("", "???"):
            raise ConfigError("model: required: a local diffusers folder or a hub id, e.g. generator.model=DIR "
                              "(scripts/make_tiny_pipelines.py DIR writes tiny random ones)")
        self.model = model
        self.prompt = prompt if isinstance(prompt, PromptTemplate) else PromptTemplate(**dict(prompt or {}))
        self.steps = check_number("steps", steps, minimum=1, maximum=1000, integer=True)
        self.guidance_scale = check_number("guidance_scale", guidance_scale, minimum=0.0, maximum=100.0)
        self.device, self.dtype = device, dtype
        self.batch_size = check_number("batch_size", batch_size, minimum=1, maximum=256, integer=True)
        self.download = bool(download)
        self.min_agreement = check_number("min_agreement", min_agreement, minimum=0.0, maximum=1.0)
        if segmenter is not None and not callable(segmenter):
            raise ConfigError("segmenter: must build a callable image -> label map")
        self.segmenter = segmenter
        self.pipeline = None
        self._lock = threading.Lock()  # one pipeline call at a time (label threads share it)
        self._calls = threading.local()
        self.pipeline_seconds = 0.0
        self.total_seconds = 0.0

    # -- set-up -----------------------------------------------------------------------------
    def check_size(self, width: int, height: int) -> None:
        """Raises ConfigError unless the render size suits the VAE."""
        for key, value in (("render.width", width), ("render.height", height)):
            if value % _SIZE_MULTIPLE:
                raise ConfigError(f"{key}={value}: diffusion generators need multiples of {_SIZE_MULTIPLE}; "
                                  f"use {value - value % _SIZE_MULTIPLE} or {value + _SIZE_MULTIPLE - value % _SIZE_MULTIPLE}")

    def _pipeline_options(self) -> dict:
        return {}

    def load(self) -> None:
        """Load the pipeline (before anything is written: a bad model fails early)."""
        if self.pipeline is None:
            self.pipeline = load_pipeline(self.kind, self.model, device=self.device, dtype=self.dtype,
                                          download=self.download, **self._pipeline_options())

    # -- per batch --------------------------------------------------------------------------
    def _inputs(self, samples: list[Sample]) -> dict:  # pragma: no cover - abstract
        """Pipeline keyword arguments (besides prompts, seeds and steps) for a batch."""
        raise NotImplementedError

    def _settings(self) -> dict:
        """Settings recorded in each sample's ``generation``."""
        return {"steps": self.steps, "guidance_scale": self.guidance_scale}

    def _finish_image(self, generated: np.ndarray, sample: Sample) -> np.ndarray:
        return generated

    def pipeline_arguments(self, samples: list[Sample], seeds: list[int]) -> dict:
        """The keyword arguments of the pipeline call for a batch (prompts, noise generators, inputs)."""
        import torch

        self.load()
        prompts = [self.prompt(sample, np.random.default_rng(seed)) for sample, seed in zip(samples, seeds)]
        device = self.pipeline.device
        return {"prompt": prompts, "negative_prompt": [self.prompt.negative] * len(samples),
                "num_inference_steps": self.steps, "guidance_scale": self.guidance_scale,
                "generator": [torch.Generator(device=device).manual_seed(int(seed)) for seed in seeds],
                "output_type": "np", **self._inputs(samples)}

    def __call__(self, samples: list[Sample], seeds: list[int]) -> list[Sample]:
        """The samples with generated images and ``generation`` provenance.

        Args:
            samples: Labeled renders (one batch).
            seeds: One seed per sample (its prompt draws and its diffusion noise).
        """
        start = time.perf_counter()
        arguments = self.pipeline_arguments(samples, seeds)
        prompts = arguments["prompt"]
        with self._lock:
            called = time.perf_counter()
            output = self.pipeline(**arguments)
            self._calls.seconds = time.perf_counter() - called
            self.pipeline_seconds += self._calls.seconds
        results = []
        for sample, seed, prompt, pixels in zip(samples, seeds, prompts, output.images):
            generated = np.clip(np.rint(np.asarray(pixels, dtype=np.float64) * 255), 0, 255).astype(np.uint8)
            image = self._finish_image(generated, sample)
            generation = {"generator": type(self).__name__, "model": self.model, "prompt": prompt,
                          "negative_prompt": self.prompt.negative, "seed": int(seed), **self._settings()}
            if self.verifies_labels:
                generation["agreement"] = agreement_scores(image, sample, self.segmenter)
            results.append(dataclasses.replace(sample, image=image, generation=generation))
        self.total_seconds += time.perf_counter() - start
        return results

    def last_call_seconds(self) -> float:
        """Wall seconds of this thread's latest pipeline call (waiting for the lock excluded)."""
        return getattr(self._calls, "seconds", 0.0)

    def problems(self, sample: Sample) -> list[str]:
        """Why a generated sample's labels cannot be trusted (empty: keep it)."""
        agreement = (sample.generation or {}).get("agreement")
        if not self.verifies_labels or agreement is None or agreement["score"] >= self.min_agreement:
            return []
        parts = ", ".join(f"{name} {value:.2f}" for name, value in agreement["relative"].items())
        return [f"label agreement {agreement['score']:.2f} < min_agreement {self.min_agreement} ({parts})"]
