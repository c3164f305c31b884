"""Collision shapes and mass properties of meshes for rigid-body simulation.

A physics engine collides convex shapes. A mesh about as full as its convex hull (a
box, a fruit, a can) collides as that hull; a concave one (a mug, a bracket, a bowl)
is split into convex parts by ``coacd`` (approximate convex decomposition), which takes
seconds per mesh: the parts are cached per asset in memory and on disk
(``$SYNTHGEN_CACHE_DIR`` or ``~/.cache/synthgen``, ``convex/<sha1>.npz``, keyed by the
mesh, the threshold and the coacd version), so each asset is decomposed once per machine.
coacd runs with a fixed seed and gives the same parts every time, so a cached and a fresh
decomposition are the same.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from synthgen.core import MeshGeometry
from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_choice, check_number

__all__ = ["BodyMaterial", "COLLISION_METHODS", "MassProperties", "cache_dir", "convex_parts", "import_coacd",
           "mass_properties"]

COLLISION_METHODS = ("auto", "hull", "decompose")
# auto: a mesh filling at least this share of its hull collides as the hull (a bumpy fruit
# fills ~85%, a hex nut 75%, an L-bracket 46%).
HULL_FILL = 0.8
_COACD_SEED = 0
try:
    COACD_VERSION = importlib.metadata.version("coacd")
except importlib.metadata.PackageNotFoundError:
    COACD_VERSION = "absent"


@dataclass(frozen=True)
class BodyMaterial:
    """How a category's objects behave when dropped.

    Attributes:
        friction: Sliding friction coefficient (Coulomb, dimensionless); a contact uses
            the larger of its two bodies' values.
        restitution: Share of the normal speed kept after an impact, 0 (dead) .. 0.5 (a
            lively rubber ball; above 0.5 MuJoCo's barely damped soft contacts gained
            energy and let a ball through the table at 2 ms steps, measured).
        density: kg/m^3, used when ``mass`` is None (water 1000, fruit ~900, wood ~600).
        mass: kg per object regardless of its size, or None (from ``density``).
        collision: ``auto`` (the convex hull when the mesh fills >= 80% of it or is
            made for one sample, else a convex decomposition), ``hull`` or ``decompose``.
        decomposition_threshold: coacd's concavity threshold (0.01 .. 1; smaller: more,
            tighter parts).
    """

    friction: float = 0.6
    restitution: float = 0.1
    density: float = 600.0
    mass: float | None = None
    collision: str = "auto"
    decomposition_threshold: float = 0.05

    @classmethod
    def from_config(cls, config, name: str = "physics") -> BodyMaterial:
        """Build from a config mapping (keys as the attributes), checked with the key named."""
        config = dict(config or {})
        unknown = sorted(set(config) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"{name}: unknown key(s) {unknown}; use {sorted(cls.__dataclass_fields__)}")
        material = cls(**config)
        check_number(f"{name}.friction", material.friction, minimum=0.0, maximum=5.0)
        check_number(f"{name}.restitution", material.restitution, minimum=0.0, maximum=0.5)
        check_number(f"{name}.density", material.density, minimum=1.0, maximum=30000.0)
        if material.mass is not None:
            check_number(f"{name}.mass", material.mass, minimum=1e-5, maximum=1000.0)
        check_choice(f"{name}.collision", material.collision, COLLISION_METHODS)
        check_number(f"{name}.decomposition_threshold", material.decomposition_threshold, minimum=0.01, maximum=1.0)
        return material


@dataclass(frozen=True)
class MassProperties:
    """Mass, centre of mass and inertia of a body (object frame, scaled mesh).

    Attributes:
        mass: kg.
        center: (3,) float64 centre of mass, metres, object frame.
        inertia: (3, 3) float64 inertia tensor about ``center``, kg m^2, object frame axes.
    """

    mass: float
    center: np.ndarray
    inertia: np.ndarray


def cache_dir() -> Path:
    """Folder of synthgen's per-machine caches (``$SYNTHGEN_CACHE_DIR`` or ``~/.cache/synthgen``)."""
    override = os.environ.get("SYNTHGEN_CACHE_DIR")
    return Path(override).expanduser() if override else Path.home() / ".cache" / "synthgen"


def _solid(geometry: MeshGeometry) -> trimesh.Trimesh:
    return trimesh.Trimesh(geometry.vertices, geometry.faces, process=True)


