"""Benchmark: end-to-end `generate` against the raw render loop, on the same scenes.

Usage:
    python scripts/bench_generate.py [n=100] [scene=NAME] [any generate override ...]
    python scripts/bench_generate.py scenes=tabletop,tabletop_fruits,chessboard,figures,road [n=50]
        [page=docs/benchmarks/generate.md]     # also write the table as a stamped docs page
    python scripts/bench_generate.py scene=bin_picking n=50     # physics: settling time and its share

Defaults: 640x480, the default tabletop scene with 8 objects per image. In one process
it measures (a) the raw render loop: RGB + depth + SEG passes only, nothing derived or
written, on the exact scenes generate will draw; (b) `generate` with every label,
check, file and the COCO export. The raw loop runs before and after (b) and their
mean is the reference. Prints images/s of both, per-stage milliseconds, the share of
time spent in randomization (scene randomizers, plus 2D augmentation when configured)
and peak RSS; the last line is `end_to_end_vs_raw_render = X.XX`. With ``scenes=``
it runs each scene in turn and ends with a table of images/s per scene.

    python scripts/bench_generate.py sequence.frames=24 [n=4] [motion=...] [...]
    python scripts/bench_generate.py generator=paste [n=50] [generator.dataset=DIR] [...]

With ``sequence.frames=F > 1`` it measures sequences against still images instead, in
one process on the same settings: ``n * F`` still images, ``n`` clips of F frames with
tracks only (``sequence.flow=false``), and the same clips with forward/backward flow and
occlusion masks; the still run is repeated at the end and averaged. Prints frames/s of
each and ends with ``sequence_vs_still = X.XX`` (frames/s of full sequences over stills).

With ``generator=paste`` (copy-paste alone, nothing rendered) it runs ``generate`` at n and
10 n (default n=50; dataset ``../shared/data/fruits_nuts`` unless ``generator.dataset=`` is
given), after a warm-up run, and prints images/s of both, the stages, the cut-out counts and
``paste_images_per_second = X.X`` (the larger run) and the ratio of the two rates.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir

from synthgen.commands.generate import generate
from synthgen.core import sample_rng
from synthgen.paths import conf_dir
from synthgen.registry import instantiate

sys.path.insert(0, str(Path(__file__).parent))
from stamp import write_table  # noqa: E402

DEFAULTS = ["n=100", "render.width=640", "render.height=480"]
TABLETOP_DEFAULTS = ["scene.placement.count=[8,8]"]
TABLETOP_SCENES = ("tabletop", "tabletop_textured")


def _texture_keys(spec) -> list[str]:
    """Keys of every texture a scene uses (procedural ones are new per sample; files' are shared)."""
    keys = []
    for obj in spec.objects:
        surfaces = [obj.texture] + [t for m in obj.materials for t in (m.base_color_texture, m.normal_texture,
                                                                        m.metallic_roughness_texture, m.emissive_texture)]
        keys += [t.key for t in surfaces if t is not None]
    return keys


class _TimedSettling:
    """Wraps a placement's physics simulation and adds up its wall seconds and drops."""

    def __init__(self, simulate):
        self.simulate = simulate
        self.seconds = 0.0
        self.drops = 0

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        result = self.simulate(*args, **kwargs)
        self.seconds += time.perf_counter() - start
        self.drops += 1
        return result


class _Timed:
    """Wraps a scene randomizer and adds up the seconds spent in it."""

    def __init__(self, randomizer):
        self.randomizer = randomizer
        self.seconds = 0.0

    def __call__(self, spec, rng):
        start = time.perf_counter()
        spec = self.randomizer(spec, rng)
        self.seconds += time.perf_counter() - start
        return spec


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name="generate", overrides=overrides)


def _raw_loop(renderer, specs) -> float:
    start = time.perf_counter()
    for spec in specs:
        renderer.render(spec, amodal=False)
    return time.perf_counter() - start


