"""A sample's LiDAR sweep: rays from the rig's pose at each firing, exact hits, the sensor model,
per-point labels, deskewed points and 3D boxes with point counts and visibility.

A sweep is centred on its frame's time ``t``: column ``c`` fires at
``t + start_s + column_time[c]`` with ``start_s = -duration / 2``. In a sequence the rig and
the moving objects are posed at every firing time from the clip's trajectory (rolling
shutter); for a still image nothing moves during the sweep.
"""

from __future__ import annotations

import numpy as np

from synthgen.core import CategoryInfo, LidarBox, LidarSweep, SceneSpec
from synthgen.core.lidar import surface_class_id
from synthgen.pipeline.sequence import Clip
from synthgen.render.lidar_raycast import ExactReturns, cast_lidar

__all__ = ["VISIBILITY_LEVELS", "lidar_sweep", "points_in_box"]

# Upper bounds of visibility levels 1..3 (level 4 above; level 0: no ray reaches the object).
VISIBILITY_LEVELS = (0.4, 0.6, 0.8)


def _transform(matrices: np.ndarray, points: np.ndarray, translate: bool = True) -> np.ndarray:
    """Apply (M, 4, 4) or (4, 4) rigid transforms to (M, 3) points (directions: ``translate=False``)."""
    if matrices.ndim == 2:
        return points @ matrices[:3, :3].T + (matrices[:3, 3] if translate else 0.0)
    return np.einsum("mij,mj->mi", matrices[:, :3, :3], points) + (matrices[:, :3, 3] if translate else 0.0)


def _rigid_inverse(matrices: np.ndarray) -> np.ndarray:
    """Inverses of (..., 4, 4) rigid transforms (transposed rotation, rotated translation)."""
    inverse = np.zeros_like(matrices)
    rotation = np.swapaxes(matrices[..., :3, :3], -1, -2)
    inverse[..., :3, :3] = rotation
    inverse[..., :3, 3] = -(rotation @ matrices[..., :3, 3, None])[..., 0]
    inverse[..., 3, 3] = 1.0
    return inverse


