"""Write one labeled preview image per library scene, drawn from a real `generate` run.

Usage:
    python scripts/make_previews.py [OUT_DIR=scenes/previews] [--width 480 --height 360]

For each scene it runs ``generate`` (real Hydra composition, real renders, the same
self-checks) into a temporary folder, reads the first committed sample back from the
store and draws its labels with ``synthgen.draw_sample``: tinted visible masks, boxes,
dashed amodal boxes, keypoints (filled: visible, ring: occluded) with skeletons,
cuboids and polylines. Writes ``OUT_DIR/<scene>.png``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
from hydra import compose, initialize_config_dir

from synthgen.commands.generate import generate
from synthgen.io.store import iter_records, read_sample
from synthgen.paths import conf_dir
from synthgen.visualize import draw_sample

FRUITS = Path(__file__).resolve().parents[2] / "shared" / "data" / "fruits_nuts"
SCENES = {
    # scene: (seed, extra overrides, draw masks, draw cuboids)
    "tabletop": (3, [], True, False),
    "tabletop_fruits": (1, [], True, False),
    "chessboard": (2, ["scene.randomize.distractors.count=[0,1]"], False, False),
    "figures": (4, ["scene.placement.count=[3,3]", "scene.camera.distance=[3,3.5]"], True, False),
    "road": (2, [], False, True),
    "tabletop_textured": (3, [], False, False),
    "tabletop_fruits_photos": (1, [f"scene.randomize.skins.texture_dataset={FRUITS}"], False, False),
    "bin_picking": (1, [], True, False),
    "tabletop_fruits_bowl": (1, [], True, False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(Path(__file__).resolve().parents[1] / "scenes" / "previews"))
    parser.add_argument("--width", type=int, default=480)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--scenes", default=",".join(SCENES), help="comma-separated scenes to draw (default: all)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for scene in args.scenes.split(","):
        seed, extra, masks, cuboids = SCENES[scene]
        with tempfile.TemporaryDirectory() as tmp, initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            cfg = compose(config_name="generate", overrides=[
                f"scene={scene}", f"out={tmp}/ds", "n=1", f"seed={seed}", f"render.width={args.width}",
                f"render.height={args.height}", "progress=false", *extra,
            ])
            summary = generate(cfg)
            (record,) = iter_records(summary.out)
            sample = read_sample(summary.out, record["index"])
        image = draw_sample(sample, masks=masks, cuboids=cuboids)
        path = out / f"{scene}.png"
        cv2.imwrite(str(path), image[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9])
        print(f"{path}: {len(sample.instances)} instances, {len(sample.polylines)} polylines")


if __name__ == "__main__":
    main()