def bench(argv: list[str]) -> dict:
    """Run one benchmark; print its report and return its headline numbers."""
    keys = {arg.split("=", 1)[0] for arg in argv}
    scene = next((arg.split("=", 1)[1] for arg in argv if arg.startswith("scene=")), "tabletop")
    defaults = DEFAULTS + (TABLETOP_DEFAULTS if scene in TABLETOP_SCENES else [])
    overrides = [d for d in defaults if d.split("=", 1)[0] not in keys] + argv
    with tempfile.TemporaryDirectory() as tmp:
        cfg = _compose([*overrides, f"out={Path(tmp) / 'ds'}", "progress=false"])
        sampler = instantiate(cfg.scene, "scene")
        renderer = instantiate(cfg.render, "render")
        timed = {name: _Timed(randomizer) for name, randomizer in sampler.randomize.items()}
        sampler.randomize = timed
        placement = getattr(sampler, "placement", None)
        settling = None
        if placement is not None and placement.rest == "physics":
            settling = _TimedSettling(placement.physics.simulate)
            placement.physics.simulate = settling
        sample_start = time.perf_counter()
        specs = [sampler.sample(sample_rng(cfg.seed, i), renderer.width, renderer.height) for i in range(cfg.n)]
        sample_ms = 1000 * (time.perf_counter() - sample_start) / cfg.n
        randomize_ms = 1000 * sum(t.seconds for t in timed.values()) / cfg.n
        objects = sum(len(s.instances) for s in specs) / cfg.n
        texture_uses = [key for spec in specs for key in _texture_keys(spec)]
        file_textures = {key for spec in specs for obj in spec.objects for m in obj.materials
                         for key in [t.key for t in (m.base_color_texture,) if t is not None]}
        _raw_loop(renderer, specs[:5])  # warm-up: context, shaders, geometry upload

        raw_before = _raw_loop(renderer, specs)
        start = time.perf_counter()
        summary = generate(cfg)
        end_to_end = time.perf_counter() - start
        raw_after = _raw_loop(renderer, specs)

    raw = (raw_before + raw_after) / 2
    n = cfg.n
    per_image_ms = 1000 * end_to_end / n
    # Randomizers run inside scene sampling on the main thread (in series with rendering);
    # augmentation runs on the label threads, so its CPU time is an upper bound on its cost.
    augment_ms = summary.stage_ms.get("augment (cpu)", 0.0)
    randomization_share = (randomize_ms + augment_ms) / per_image_ms
    print(f"scene={scene} ({cfg.scene._target_.rsplit('.', 1)[-1]}) {renderer.width}x{renderer.height} n={n} "
          f"objects/image={objects:.1f}")
    print(f"raw render loop (RGB+depth+SEG): {n / raw:.1f} images/s "
          f"(before {n / raw_before:.1f}, after {n / raw_after:.1f})")
    print(f"end-to-end generate:             {n / end_to_end:.1f} images/s "
          f"({summary.images} images, {summary.instances} instances, {summary.quarantined} quarantined)")
    print(f"scene sampling: {sample_ms:.2f} ms/image ({100 * sample_ms / per_image_ms:.1f}% of end-to-end), "
          f"of which randomizers {randomize_ms:.2f} ms: "
          + ", ".join(f"{name} {1000 * t.seconds / n:.2f}" for name, t in timed.items()))
    if settling is not None:
        physics_ms = 1000 * settling.seconds / n
        print(f"physics settling: {physics_ms:.1f} ms/image ({settling.drops / n:.2f} drops/image; "
              f"{100 * physics_ms / sample_ms:.0f}% of scene sampling, {100 * physics_ms / per_image_ms:.0f}% of "
              f"end-to-end time per image, drawn one scene ahead on its own thread, overlapping the render)")
    print(f"randomization share of end-to-end time: {100 * randomization_share:.1f}% "
          f"(randomizers {randomize_ms:.1f} ms + augmentation {augment_ms:.1f} ms of {per_image_ms:.1f} ms/image)")
    stages = ", ".join(f"{k} {v:.1f}" for k, v in summary.stage_ms.items())
    print(f"per-stage ms/image (labels and writing overlap rendering on {cfg.threads} threads): {stages}")
    print(f"render loop {summary.seconds:.2f} s, export+manifest {end_to_end - summary.seconds:.2f} s")
    print(f"textures: {len(texture_uses)} uses in {n} images, {len(set(texture_uses))} distinct; the mesh files' "
          f"{len(file_textures)} textures are uploaded once and reused (procedural ones are new per image)")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"end_to_end_vs_raw_render = {raw / end_to_end:.2f}")
    return {"scene": scene, "raw": n / raw, "end_to_end": n / end_to_end, "ratio": raw / end_to_end,
            "randomization_share": randomization_share}


def _frames_per_second(overrides: list[str]) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = _compose([*overrides, f"out={Path(tmp) / 'ds'}", "progress=false"])
        start = time.perf_counter()
        summary = generate(cfg)
        return summary.images / (time.perf_counter() - start), summary.stage_ms


