"""Cycles backend cost: synthgen's per-sample wall time against a bare ``bpy`` render of the same scene.

Usage:
    python scripts/bench_cycles.py [scene=tabletop_fruits] [n=3] [width=320] [height=240]
                                   [samples=16,64] [device=cpu] [denoise=true]

For each sample count, n scenes of the config are drawn; each is rendered by
``CyclesRenderer.render`` (everything synthgen does per sample: the raster label pass,
updating the persistent Blender scene, the path trace, reading the EXR passes, the sRGB
encoding) and then, the Blender scene left as synthgen set it, by a bare
``bpy.ops.render.render(write_still=True)`` (what a hand-written bpy script pays per frame).
Prints per-sample times, images/s and synthgen's overhead over bare bpy; the first sample
(Cycles' kernel and BVH set-up) is timed apart. Samples 2..n: n=3 and n=30 give the
per-image cost of a run 10x longer (it should not grow).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402

from scripts.script_args import options_and_overrides  # noqa: E402
from synthgen.core import RENDER_STREAM, sample_rng, stream_seed  # noqa: E402
from synthgen.paths import conf_dir  # noqa: E402
from synthgen.registry import instantiate  # noqa: E402


def main(argv: list[str]) -> None:
    options, _ = options_and_overrides(argv, {"scene": "tabletop_fruits", "n": "3", "width": "320", "height": "240",
                                              "samples": "16,64", "device": "cpu", "denoise": "true"},
                                       overrides=False)
    from synthgen.render.cycles_backend import CyclesRenderer

    width, height, n = int(options["width"]), int(options["height"]), int(options["n"])
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("generate", overrides=[f"scene={options['scene']}"])
    sampler = instantiate(cfg.scene, "scene", cfg.allowed_target_prefixes)
    specs = [dataclasses.replace(sampler.sample(sample_rng(0, i), width, height),
                                 render_seed=stream_seed(0, i, RENDER_STREAM)) for i in range(n)]
    print(f"scene={options['scene']} {width}x{height}, n={n}, device={options['device']}, "
          f"denoise={options['denoise']}")
    print(f"{'samples':>8}{'first (s)':>11}{'synthgen (s)':>14}{'bare bpy (s)':>14}{'overhead':>10}{'images/s':>10}")
    for samples in map(int, options["samples"].split(",")):
        renderer = CyclesRenderer(width, height, samples=samples, denoise=options["denoise"] == "true",
                                  device=options["device"])
        full, bare, first = [], [], 0.0
        for position, spec in enumerate(specs):
            start = time.perf_counter()
            renderer.render(spec)
            elapsed = time.perf_counter() - start
            bare_elapsed = renderer.render_scene_as_is()
            if position == 0:
                first = elapsed
                continue
            full.append(elapsed)
            bare.append(bare_elapsed)
        synthgen_s, bare_s = float(np.mean(full)), float(np.mean(bare))
        print(f"{samples:>8}{first:>11.2f}{synthgen_s:>14.2f}{bare_s:>14.2f}{synthgen_s / bare_s - 1:>10.1%}"
              f"{1 / synthgen_s:>10.2f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
