"""Asset sets: a category drawn from a folder of mesh files, one file per instance.

Layouts read (``layout: auto`` recognises them in this order):

* ``bop``: a BOP ``models/`` folder (``obj_000001.ply``, ... and ``models_info.json``),
  in millimetres (YCB-V, T-LESS, LM-O, ...); ``ids`` picks objects by BOP id.
* ``gso``: Google Scanned Objects, ``NAME/meshes/model.obj`` with its texture in
  ``NAME/materials/textures/texture.png``; ``ids`` picks by NAME.
* ``shapenet``: ``.../MODEL_ID/models/model_normalized.obj``, y up; ``ids`` picks by MODEL_ID.
* ``plain``: every mesh file under the folder; ``ids`` picks by file stem.

Files are listed when the config is built and read on first use through the process's
``MeshCache`` (LRU under ``cache_mb``), so a set of thousands of meshes costs one read
per file actually drawn, and memory stays under the budget.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthgen.core import MeshGeometry
from synthgen.core.errors import ConfigError, InputError
from synthgen.core.validation import check_choice, check_number, check_range_pair
from synthgen.scene.assets import Asset, AssetDraw
from synthgen.scene.mesh_loading import MESH_SUFFIXES, LoadedMesh, MeshCache, resolve_mesh_path, shared_mesh_cache

__all__ = ["ASSET_LAYOUTS", "AssetFolder", "AssetSource", "find_assets"]

ASSET_LAYOUTS = ("auto", "bop", "gso", "shapenet", "plain")
_DEFAULT_SCALE = {"bop": 0.001}
_DEFAULT_UP = {"shapenet": "y"}


@dataclass(frozen=True)
class AssetSource:
    """One mesh of a set: its file, name and (GSO) texture found beside it."""

    path: Path
    name: str
    fallback_texture: Path | None = None


def _detect_layout(root: Path) -> str:
    if (root / "models_info.json").is_file() or (root / "models" / "models_info.json").is_file():
        return "bop"
    if any(root.glob("*/meshes/model.obj")):
        return "gso"
    if any(root.glob("**/models/model_normalized.obj")):
        return "shapenet"
    return "plain"


def _bop_sources(root: Path) -> list[AssetSource]:
    models = root if (root / "models_info.json").is_file() else root / "models"
    info_path = models / "models_info.json"
    try:
        info = json.loads(info_path.read_text())
        ids = sorted(int(key) for key in info)
    except (OSError, ValueError, TypeError) as error:
        raise InputError(f"BOP models_info.json {str(info_path)!r} could not be read: {error}; "
                         "it must map object ids to their size information") from error
    sources = []
    for obj_id in ids:
        path = models / f"obj_{obj_id:06d}.ply"
        if not path.is_file():
            raise InputError(f"BOP model {str(path)!r} listed in {str(info_path)!r} is missing")
        sources.append(AssetSource(path, str(obj_id)))
    return sources


def _gso_sources(root: Path) -> list[AssetSource]:
    sources = []
    for mesh in sorted(root.glob("*/meshes/model.obj")):
        texture = mesh.parent.parent / "materials" / "textures" / "texture.png"
        sources.append(AssetSource(mesh, mesh.parent.parent.name, texture if texture.is_file() else None))
    return sources


def _shapenet_sources(root: Path) -> list[AssetSource]:
    return [AssetSource(p, p.parent.parent.name) for p in sorted(root.glob("**/models/model_normalized.obj"))]


def _plain_sources(root: Path) -> list[AssetSource]:
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in MESH_SUFFIXES and p.is_file())
    return [AssetSource(p, p.stem) for p in files]


_READERS = {"bop": _bop_sources, "gso": _gso_sources, "shapenet": _shapenet_sources, "plain": _plain_sources}


def find_assets(path: str | Path, layout: str = "auto") -> tuple[str, list[AssetSource]]:
    """The layout of an asset folder and its meshes, sorted (a stable order for drawing).

    Raises:
        ConfigError: The folder does not exist or holds no meshes of the layout.
        InputError: A BOP folder's models_info.json is unreadable or names missing files.
    """
    check_choice("layout", layout, ASSET_LAYOUTS)
    root = resolve_mesh_path(path)
    if not root.is_dir():
        raise ConfigError(f"path: asset folder {str(path)!r} does not exist; give a folder of mesh files")
    layout = _detect_layout(root) if layout == "auto" else layout
    sources = _READERS[layout](root)
    if not sources:
        raise ConfigError(f"path: asset folder {str(path)!r} holds no meshes in the {layout!r} layout "
                          f"({', '.join(MESH_SUFFIXES)}); check the folder or set layout")
    return layout, sources


class AssetFolder(Asset):
    """A category's geometry and surface drawn from a folder of meshes, one per instance.

    Args:
        path: The folder (see the module docstring for layouts).
        layout: ``auto``, ``bop``, ``gso``, ``shapenet`` or ``plain``.
        ids: Only these meshes (BOP object ids, GSO names, ShapeNet model ids, file
            stems), or null for all.
        size: [min, max] metres: each instance's longest side is drawn from this range
            (size normalisation), or null to keep the files' units times ``scale``.
        scale: File units to metres (default: 0.001 for BOP's millimetres, else 1).
        up_axis: ``z`` or ``y`` (default: y for ShapeNet, else z).
        smooth: Shade with vertex normals.
        max_texture_size: Textures are downscaled to at most this many pixels per edge.
        cache_mb: Memory budget of the process's mesh cache, MiB (shared by every set).
        check_files: Read every file when the config is built (a malformed file is then
            reported before rendering starts, at the cost of reading them all).
    """

    def __init__(
        self,
        path: str,
        layout: str = "auto",
        ids: Sequence[str | int] | None = None,
        size: Sequence[float] | None = None,
        scale: float | None = None,
        up_axis: str | None = None,
        smooth: bool = True,
        max_texture_size: int = 2048,
        cache_mb: float = 1024.0,
        check_files: bool = False,
    ):
        self.layout, sources = find_assets(path, layout)
        if ids is not None:
            wanted = [str(i) for i in ids]
            known = {s.name for s in sources}
            missing = [i for i in wanted if i not in known]
            if missing:
                raise ConfigError(f"ids: {missing} not in {str(path)!r}; it holds {sorted(known)[:20]}")
            sources = [s for s in sources if s.name in wanted]
        self.sources = tuple(sources)
        self.size = None if size is None else check_range_pair("size", size, minimum=1e-4)
        self.scale = check_number("scale", _DEFAULT_SCALE.get(self.layout, 1.0) if scale is None else scale,
                                  minimum=0, exclusive_minimum=True)
        self.up_axis = check_choice("up_axis", up_axis or _DEFAULT_UP.get(self.layout, "z"), ["z", "y"])
        self.smooth = bool(smooth)
        self.max_texture_size = check_number("max_texture_size", max_texture_size, minimum=8, maximum=16384, integer=True)
        cache = shared_mesh_cache()
        cache.budget_bytes = int(check_number("cache_mb", cache_mb, minimum=1) * 2**20)
        self.cache: MeshCache = cache
        first = self.load(0)
        if check_files:
            for index in range(1, len(self.sources)):
                self.load(index)
        super().__init__(first.geometry)

    def __len__(self) -> int:
        return len(self.sources)

    def load(self, index: int) -> LoadedMesh:
        """Mesh ``index`` of the set, from the cache (read on first use)."""
        source = self.sources[index]
        return self.cache.get(source.path, smooth=self.smooth, scale=self.scale, up_axis=self.up_axis,
                               max_texture_size=int(self.max_texture_size), fallback_texture=source.fallback_texture)

    def draw(self, rng: np.random.Generator) -> AssetDraw:
        """One mesh of the set (uniformly), its materials, and the scale its drawn size needs."""
        loaded = self.load(int(rng.integers(len(self.sources))))
        scale = 1.0
        if self.size is not None:
            scale = rng.uniform(*self.size) / _longest_side(loaded.geometry)
        return AssetDraw(loaded.geometry, self.keypoints, materials=loaded.materials, scale=scale)


def _longest_side(geometry: MeshGeometry) -> float:
    low, high = geometry.bounds
    return float(max(np.max(high - low), 1e-9))