def bench_sequence(argv: list[str]) -> float:
    """Frames/s of clips (tracks, and tracks + flow) against still images; returns the ratio."""
    frames = int(next(arg.split("=", 1)[1] for arg in argv if arg.startswith("sequence.frames=")))
    clips = int(next((arg.split("=", 1)[1] for arg in argv if arg.startswith("n=")), "4"))
    keys = {arg.split("=", 1)[0] for arg in argv}
    scene = next((arg.split("=", 1)[1] for arg in argv if arg.startswith("scene=")), "tabletop")
    defaults = [d for d in DEFAULTS + (TABLETOP_DEFAULTS if scene == "tabletop" else [])
                if d.split("=", 1)[0] not in keys | {"n"}]
    rest = [arg for arg in argv if not arg.startswith(("sequence.frames=", "n="))]
    base = [*defaults, *rest]
    _frames_per_second([*base, "n=3"])  # warm-up: imports, GL context, shaders
    still_before, _ = _frames_per_second([*base, f"n={clips * frames}"])
    tracks_only, _ = _frames_per_second([*base, f"n={clips}", f"sequence.frames={frames}", "sequence.flow=false"])
    with_flow, stage_ms = _frames_per_second([*base, f"n={clips}", f"sequence.frames={frames}"])
    still_after, _ = _frames_per_second([*base, f"n={clips * frames}"])
    still = (still_before + still_after) / 2
    print(f"{clips} clips x {frames} frames vs {clips * frames} still images ({' '.join(base)})")
    print(f"still images:          {still:.1f} frames/s (before {still_before:.1f}, after {still_after:.1f})")
    print(f"clips, tracks only:    {tracks_only:.1f} frames/s ({tracks_only / still:.2f}x stills)")
    print(f"clips, tracks + flow:  {with_flow:.1f} frames/s ({with_flow / still:.2f}x stills; "
          f"flow + tracks cost {100 * (still / with_flow - 1):+.0f}% time per frame)")
    print("per-stage ms/frame with flow: " + ", ".join(f"{k} {v:.1f}" for k, v in stage_ms.items()))
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"sequence_vs_still = {with_flow / still:.2f}")
    return with_flow / still


def bench_paste(argv: list[str]) -> float:
    """Images/s of copy-paste generation at n and 10 n; returns the rate of the larger run."""
    n = int(next((arg.split("=", 1)[1] for arg in argv if arg.startswith("n=")), "50"))
    keys = {arg.split("=", 1)[0] for arg in argv}
    dataset = Path(__file__).resolve().parents[2] / "shared" / "data" / "fruits_nuts"
    base = [d for d in DEFAULTS if d.split("=", 1)[0] not in keys | {"n"}]
    base += [] if "generator.dataset" in keys else [f"generator.dataset={dataset}"]
    base += [arg for arg in argv if not arg.startswith("n=")]
    _frames_per_second([*base, "n=5"])  # warm-up: imports, cut-outs, caches of this process
    rates = {}
    for count in (n, 10 * n):
        rates[count], stage_ms = _frames_per_second([*base, f"n={count}"])
        print(f"n={count}: {rates[count]:.1f} images/s; per-stage ms/image: "
              + ", ".join(f"{k} {v:.1f}" for k, v in stage_ms.items()))
    print(f"{' '.join(base)}")
    print(f"rate at 10 n / rate at n = {rates[10 * n] / rates[n]:.2f} (1: cost per image does not grow with n)")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"paste_images_per_second = {rates[10 * n]:.1f}")
    return rates[10 * n]


def main(argv: list[str]) -> None:
    if "generator=paste" in argv and "generator.render_objects=true" not in argv:
        bench_paste(argv)
        return
    if any(arg.startswith("sequence.frames=") and int(arg.split("=", 1)[1]) > 1 for arg in argv):
        bench_sequence(argv)
        return
    scenes = next((arg.split("=", 1)[1] for arg in argv if arg.startswith("scenes=")), None)
    if scenes is None:
        bench(argv)
        return
    page = next((arg.split("=", 1)[1] for arg in argv if arg.startswith("page=")), None)
    rest = [arg for arg in argv if not arg.startswith(("scenes=", "page="))]
    rows = []
    for scene in scenes.split(","):
        rows.append(bench([*rest, f"scene={scene}"]))
        print()
    print(f"{'scene':<16} {'raw img/s':>10} {'e2e img/s':>10} {'e2e/raw':>8} {'randomization':>14}")
    for row in rows:
        print(f"{row['scene']:<16} {row['raw']:>10.1f} {row['end_to_end']:>10.1f} {row['ratio']:>8.2f} "
              f"{100 * row['randomization_share']:>13.1f}%")
    if page:  # a stamped docs/benchmarks page
        write_table(page, "Generate against the raw render loop",
                    f"`python scripts/bench_generate.py scenes={scenes} {' '.join(rest)}`: per scene, the raw render "
                    "loop (RGB + depth + SEG passes of the scenes generate draws, nothing derived or written) and "
                    "`generate` with every label, check, file and the COCO export, in one process; randomization "
                    "share: time in scene randomizers (and 2D augmentation) over end-to-end time.",
                    ["scene", "raw render loop, images/s", "end-to-end, images/s", "end_to_end_vs_raw_render",
                     "randomization share"],
                    [[f"`{row['scene']}`", f"{row['raw']:.1f}", f"{row['end_to_end']:.1f}", f"{row['ratio']:.2f}",
                      f"{100 * row['randomization_share']:.1f}%"] for row in rows])


if __name__ == "__main__":
    main(sys.argv[1:])
