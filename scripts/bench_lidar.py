"""Benchmark: LiDAR sweeps of the road scene against bare Embree ray casting, and the cost of a
LiDAR added to camera generation.

Usage:
    python scripts/bench_lidar.py [scenes=5] [repeats=3] [n=20] [width=640] [height=480]
        [out=docs/benchmarks/lidar.md]

In one process:

1. For 32x1024, 64x2048 and 128x2048 spinning patterns on ``scenes`` road scenes (each the
   scene ``generate scene=road`` draws), the best of ``repeats`` timings of
   - a full sweep (``lidar_sweep``: rays, exact hits, sensor model, per-point labels, deskew,
     3D boxes with point counts and amodal visibility),
   - the exact hits alone (``cast_lidar`` without amodal visibility), and
   - bare Embree: the same rays from the same origin against the scene's triangles in one
     Embree scene, first hits only (``embreex`` directly; no labels);
   reported as rays/s, sweeps/s and the overhead ratios hits / bare and full / bare. 128x2048 casts 8x the rays
   of 32x1024: the per-ray ratio shows the cost does not grow with the sweep.
2. ``synthgen generate scene=road`` of ``n`` images at width x height without and with
   ``lidar=hdl64`` (workers=1): images/s and their ratio.

Prints the tables and writes them, stamped with date, commit and machine, to ``out``.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from script_args import options_and_overrides  # noqa: E402
from stamp import stamp  # noqa: E402

import synthgen  # noqa: E402
from synthgen.core import sample_rng  # noqa: E402
from synthgen.core.lidar import LidarSensor  # noqa: E402
from synthgen.pipeline.lidar_sweep import lidar_sweep  # noqa: E402
from synthgen.registry import instantiate  # noqa: E402
from synthgen.render.lidar_raycast import cast_lidar  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SIZES = ((32, 1024), (64, 2048), (128, 2048))


def _scenes(count: int) -> list:
    config = synthgen.compose("generate", ["scene=road"])
    sampler = instantiate(config.scene, "scene", [])
    return [sampler.sample(sample_rng(0, index), 640, 480) for index in range(count)]


def _bare_embree(spec, sensor: LidarSensor) -> float:
    """Seconds of one Embree first-hit query of the sweep's rays (scene build included)."""
    from embreex import rtcore_scene
    from embreex.mesh_construction import TriangleMesh

    rays = sensor.pattern.rays()
    lidar_to_world = np.linalg.inv(spec.camera.world_to_camera) @ sensor.lidar_to_camera(spec.camera.world_to_camera)
    start = time.perf_counter()
    vertices, faces, offset = [], [], 0
    for obj in spec.objects:
        vertices.append(obj.world_vertices())
        faces.append(obj.mesh.faces + offset)
        offset += len(obj.mesh.vertices)
    scene = rtcore_scene.EmbreeScene()
    TriangleMesh(scene=scene, vertices=np.concatenate(vertices).astype(np.float32),
                 indices=np.concatenate(faces).astype(np.int32))
    directions = (rays.directions @ lidar_to_world[:3, :3].T).astype(np.float32)
    origins = np.broadcast_to(lidar_to_world[:3, 3], directions.shape).astype(np.float32)
    scene.run(origins, directions, output=1)
    return time.perf_counter() - start


def _exact_hits(spec, sensor: LidarSensor):
    """The exact first hits alone (``cast_lidar`` without amodal visibility, sensor model or labels)."""
    lidar_to_world = np.linalg.inv(spec.camera.world_to_camera) @ sensor.lidar_to_camera(spec.camera.world_to_camera)
    return cast_lidar(spec.objects, sensor.pattern.rays(), lidar_to_world, {}, sensor.max_range_m, amodal=False)


def _best(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def sweep_rows(scenes: int, repeats: int) -> list[list[object]]:
    rows, per_ray = [], {}
    for rings, columns in SIZES:
        sensor = LidarSensor(None, elevations_deg=[-24.9, 2.0], beams=rings, columns=columns, max_range_m=120.0)
        specs = [dataclasses.replace(spec, lidar=sensor) for spec in _scenes(scenes)]
        full = sum(_best(lambda s=s: lidar_sweep(s, None, 0, np.random.default_rng(0)), repeats) for s in specs) / scenes
        hits = sum(_best(lambda s=s: _exact_hits(s, s.lidar), repeats) for s in specs) / scenes
        bare = sum(min(_bare_embree(s, sensor) for _ in range(repeats)) for s in specs) / scenes
        count = rings * columns
        per_ray[(rings, columns)] = full / count
        rows.append([f"{rings}x{columns}", f"{count:,}", f"{full * 1000:.0f}", f"{1 / full:.1f}", f"{count / full / 1e6:.2f}",
                     f"{hits * 1000:.0f}", f"{bare * 1000:.0f}", f"{count / bare / 1e6:.2f}", f"{hits / bare:.2f}",
                     f"{full / bare:.2f}"])
    ratio = per_ray[SIZES[-1]] / per_ray[SIZES[0]]
    rows.append(["per-ray time of a full sweep, 128x2048 / 32x1024", "8x rays", f"{ratio:.2f}", "", "", "", "", "", "",
                 ""])
    return rows


def generate_rows(n: int, width: int, height: int, extra: list[str]) -> list[list[object]]:
    rows, rates = [], {}
    for label, lidar in (("camera only", "none"), ("camera + lidar=hdl64", "hdl64")):
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            synthgen.generate(out=str(Path(folder) / "run"), n=n, overrides=[
                "scene=road", f"lidar={lidar}", f"render.width={width}", f"render.height={height}", "progress=false",
                "export=[]", *extra])
            rates[lidar] = n / (time.perf_counter() - start)
        rows.append([label, f"{rates[lidar]:.1f}"])
    rows.append(["ratio (with / without)", f"{rates['hdl64'] / rates['none']:.2f}"])
    return rows


def main(argv: list[str]) -> None:
    options, extra = options_and_overrides(argv, {"scenes": "5", "repeats": "3", "n": "20", "width": "640",
                                                  "height": "480", "out": str(ROOT / "docs/benchmarks/lidar.md")})
    sweeps = sweep_rows(int(options["scenes"]), int(options["repeats"]))
    generation = generate_rows(int(options["n"]), int(options["width"]), int(options["height"]), extra)
    header = ["pattern", "rays", "full sweep ms", "sweeps/s", "M rays/s", "exact hits ms", "bare Embree ms",
              "bare M rays/s", "hits / bare", "full / bare"]
    lines = ["# LiDAR sweeps", "", f"*{stamp()}*", "",
             f"Written by `scripts/bench_lidar.py`. Road scenes as `generate scene=road` draws them "
             f"({options['scenes']} scenes, best of {options['repeats']} per scene, mean over scenes). A full sweep "
             "casts the rays, computes each hit point in float64, applies the sensor model, labels every point, "
             "deskews, and computes each labeled object's 3D box, point count and amodal visibility; exact hits "
             "are the first part alone (each ray's hit point, object, incidence and reflectivity); bare "
             "Embree is one first-hit query of the same rays against the same triangles, scene build included.",
             "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in sweeps]
    lines += ["", f"`synthgen generate scene=road` of {options['n']} images at {options['width']}x{options['height']}, "
              "workers=1, without and with a 64x2048 roof LiDAR:", "", "| run | images/s |", "|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in generation]
    text = "\n".join(lines) + "\n"
    Path(options["out"]).write_text(text)
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
