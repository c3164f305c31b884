"""Benchmark: synthgen's overhead around the bare diffusion pipeline call.

Usage:
    python scripts/bench_diffusion.py [models=DIR] [n=4] [steps=20] [width=128] [height=96] [batch=2]

Without ``models=`` it writes the tiny random pipelines (scripts/make_tiny_pipelines.py) to a
temporary folder; with ``models=DIR`` it uses DIR/sd, DIR/sd-inpaint and DIR/controlnet-*
laid out the same way (real weights work too). For each generator it renders and labels
n samples once, then alternately times (a) the bare pipeline call on prepared arguments
and (b) the generator's full call on the same batch (prompt drawing, conditioning images,
noise generators, pipeline call, compositing, label-agreement scores), three rounds
each, and prints the overhead (b - a) / a and in ms per image. The overhead is a fixed
few milliseconds per image, so its share depends on the pipeline's cost: tiny pipelines
with few steps (``steps=4``: img2img at strength 0.3 runs one step) show the most; real
models take seconds per image and make it negligible.
The last line is ``max_overhead = X.X%``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from hydra import compose, initialize_config_dir  # noqa: E402

from synthgen.core import DIFFUSION_STREAM, stream_seed  # noqa: E402
from synthgen.diffusion.tiny import make_tiny_pipelines  # noqa: E402
from synthgen.paths import conf_dir  # noqa: E402
from synthgen.pipeline.generation import GenerateSettings  # noqa: E402
from synthgen.pipeline.render_loop import build_components  # noqa: E402
from synthgen.registry import build_settings  # noqa: E402


def _arguments(argv: list[str]) -> dict:
    options = {"models": None, "n": "4", "steps": "20", "width": "128", "height": "96", "batch": "2"}
    for arg in argv:
        key, _, value = arg.partition("=")
        if key not in options:
            sys.exit(f"unknown option {key!r}; known: {sorted(options)}")
        options[key] = value
    return options


def _generators(models: Path, steps: int, batch: int) -> dict[str, list[str]]:
    common = [f"generator.steps={steps}", f"generator.batch_size={batch}", "generator.min_agreement=0"]
    return {
        "inpaint_background": ["generator=inpaint_background", f"generator.model={models / 'sd-inpaint'}", *common],
        "img2img": ["generator=img2img", f"generator.model={models / 'sd'}", *common],
        "controlnet": ["generator=controlnet", f"generator.model={models / 'sd'}", *common,
                       f"generator.controlnets.segmentation={models / 'controlnet-segmentation'}",
                       f"generator.controlnets.depth={models / 'controlnet-depth'}"],
    }


def _measure(overrides: list[str], n: int, batch: int) -> tuple[float, float]:
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="generate", overrides=overrides)
    parts = build_components(build_settings(GenerateSettings, cfg, "generate"))
    frames, renderer, deriver, generator = parts.frames, parts.renderer, parts.deriver, parts.generator
    samples = []
    for index in range(n):
        spec, _ = frames.scene(index)
        samples.append(deriver(renderer.render(spec), spec, index))
    batches = [samples[i:i + batch] for i in range(0, n, batch)]
    seeds = [[stream_seed(0, s.index, DIFFUSION_STREAM) for s in chunk] for chunk in batches]
    generator(batches[0], seeds[0])  # warm-up
    bare = full = 0.0
    for _ in range(3):
        for chunk, chunk_seeds in zip(batches, seeds):
            arguments = generator.pipeline_arguments(chunk, chunk_seeds)
            start = time.perf_counter()
            generator.pipeline(**arguments)
            bare += time.perf_counter() - start
            start = time.perf_counter()
            generator(chunk, chunk_seeds)
            full += time.perf_counter() - start
    return bare / (3 * n), full / (3 * n)


def main(argv: list[str]) -> None:
    options = _arguments(argv)
    n, steps, batch = int(options["n"]), int(options["steps"]), int(options["batch"])
    with tempfile.TemporaryDirectory() as tmp:
        models = Path(options["models"]) if options["models"] else make_tiny_pipelines(Path(tmp) / "tiny")
        base = [f"render.width={options['width']}", f"render.height={options['height']}", "out=unused",
                "progress=false"]
        worst = 0.0
        print(f"{'generator':<20} {'bare ms/img':>12} {'synthgen ms/img':>16} {'overhead':>9} {'ms/img':>7}")
        for name, overrides in _generators(models, steps, batch).items():
            bare, full = _measure([*base, *overrides], n, batch)
            overhead = (full - bare) / bare
            worst = max(worst, overhead)
            print(f"{name:<20} {1000 * bare:>12.1f} {1000 * full:>16.1f} {100 * overhead:>8.1f}% "
                  f"{1000 * (full - bare):>7.1f}")
    print(f"models: {options['models'] or 'tiny random pipelines'}; {options['width']}x{options['height']}, "
          f"{steps} steps, batch {batch}, n={n}")
    print(f"max_overhead = {100 * worst:.1f}%")


if __name__ == "__main__":
    main(sys.argv[1:])