def _fills_hull(mesh: trimesh.Trimesh) -> bool:
    hull_volume = mesh.convex_hull.volume
    return bool(mesh.is_volume and hull_volume > 0 and mesh.volume / hull_volume >= HULL_FILL)


def import_coacd():
    """The ``coacd`` module, or a ConfigError naming the extra that installs it."""
    try:
        import coacd
    except ImportError as error:
        raise ConfigError("placement.rest: physics needs coacd (convex decomposition); install the physics "
                          "extra: pip install 'synthgen[physics]'") from error
    coacd.set_log_level("error")
    return coacd


def _decompose(mesh: trimesh.Trimesh, threshold: float) -> list[np.ndarray]:
    coacd = import_coacd()
    parts = coacd.run_coacd(coacd.Mesh(mesh.vertices, mesh.faces), threshold=threshold, seed=_COACD_SEED)
    kept = []
    for vertices, _ in parts:
        vertices = np.asarray(vertices, dtype=np.float64)
        # Flat slivers have no volume: an engine cannot collide them.
        if len(vertices) >= 4 and trimesh.convex.convex_hull(vertices).volume > 1e-12:
            kept.append(vertices)
    return kept or [mesh.convex_hull.vertices.copy()]


def _read_cached(path: Path) -> list[np.ndarray] | None:
    try:
        with np.load(path) as stored:
            return [stored[f"part_{i}"] for i in range(int(stored["count"]))]
    except (OSError, KeyError, ValueError):
        return None  # absent or cut short: decompose again


def _write_cached(path: Path, parts: list[np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: another process reading the cache sees all of it or nothing.
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    with os.fdopen(handle, "wb") as file:
        np.savez(file, count=len(parts), **{f"part_{i}": part for i, part in enumerate(parts)})
    os.replace(temporary, path)


@functools.lru_cache(maxsize=256)
def _parts_of(geometry: MeshGeometry, method: str, threshold: float) -> tuple[np.ndarray, ...]:
    mesh = _solid(geometry)
    # Geometry made for one sample (a posed figure) would be decomposed every time: its hull.
    if method == "hull" or (method == "auto" and (_fills_hull(mesh) or not geometry.cacheable)):
        return (mesh.convex_hull.vertices.copy(),)
    name = hashlib.sha1(f"{geometry.key}|coacd {COACD_VERSION}|{threshold!r}|{_COACD_SEED}".encode()).hexdigest()
    path = cache_dir() / "convex" / f"{name}.npz"
    parts = _read_cached(path)
    if parts is None:
        parts = _decompose(mesh, threshold)
        _write_cached(path, parts)
    return tuple(parts)


def convex_parts(geometry: MeshGeometry, method: str = "auto", threshold: float = 0.05) -> tuple[np.ndarray, ...]:
    """Convex parts that stand in for a mesh in collisions.

    Args:
        geometry: The mesh (object frame, unscaled).
        method: ``auto``, ``hull`` or ``decompose`` (see ``BodyMaterial.collision``).
        threshold: coacd's concavity threshold.

    Returns:
        (P_i, 3) float64 vertex arrays in the object frame, one per convex part (each
        part is the convex hull of its vertices). Treat them as read-only: they are cached.
    """
    check_choice("collision", method, COLLISION_METHODS)
    return _parts_of(geometry, method, float(threshold))


@functools.lru_cache(maxsize=1024)
def _unit_mass_properties(geometry: MeshGeometry) -> tuple[float, np.ndarray, np.ndarray]:
    """Volume (m^3), centre of mass and inertia at density 1 of the unscaled solid."""
    mesh = _solid(geometry)
    solid = mesh if mesh.is_volume else mesh.convex_hull
    return float(solid.volume), np.asarray(solid.center_mass, dtype=np.float64), \
        np.asarray(solid.moment_inertia, dtype=np.float64) / float(solid.density)


def mass_properties(geometry: MeshGeometry, scale: float, material: BodyMaterial) -> MassProperties:
    """Mass, centre of mass and inertia of a uniformly dense object (its mesh, or its hull when
    the mesh does not enclose a volume), scaled by ``scale``: volume grows as scale^3, the
    inertia of a given mass as scale^2 (the unscaled solid is analysed once per mesh)."""
    volume, center, inertia = _unit_mass_properties(geometry)
    mass = material.density * volume * scale**3 if material.mass is None else material.mass
    # Inertia at density 1 over volume is inertia per kg of the unscaled solid.
    return MassProperties(float(mass), center * scale, inertia / volume * mass * scale**2)
