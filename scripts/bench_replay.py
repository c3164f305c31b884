"""Benchmark: the CPU cost of a labeled image outside the renderer, measured by replaying recorded renders.

Usage:
    python scripts/bench_replay.py [scenes=tabletop,tabletop_fruits,tabletop_fruits_photos,road] [small=20] [large=200]
        [record=20] [width=640] [height=480] [threads=2] [cores=<this machine's>] [data=../shared/data]
        [out=docs/benchmarks/replay.md] [overrides...]

For each scene, in one process: ``generate``'s own components are built (Hydra config, scene
sampler, pyrender renderer, label deriver, augmenter, writer, exporters); ``record`` renders
(``RenderOutput`` arrays: image, depth, ids, amodal masks) are recorded once, timing the raw
render loop; then ``small`` and ``large`` (10x) samples are replayed through everything but
the renderer, so the numbers do not depend on llvmpipe or on a GPU:

- **sample**: drawing and randomizing sample i's scene (``FrameSource.scene``), as generate does;
- **labels**, **checks**, **augment**, **encode+write**: on the recorded render ``i % record``
  (``LabelDeriver``, ``check_sample``, the augmenter, ``DatasetWriter.add``);
- **export**: the run's exports at the end (``export=[coco]`` by default), per image;

each as CPU milliseconds per labeled image on one thread (``time.thread_time``; export:
process time). Then the same replay with the label/augment/write stages on a pool of
``threads`` threads while scenes are drawn on the calling one (generate's layout): wall
milliseconds per image. The ratio large/small of the single-thread total shows whether the
cost grows with n. "render" is the raw render loop's wall milliseconds per image on this
machine (llvmpipe here: a GPU renders in a few); "CPU share" is the CPU total over the CPU
total plus that render time.

Projection for a machine of ``cores`` cores (default: this one's) with one GPU: worker
processes share the CPU work (the stages above plus the render calls' own CPU on the calling
thread: pyrender's scene traversal and the driver's calls), so the CPU allows
``cores * 1000 / (CPU ms + render CPU ms)`` images/s; the renders of every worker queue on
the one GPU, so rendering allows ``1000 / render ms``; the projected rate is the smaller,
and names which one binds. It assumes the per-image CPU cost scales across processes (one
renderer and thread pool per worker, no shared lock) and counts a render's whole wall time,
upload and read-back included, as GPU time (pessimistic: part of it is the CPU above). On a
CPU-only machine "render" is llvmpipe's, which itself needs the cores.

Prints the table and writes it, stamped with date, commit and machine, to ``out``.
"""

from __future__ import annotations

import collections
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from script_args import options_and_overrides  # noqa: E402
from stamp import write_table  # noqa: E402

import synthgen  # noqa: E402
from synthgen.core import AUGMENT_STREAM, stream_seed  # noqa: E402
from synthgen.io.files import write_json_atomic  # noqa: E402
from synthgen.io.manifest import MANIFEST, build_manifest  # noqa: E402
from synthgen.io.store import prepare_store  # noqa: E402
from synthgen.labels.checks import check_sample  # noqa: E402
from synthgen.pipeline.generation import GenerateSettings  # noqa: E402
from synthgen.pipeline.render_loop import build_components  # noqa: E402
from synthgen.registry import build_settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
NEEDS = {"tabletop_fruits_photos": ["scene.randomize.skins.texture_dataset={data}/fruits_nuts"]}  # the real photos
STAGES = ("sample", "labels", "checks", "augment", "encode+write", "export")


def _components(scene: str, out: Path, options: dict, extra: list[str]):
    config = synthgen.compose("generate", [f"scene={scene}", f"out={out}", f"render.width={options['width']}",
                                           f"render.height={options['height']}", "progress=false",
                                           *(need.format(data=options["data"]) for need in NEEDS.get(scene, [])),
                                           *extra])
    settings = build_settings(GenerateSettings, config, "generate")
    return settings, build_components(settings)


def _record(parts, count: int) -> tuple[list, float, float]:
    """``count`` (spec, render) pairs; the raw render loop's wall seconds per render, and the
    calling thread's CPU seconds per render (pyrender's scene traversal, the driver's calls)."""
    recorded, seconds, cpu = [], 0.0, 0.0
    for index in range(count):
        spec, _ = parts.frames.scene(index)
        start, start_cpu = time.perf_counter(), time.thread_time()
        render = parts.renderer.render(spec, amodal=True)
        seconds += time.perf_counter() - start
        cpu += time.thread_time() - start_cpu
        recorded.append((spec, render))
    return recorded, seconds / count, cpu / count


def _finish(index: int, recorded: list, parts, writer, seed: int, seconds: collections.Counter) -> None:
    """Labels, checks, augmentation and writing of sample ``index`` on a recorded render."""
    spec, render = recorded[index % len(recorded)]
    start = time.thread_time()
    sample = parts.deriver(render, spec, index)
    labeled = time.thread_time()
    problems = list(spec.problems) + check_sample(sample)
    checked = time.thread_time()
    if parts.augmenter is not None:
        sample = parts.augmenter(sample, stream_seed(seed, index, AUGMENT_STREAM))
        problems = list(spec.problems) + check_sample(sample)
    augmented = time.thread_time()
    if problems:
        writer.quarantine(sample, problems)
    else:
        writer.add(sample)
    seconds["labels"] += labeled - start
    seconds["checks"] += checked - labeled
    seconds["augment"] += augmented - checked
    seconds["encode+write"] += time.thread_time() - augmented


