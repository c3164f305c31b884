"""The vertex arrays every backend draws a mesh part with, so all of them shade the same surface.

A part's triangles are re-indexed to the vertices they use; smooth meshes get normals
interpolated across gentle curvature only (``trimesh.graph.smooth_shade``, 30 degrees),
sharp rims split; flat meshes three vertices of their own per face with the face's normal.
Where texture coordinates wrap (an angle in u), triangles across u = 0/1 get their own
copies of the corners below 0.5 at u + 1, so the texture runs on without a seam.
pyrender and Cycles both draw these arrays, so the two see the same normals and
texture coordinates at every pixel; the arrays of recent cacheable meshes are kept (an LRU
of 64 parts), so a Cycles run, which uploads each mesh to both, computes them once.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np
import trimesh

from synthgen.core import Material, MeshGeometry, SceneObject

__all__ = ["ShadingArrays", "object_surfaces", "shading_arrays"]

_SMOOTH_ANGLE = np.deg2rad(30)
_CACHE: collections.OrderedDict[tuple[str, int, bool], ShadingArrays] = collections.OrderedDict()
_CACHE_SIZE = 64


@dataclass(frozen=True)
class ShadingArrays:
    """One mesh part as drawn.

    Attributes:
        positions: (N, 3) float32 object-frame vertex positions, metres.
        normals: (N, 3) float32 unit shading normals, object frame.
        uv: (N, 2) float32 texture coordinates (u right, v up in the image).
        colors: (N, 4) float32 linear RGBA vertex colours, or None.
        indices: (T, 3) uint32 counter-clockwise triangles into the arrays above.
    """

    positions: np.ndarray
    normals: np.ndarray
    uv: np.ndarray
    colors: np.ndarray | None
    indices: np.ndarray


def shading_arrays(geometry: MeshGeometry, part: int, with_colors: bool) -> ShadingArrays:
    """The arrays of part ``part`` of ``geometry`` (vertex colours only when ``with_colors``)."""
    if not geometry.cacheable:
        return _compute(geometry, part, with_colors)
    key = (geometry.key, part, with_colors)
    if key in _CACHE:
        _CACHE.move_to_end(key)
    else:
        _CACHE[key] = _compute(geometry, part, with_colors)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return _CACHE[key]


def _compute(geometry: MeshGeometry, part: int, with_colors: bool) -> ShadingArrays:
    start, stop = geometry.part_offsets[part], geometry.part_offsets[part + 1]
    used, faces = np.unique(geometry.faces[start:stop], return_inverse=True)
    faces = faces.reshape(-1, 3)
    uv = geometry.texture_coordinates()[used]
    colors = geometry.colors[used] if with_colors else None
    # Vertex indices ride along as texture coordinates through smooth_shade's vertex split.
    index_uv = np.column_stack([np.arange(len(used)), np.zeros(len(used))]).astype(np.float64)
    mesh = trimesh.Trimesh(geometry.vertices[used], faces, visual=trimesh.visual.TextureVisuals(uv=index_uv),
                           process=False)
    if geometry.smooth:
        mesh = trimesh.graph.smooth_shade(mesh, angle=_SMOOTH_ANGLE)
        source = np.rint(mesh.visual.uv[:, 0]).astype(np.int64)
        positions, normals, indices = mesh.vertices, mesh.vertex_normals, mesh.faces
    else:
        source = faces.reshape(-1)
        positions = mesh.vertices[faces].reshape(-1, 3)
        normals = np.repeat(mesh.face_normals, 3, axis=0)
        indices = np.arange(len(positions)).reshape(-1, 3)
    arrays = ShadingArrays(
        positions=np.asarray(positions, np.float32), normals=np.asarray(normals, np.float32),
        uv=uv[source].astype(np.float32), colors=None if colors is None else colors[source].astype(np.float32),
        indices=np.asarray(indices, np.uint32),
    )
    return _unwrapped(arrays) if geometry.texture_wraps else arrays


def _unwrapped(arrays: ShadingArrays) -> ShadingArrays:
    """Triangles that cross u = 0/1 of a wrapping projection drawn the short way round.

    Interpolating u across such a triangle would run through the whole texture (a zig-zag
    seam); its corners with u < 0.5 get copies at u + 1 instead (the texture repeats), with
    the same position and normal, so shading stays continuous across the former seam.
    """
    corner_u = arrays.uv[arrays.indices.astype(np.int64), 0]
    crossing = corner_u.max(axis=1) - corner_u.min(axis=1) > 0.5
    if not crossing.any():
        return arrays
    low = crossing[:, None] & (corner_u < 0.5)
    copied, slot = np.unique(arrays.indices[low], return_inverse=True)
    indices = arrays.indices.copy()
    indices[low] = (len(arrays.positions) + slot).astype(np.uint32)
    shifted_uv = arrays.uv[copied] + np.array([1.0, 0.0], np.float32)
    return ShadingArrays(
        positions=np.concatenate([arrays.positions, arrays.positions[copied]]),
        normals=np.concatenate([arrays.normals, arrays.normals[copied]]),
        uv=np.concatenate([arrays.uv, shifted_uv]),
        colors=None if arrays.colors is None else np.concatenate([arrays.colors, arrays.colors[copied]]),
        indices=indices,
    )


def object_surfaces(obj: SceneObject) -> tuple[tuple[Material, ...], np.ndarray]:
    """Each part's surface and the (4,) tint multiplied into its base colour, as every backend draws them.

    A file's own materials are tinted by the object's colour; without them one surface built
    from the object's colour, texture, metallic and roughness covers every part (untinted).
    """
    if obj.materials:
        return obj.materials, obj.color
    flat = Material(base_color=obj.color, base_color_texture=obj.texture, metallic=obj.metallic, roughness=obj.roughness)
    return (flat,) * obj.mesh.num_parts, np.ones(4)
