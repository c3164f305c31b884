"""Write the small mesh assets shipped in scenes/assets (one per supported file format).

Usage: python scripts/make_assets.py [OUT_DIR]   (default: scenes/assets)

Each asset is built in code with trimesh, so the files are reproducible and tiny.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import trimesh


def bottle() -> trimesh.Trimesh:
    """A 16 cm bottle: body, shoulder, neck and cap, as a surface of revolution."""
    radius_height = np.array([
        [0.0, 0.0], [0.032, 0.0], [0.034, 0.004], [0.034, 0.095], [0.026, 0.115],
        [0.013, 0.128], [0.013, 0.145], [0.015, 0.146], [0.015, 0.16], [0.0, 0.16],
    ])
    return trimesh.creation.revolve(radius_height, sections=40)


def donut() -> trimesh.Trimesh:
    """A torus lying flat: 4 cm major radius, 1.4 cm tube."""
    return trimesh.creation.torus(major_radius=0.04, minor_radius=0.014, major_sections=40, minor_sections=20)


def pyramid() -> trimesh.Trimesh:
    """A square pyramid, 7 cm base, 6 cm tall, base corners on the axes' diagonals."""
    return trimesh.creation.cone(radius=0.05, height=0.06, sections=4)


def mug() -> trimesh.Trimesh:
    """A mug: an open-looking cylinder body with a torus handle (overlapping parts)."""
    body = trimesh.creation.cylinder(radius=0.04, height=0.095, sections=40)
    body.apply_translation([0, 0, 0.0475])
    handle = trimesh.creation.torus(major_radius=0.025, minor_radius=0.007, major_sections=30, minor_sections=12)
    handle.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    handle.apply_translation([0.045, 0, 0.05])
    return trimesh.util.concatenate([body, handle])


ASSETS = {"bottle.glb": bottle, "donut.ply": donut, "pyramid.stl": pyramid, "mug.obj": mug}


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, build in ASSETS.items():
        mesh = build()
        mesh.export(out_dir / name)
        print(f"{out_dir / name}: {len(mesh.vertices)} vertices, {len(mesh.faces)} faces")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "scenes" / "assets")