def _per_point(poses: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """One (4, 4) pose as it is (a still rig), else the (M, 4, 4) pose of each point's column."""
    return poses if poses.ndim == 2 else poses[columns]


def _poses(spec: SceneSpec, clip: Clip | None, frame_time: float, column_times: np.ndarray):
    """Rig (camera -> world) per column (one pose for a still image), moving objects' poses per
    column, and the rig and those objects at the frame's time."""
    if clip is None:
        camera_to_world = np.linalg.inv(spec.camera.world_to_camera)
        return camera_to_world, camera_to_world, {}, {}
    trajectory, first = clip.trajectory, clip.spec
    camera_per_column = trajectory.camera_to_world(first.camera, column_times)
    camera_at_frame = trajectory.camera_to_world(first.camera, np.array([frame_time]))[0]
    moving, at_frame = {}, {}
    for k, obj in enumerate(first.objects):
        if obj.is_instance and obj.instance_id in trajectory.paths:
            moving[k] = trajectory.object_poses(obj.instance_id, obj.pose, column_times)
            at_frame[k] = trajectory.object_poses(obj.instance_id, obj.pose, np.array([frame_time]))[0]
    return camera_per_column, camera_at_frame, moving, at_frame


def points_in_box(points: np.ndarray, box: LidarBox, tolerance_m: float = 1e-4) -> np.ndarray:
    """(N,) bool points (LiDAR frame) inside a box, its faces included (within ``tolerance_m``: points are
    float32, and a point on a face may sit a few micrometres outside it)."""
    points = np.asarray(points, dtype=np.float64)
    reach = float(np.linalg.norm(box.dimensions)) / 2 + tolerance_m
    near = np.flatnonzero((np.abs(points[:, 0] - box.center[0]) <= reach) & (np.abs(points[:, 1] - box.center[1]) <= reach))
    local = (points[near] - box.center) @ box.rotation
    inside = np.zeros(len(points), bool)
    inside[near] = np.all(np.abs(local) <= box.dimensions / 2 + tolerance_m, axis=1)
    return inside


def _level(visibility: float, rays: int) -> int:
    return 0 if rays == 0 else 1 + int(np.searchsorted(VISIBILITY_LEVELS, visibility, side="right"))


def _boxes(spec: SceneSpec, exact: ExactReturns, world_to_lidar: np.ndarray, deskewed: np.ndarray,
           max_range: float) -> list[LidarBox]:
    categories: dict[int, CategoryInfo] = {c.id: c for c in spec.categories}
    deskewed = deskewed.astype(np.float64)  # once here, not once per box
    visible = np.bincount(exact.object_index, minlength=len(spec.objects))
    boxes = []
    for k, obj in sorted(enumerate(spec.objects), key=lambda item: item[1].instance_id):
        if not obj.is_instance:
            continue
        low, high = obj.mesh.bounds * obj.scale
        object_to_lidar = world_to_lidar @ obj.pose
        center = _transform(object_to_lidar, ((low + high) / 2)[None])[0]
        if np.linalg.norm(center) > max_range:
            continue
        rotation = object_to_lidar[:3, :3]
        rays = exact.amodal_rays.get(k, 0)
        visibility = min(float(visible[k]) / rays, 1.0) if rays else 0.0
        box = LidarBox(obj.instance_id, obj.category_id, categories[obj.category_id].name, center, high - low,
                       rotation, float(np.arctan2(rotation[1, 0], rotation[0, 0])), 0, visibility,
                       _level(visibility, rays))
        box.num_points = int(points_in_box(deskewed, box).sum())
        boxes.append(box)
    return boxes


def lidar_sweep(spec: SceneSpec, clip: Clip | None, frame: int, rng: np.random.Generator) -> LidarSweep:
    """The sweep of ``spec.lidar`` for one sample.

    Args:
        spec: The sample's scene (objects at the frame's time) with its LiDAR.
        clip: The sample's clip (sequences: poses at every firing), or None for a still image.
        frame: Frame number in the clip (0 for a still): a non-repetitive pattern's sweep number.
        rng: The sample's LiDAR generator (``LIDAR_STREAM``).
    """
    sensor = spec.lidar
    rays = sensor.pattern.rays(frame)
    start = -sensor.pattern.duration_s / 2
    frame_time = clip.time(frame) if clip is not None else 0.0
    camera_per_column, camera_at_frame, moving, at_frame = _poses(spec, clip, frame_time,
                                                                  frame_time + start + rays.column_times_s)
    lidar_to_camera = sensor.lidar_to_camera((clip.spec if clip is not None else spec).camera.world_to_camera)
    sensor_poses = camera_per_column @ lidar_to_camera
    lidar_to_world = camera_at_frame @ lidar_to_camera
    exact = cast_lidar(spec.objects, rays, sensor_poses, moving, sensor.max_range_m)
    measured = sensor.measure(exact.ranges, exact.incidence_cos, exact.reflectivity, rays.rings[exact.ray_index], rng)
    keep = measured.keep
    rows, columns = exact.ray_index[keep], rays.columns[exact.ray_index[keep]]
    world_directions = _transform(_per_point(sensor_poses, columns), rays.directions[rows], translate=False)
    world = exact.world[keep] + world_directions * (measured.ranges[keep] - exact.ranges[keep])[:, None]
    points = _transform(_per_point(_rigid_inverse(sensor_poses), columns), world)
    hit = exact.object_index[keep]
    world_at_frame = world.copy()
    for k, poses in moving.items():  # each point moves with its object to the frame's time
        on = np.flatnonzero(hit == k)
        correction = at_frame[k] @ _rigid_inverse(poses)[columns[on]]
        world_at_frame[on] = _transform(correction, world[on])
    world_to_lidar = _rigid_inverse(lidar_to_world)
    deskewed = _transform(world_to_lidar, world_at_frame).astype(np.float32)  # as written: boxes count these
    objects = spec.objects
    class_lookup = np.array([obj.category_id if obj.is_instance else surface_class_id(obj.surface) for obj in objects],
                            dtype=np.uint16)
    instance_lookup = np.array([obj.instance_id for obj in objects], dtype=np.int32)
    return LidarSweep(
        points=points.astype(np.float32), deskewed=deskewed,
        intensity=measured.intensity[keep], rings=rays.rings[rows].astype(np.uint16),
        times_s=rays.times_s[rows].astype(np.float32), instance_ids=instance_lookup[hit],
        class_ids=class_lookup[hit], lidar_to_camera=lidar_to_camera, lidar_to_world=lidar_to_world,
        start_s=float(start), duration_s=float(sensor.pattern.duration_s),
        boxes=_boxes(spec, exact, world_to_lidar, deskewed, sensor.max_range_m),
    )