def _replay(settings, parts, recorded: list, root: Path, n: int, threads: int) -> tuple[dict, float]:
    """CPU ms per image per stage (one thread), and the wall ms per image with the thread pool."""
    per_stage = {}
    for pool_threads in (0, threads):
        shutil.rmtree(root, ignore_errors=True)
        prepare_store(root, settings.config, resume=False, overwrite=False)
        write_json_atomic(root / MANIFEST, build_manifest(settings.config, parts.categories, None))
        seconds = collections.Counter()
        writer = parts.make_writer(root=root, flow_format="npy")
        start = time.perf_counter()
        with writer, ThreadPoolExecutor(max(pool_threads, 1)) as pool:
            futures = []
            for index in range(n):
                began = time.thread_time()
                parts.frames.scene(index)
                seconds["sample"] += time.thread_time() - began
                if pool_threads:
                    futures.append(pool.submit(_finish, index, recorded, parts, writer, settings.seed, seconds))
                else:
                    _finish(index, recorded, parts, writer, settings.seed, seconds)
            for future in futures:
                future.result()
        wall = time.perf_counter() - start
        if not pool_threads:
            began = time.process_time()
            for exporter in parts.exporters.values():
                exporter(root)
            seconds["export"] += time.process_time() - began
            per_stage = {stage: 1000 * seconds[stage] / n for stage in STAGES}
    return per_stage, 1000 * wall / n


def _projection(cpu_ms: float, render_s: float, cores: int) -> list[str]:
    """CPU cap, render cap and projected images/s (with the bound) of one GPU and ``cores`` cores,
    from the CPU ms per image (render calls' own included) and the render's wall seconds."""
    cpu_cap, render_cap = cores * 1000 / cpu_ms, 1 / render_s
    bound = "render" if render_cap <= cpu_cap else "CPU"
    return [f"{cpu_cap:.0f}", f"{render_cap:.0f}", f"{min(cpu_cap, render_cap):.0f} ({bound})"]


def main(argv: list[str]) -> None:
    options, extra = options_and_overrides(argv, {
        "scenes": "tabletop,tabletop_fruits,tabletop_fruits_photos,road", "small": "20", "large": "200",
        "record": "20", "width": "640", "height": "480", "threads": "2", "cores": str(os.cpu_count()),
        "data": str(SHARED), "out": str(ROOT / "docs/benchmarks/replay.md")})
    cores = int(options["cores"])
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for scene in options["scenes"].split(","):
            settings, parts = _components(scene, Path(folder) / "unused", options, extra)
            recorded, render_s, render_cpu_s = _record(parts, int(options["record"]))
            totals = {}
            for n in (int(options["small"]), int(options["large"])):
                stages, pool_ms = _replay(settings, parts, recorded, Path(folder) / scene, n, int(options["threads"]))
                totals[n] = sum(stages.values())
                share = totals[n] / (totals[n] + 1000 * render_s)
                rows.append([scene, n, *(f"{stages[s]:.1f}" for s in STAGES), f"{totals[n]:.1f}", f"{pool_ms:.1f}",
                             f"{1000 * render_s:.1f}", f"{1000 * render_cpu_s:.1f}", f"{share:.2f}",
                             *_projection(totals[n] + 1000 * render_cpu_s, render_s, cores)])
            ratio = totals[int(options["large"])] / totals[int(options["small"])]
            rows.append([scene, "large / small", "", "", "", "", "", "", f"{ratio:.2f}", "", "", "", "", "", "", ""])
            print(rows[-3], rows[-2], rows[-1], sep="\n", flush=True)
    header = ["scene", "n", *(f"{s} ms" for s in STAGES), "CPU ms / image", f"pool wall ms ({options['threads']} threads)",
              "render ms (raw loop)", "render CPU ms (calling thread)", "CPU share", f"CPU cap, images/s ({cores} cores)",
              "render cap, images/s",
              "projected images/s"]
    intro = (f"Written by `scripts/bench_replay.py` at {options['width']}x{options['height']}: {options['record']} renders "
             "recorded once per scene, then replayed through everything but the renderer. Stage columns are CPU "
             "milliseconds per labeled image on one thread; the pool column is wall milliseconds per image with "
             "labels, checks, augmentation and writing on the thread pool and scene drawing on the calling thread, as "
             "generate runs them; render is the raw render loop on this machine (llvmpipe: a GPU renders in a few "
             "milliseconds); CPU share = CPU total / (CPU total + render). Projection for "
             f"{cores} cores and one GPU: CPU cap = cores x 1000 / (CPU ms + render CPU ms), render cap = 1000 / render "
             "ms, projected = the smaller (which one binds in brackets); on a CPU-only machine the render is "
             "llvmpipe's, so the projection only means something with a GPU.")
    print(write_table(options["out"], "CPU cost per labeled image outside the renderer (replay)", intro, header, rows))


if __name__ == "__main__":
    main(sys.argv[1:])
