"""Measure physics piles: contacts, stacking, interpenetration, and occlusion vs footprint placement.

Usage:
    python scripts/measure_physics.py [n=20] [width=320] [height=240]

For ``bin_picking`` and ``tabletop_fruits_bowl`` (``placement.rest: physics``) it draws n
scenes and measures each settled pile on the rendered meshes (``synthgen.physics.pile_checks``):
deepest interpenetration, share of objects touching another, share resting on others or a
wall rather than the floor, pile height; plus drops per scene, quarantined share and
settling time. Then it generates n images of each and of ``tabletop_fruits`` (footprint
placement, ``rest: stable``) and prints the occlusion distribution of the labeled objects.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir

from synthgen.commands.generate import generate
from synthgen.core import sample_rng
from synthgen.io.store import iter_records
from synthgen.paths import conf_dir
from synthgen.physics.pile_checks import pile_report
from synthgen.registry import instantiate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from script_args import options_and_overrides  # noqa: E402

PHYSICS_SCENES = ("bin_picking", "tabletop_fruits_bowl")


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name="generate", overrides=overrides)


def piles(scene: str, n: int) -> None:
    sampler = instantiate(_compose([f"scene={scene}"]).scene, "scene")
    sampler.sample(sample_rng(0, 0), 320, 240)  # decompositions and caches warm
    reports, drops, quarantined, settle_s = [], 0, 0, 0.0
    for index in range(1, n + 1):
        spec = sampler.sample(sample_rng(0, index), 320, 240)
        drop = sampler.last_drop
        drops += drop.drops
        quarantined += bool(spec.problems)
        settle_s += drop.result.wall_s
        reports.append(pile_report(drop.objects, sampler.container.zone.floor_z))
    penetration = np.concatenate([r.penetration for r in reports]) * 1000
    print(f"{scene}: {n} piles, {np.mean([len(r.touching) for r in reports]):.1f} objects each; "
          f"interpenetration max {penetration.max():.2f} mm (99th pct {np.percentile(penetration, 99):.2f} mm); "
          f"touching another {100 * np.mean([r.share_touching for r in reports]):.0f}%, "
          f"resting on others or a wall {100 * np.mean([r.share_stacked for r in reports]):.0f}%, "
          f"pile height {1000 * np.mean([r.pile_height for r in reports]):.0f} mm "
          f"(max {1000 * max(r.pile_height for r in reports):.0f}); {drops / n:.2f} drops/scene, "
          f"{100 * quarantined / n:.0f}% quarantined, settling {1000 * settle_s / n:.0f} ms/scene")


def occlusion(scene: str, n: int, width: int, height: int) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ds"
        start = time.perf_counter()
        generate(_compose([f"scene={scene}", f"n={n}", f"out={out}", f"render.width={width}",
                           f"render.height={height}", "progress=false"]))
        values = np.array([item["occlusion"] for record in iter_records(out) for item in record["instances"]])
        print(f"{scene}: {len(values)} objects in {n} images ({time.perf_counter() - start:.0f} s): occlusion mean "
              f"{values.mean():.3f}, median {np.median(values):.3f}, > 0.3: {100 * np.mean(values > 0.3):.0f}%, "
              f"> 0.6: {100 * np.mean(values > 0.6):.0f}%")
        return values


def main(argv: list[str]) -> None:
    options, _ = options_and_overrides(argv, {"n": "20", "width": "320", "height": "240"}, overrides=False)
    n = int(options["n"])
    for scene in PHYSICS_SCENES:
        piles(scene, n)
    for scene in ("tabletop_fruits", *PHYSICS_SCENES):
        occlusion(scene, n, int(options["width"]), int(options["height"]))


if __name__ == "__main__":
    main(sys.argv[1:])
