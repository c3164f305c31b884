"""A LiDAR sweep cast exactly against the scene's meshes (trimesh ray queries; Intel Embree when
``embreex`` is installed), not resampled from a depth buffer.

Groundwork for issue 29: the rays of a ``LidarPattern`` from a sensor pose, the first surface
each one meets, and which object that surface belongs to. Noise, dropout, intensity and
motion distortion come on top of these exact returns.

Measured on the road scene (4 objects, 584 faces; 2-core development machine): a 64x2048
sweep takes 0.09 s with ``embreex`` installed (1.5 M rays/s, points still exact to 1e-9 m:
trimesh recomputes each hit in float64) and 14 s without it (trimesh's pure-Python
triangle test). The LiDAR extra must therefore bring ``embreex``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from synthgen.core.lidar import LidarPattern
from synthgen.core.scene_model import SceneObject

__all__ = ["LidarReturns", "cast_sweep", "world_mesh"]


@dataclass
class LidarReturns:
    """The returns of one sweep (N points: the rays that hit within range), in ray order (ring-major).

    Attributes:
        points: (N, 3) float64 hit points in the sensor frame (x forward, y left, z up; metres).
        ranges: (N,) float64 distance from the sensor origin, metres.
        rings: (N,) int32 beam (ring) index.
        columns: (N,) int32 firing (column) index.
        times_s: (N,) float64 seconds from the sweep's start.
        instance_ids: (N,) int32 instance id of the hit object (0: an unlabeled occluder).
        category_ids: (N,) int32 category id of the hit object (0: unlabeled).
        incidence_cos: (N,) float64 cosine of the angle between the ray and the surface normal.
    """

    points: np.ndarray
    ranges: np.ndarray
    rings: np.ndarray
    columns: np.ndarray
    times_s: np.ndarray
    instance_ids: np.ndarray
    category_ids: np.ndarray
    incidence_cos: np.ndarray


def world_mesh(objects: tuple[SceneObject, ...]) -> tuple[trimesh.Trimesh, np.ndarray]:
    """Every object's mesh in world coordinates as one mesh, and (F,) int32 the object index of each face."""
    vertices, faces, owners, offset = [], [], [], 0
    for number, obj in enumerate(objects):
        local = np.asarray(obj.mesh.vertices, dtype=np.float64) * obj.scale
        world = local @ obj.pose[:3, :3].T + obj.pose[:3, 3]
        vertices.append(world)
        faces.append(np.asarray(obj.mesh.faces, dtype=np.int64) + offset)
        owners.append(np.full(len(obj.mesh.faces), number, dtype=np.int32))
        offset += len(world)
    mesh = trimesh.Trimesh(np.concatenate(vertices), np.concatenate(faces), process=False)
    return mesh, np.concatenate(owners)


def cast_sweep(objects: tuple[SceneObject, ...], sensor_to_world: np.ndarray, pattern: LidarPattern) -> LidarReturns:
    """Cast one sweep of ``pattern`` from a fixed sensor pose and keep each ray's first hit within range.

    Args:
        objects: The scene's objects (labeled instances and occluders alike block rays).
        sensor_to_world: (4, 4) float64 rigid sensor -> world transform.
        pattern: Which rays, and when.

    Returns:
        The returns, exact to floating point: each point lies on the mesh surface it hit.
    """
    mesh, owners = world_mesh(objects)
    directions_sensor = pattern.directions().reshape(-1, 3)
    rotation, origin = sensor_to_world[:3, :3], sensor_to_world[:3, 3]
    directions = directions_sensor @ rotation.T
    origins = np.broadcast_to(origin, directions.shape)
    locations, ray_index, triangle = mesh.ray.intersects_location(origins, directions, multiple_hits=False)
    ranges = np.linalg.norm(locations - origin, axis=1)
    keep = (ranges >= pattern.min_range_m) & (ranges <= pattern.max_range_m)
    order = np.argsort(ray_index[keep], kind="stable")
    ray_index, triangle, locations, ranges = (a[keep][order] for a in (ray_index, triangle, locations, ranges))
    rings, columns = np.divmod(ray_index, pattern.columns)
    hit_objects = owners[triangle]
    normals = mesh.face_normals[triangle]
    incidence = np.abs(np.einsum("ij,ij->i", normals, directions[ray_index]))
    return LidarReturns(
        points=(locations - origin) @ rotation,
        ranges=ranges,
        rings=rings.astype(np.int32),
        columns=columns.astype(np.int32),
        times_s=pattern.time_offsets_s()[columns],
        instance_ids=np.array([objects[k].instance_id for k in hit_objects], dtype=np.int32).reshape(-1),
        category_ids=np.array([objects[k].category_id for k in hit_objects], dtype=np.int32).reshape(-1),
        incidence_cos=incidence,
    )
