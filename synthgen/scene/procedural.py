"""Procedural organic shapes (fruit, nuts, pebbles) defined by a few numbers in config.

A shape is a deformed sphere: scaled to an ellipsoid, narrowed towards one end
(``taper``), curved (``bend``), with smooth lumps (``bumps``) and fine folds
(``wrinkles``), and an optional stem at the narrow end. ``variants`` different shapes
are built once at construction from ``seed`` (so they are part of the config, not of
a sample's randomness); each instance draws one of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import trimesh

from synthgen.core import MeshGeometry
from synthgen.core.validation import check_number, check_vector
from synthgen.scene.assets import Asset, AssetDraw

__all__ = ["ProceduralShape"]


def _smooth_field(rng: np.random.Generator, points: np.ndarray, frequency: float, waves: int = 12) -> np.ndarray:
    """(N,) float64 smooth random field on unit-sphere points, roughly in [-1, 1]."""
    directions = rng.normal(size=(waves, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    phases = rng.uniform(0.0, 2.0 * np.pi, size=waves)
    field = np.sin(frequency * points @ directions.T + phases).sum(axis=1)
    return field / np.sqrt(waves / 2.0)


def _shape_vertices(rng, unit: np.ndarray, size, taper, bend, bumps, wrinkles) -> np.ndarray:
    radial = 1.0 + bumps * _smooth_field(rng, unit, 2.5) + wrinkles * _smooth_field(rng, unit, 11.0, waves=24)
    points = unit * radial[:, None]
    along = np.clip((points[:, 0] + 1.0) / 2.0, 0.0, 1.0)  # 0 at the -x end, 1 at the +x end
    points[:, 1:] *= (1.0 - taper * along**1.5)[:, None]
    points *= np.asarray(size) / 2.0
    points[:, 1] += bend * size[0] * (points[:, 0] / size[0]) ** 2 * 2.0
    return points


class ProceduralShape(Asset):
    """An organic shape from a few parameters, in ``variants`` random versions.

    The long axis is x; the shape is centred on the origin.

    Args:
        size: [x, y, z] overall extent in metres before deformation.
        taper: 0..0.95, how much the +x end narrows (0 ellipsoid, 0.6 a fig or a pear).
        bend: 0..1, curvature of the long axis towards +y (a banana is about 0.3).
        bumps: 0..0.3, amplitude of smooth lumps (relative radius).
        wrinkles: 0..0.2, amplitude of fine folds (a dried date is about 0.06).
        stem: [length, radius] of a stem at the +x end in metres, or null.
        variants: Number of different shapes to build (instances draw one).
        seed: Seed of the variants' shapes.
        subdivisions: Icosphere subdivisions (3: 642 vertices; 4: 2562).
    """

    def __init__(
        self,
        size: Sequence[float],
        taper: float = 0.0,
        bend: float = 0.0,
        bumps: float = 0.05,
        wrinkles: float = 0.0,
        stem: Sequence[float] | None = None,
        variants: int = 8,
        seed: int = 0,
        subdivisions: int = 3,
    ):
        self.size = check_vector("size", size, 3, minimum=1e-4)
        self.taper = check_number("taper", taper, minimum=0.0, maximum=0.95)
        self.bend = check_number("bend", bend, minimum=0.0, maximum=1.0)
        self.bumps = check_number("bumps", bumps, minimum=0.0, maximum=0.3)
        self.wrinkles = check_number("wrinkles", wrinkles, minimum=0.0, maximum=0.2)
        self.stem = None if stem is None else check_vector("stem", stem, 2, minimum=1e-4)
        count = check_number("variants", variants, minimum=1, maximum=256, integer=True)
        check_number("seed", seed, minimum=0, integer=True)
        check_number("subdivisions", subdivisions, minimum=1, maximum=5, integer=True)
        sphere = trimesh.creation.icosphere(subdivisions=subdivisions)
        rng = np.random.default_rng(seed)
        signature = f"procedural:{self.size}:{taper}:{bend}:{bumps}:{wrinkles}:{self.stem}:{seed}:{subdivisions}"
        self.variants = tuple(
            self._variant(rng, sphere, f"{signature}:{i}") for i in range(count)
        )
        super().__init__(self.variants[0])

    def _variant(self, rng: np.random.Generator, sphere: trimesh.Trimesh, key: str) -> MeshGeometry:
        vertices = _shape_vertices(rng, sphere.vertices, self.size, self.taper, self.bend, self.bumps, self.wrinkles)
        mesh = trimesh.Trimesh(vertices, sphere.faces, process=False)
        if self.stem is not None:
            length, radius = self.stem
            tip = vertices[np.argmax(vertices[:, 0])]
            stem = trimesh.creation.cylinder(radius=radius, height=length, sections=8)
            stem.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2 + rng.uniform(-0.4, 0.4), [0, 1, 0]))
            stem.apply_translation(tip + np.array([length / 2 - radius, 0.0, 0.0]))
            mesh = trimesh.util.concatenate([mesh, stem])
        return MeshGeometry(mesh.vertices, mesh.faces, smooth=True, key=key)

    def draw(self, rng: np.random.Generator) -> AssetDraw:
        """One of the variants, chosen uniformly."""
        return AssetDraw(self.variants[int(rng.integers(len(self.variants)))], self.keypoints)
