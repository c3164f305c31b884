"""Benchmark: end-to-end `generate` against the raw render loop, on the same scenes.

Usage:
    python scripts/bench_generate.py [n=100] [any generate override ...]

Defaults: 640x480, 8 objects per image, the default tabletop scene. In one process it
measures (a) the raw render loop: RGB + depth + SEG passes only, nothing derived or
written, on the exact scenes generate will draw; (b) `generate` with every label,
check, file and the COCO export. The raw loop runs before and after (b) and their
mean is the reference. Prints images/s of both, per-stage milliseconds and peak RSS;
the last line is `end_to_end_vs_raw_render = X.XX`.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir

from synthgen.paths import conf_dir
from synthgen.pipeline import generate
from synthgen.registry import instantiate
from synthgen.rng import sample_rng

DEFAULTS = ["n=100", "render.width=640", "render.height=480", "scene.placement.count=[8,8]"]


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name="generate", overrides=overrides)


def _raw_loop(renderer, specs) -> float:
    start = time.perf_counter()
    for spec in specs:
        renderer.render(spec, amodal=False)
    return time.perf_counter() - start


def main(argv: list[str]) -> None:
    keys = {arg.split("=", 1)[0] for arg in argv}
    overrides = [d for d in DEFAULTS if d.split("=", 1)[0] not in keys] + argv
    with tempfile.TemporaryDirectory() as tmp:
        cfg = _compose([*overrides, f"out={Path(tmp) / 'ds'}", "progress=false"])
        sampler = instantiate(cfg.scene, "scene")
        renderer = instantiate(cfg.render, "render")
        sample_start = time.perf_counter()
        specs = [sampler.sample(sample_rng(cfg.seed, i), renderer.width, renderer.height) for i in range(cfg.n)]
        sample_ms = 1000 * (time.perf_counter() - sample_start) / cfg.n
        objects = sum(len(s.instances) for s in specs) / cfg.n
        _raw_loop(renderer, specs[:5])  # warm-up: context, shaders, geometry upload

        raw_before = _raw_loop(renderer, specs)
        start = time.perf_counter()
        summary = generate(cfg)
        end_to_end = time.perf_counter() - start
        raw_after = _raw_loop(renderer, specs)

    raw = (raw_before + raw_after) / 2
    n = cfg.n
    print(f"scene={cfg.scene._target_.rsplit('.', 1)[-1]} {renderer.width}x{renderer.height} n={n} "
          f"objects/image={objects:.1f}")
    print(f"raw render loop (RGB+depth+SEG): {n / raw:.1f} images/s "
          f"(before {n / raw_before:.1f}, after {n / raw_after:.1f})")
    print(f"end-to-end generate:             {n / end_to_end:.1f} images/s "
          f"({summary.images} images, {summary.instances} instances, {summary.quarantined} quarantined)")
    print(f"scene sampling: {sample_ms:.2f} ms/image ({100 * sample_ms / (1000 * end_to_end / n):.1f}% of end-to-end)")
    stages = ", ".join(f"{k} {v:.1f}" for k, v in summary.stage_ms.items())
    print(f"per-stage ms/image (labels and writing overlap rendering on {cfg.threads} threads): {stages}")
    print(f"render loop {summary.seconds:.2f} s, export+manifest {end_to_end - summary.seconds:.2f} s")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"end_to_end_vs_raw_render = {raw / end_to_end:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
