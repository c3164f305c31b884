"""The sample model: one labeled image (or frame) as labels derive it and writers store it.

numpy only; coordinate conventions as in ``synthgen.core.scene_model``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from synthgen.core.scene_model import Camera, CategoryInfo, MeshGeometry

__all__ = [
    "Cuboid",
    "FlowField",
    "FrameInfo",
    "Instance",
    "LidarBox",
    "LidarSweep",
    "PolylineLabel",
    "Sample",
    "TRACK_STATES",
    "Track",
    "model_name",
]


@dataclass(frozen=True)
class Cuboid:
    """An object's 3D bounding box in the camera frame.

    The box is the object's axis-aligned bounds in its own frame, so it turns with it.

    Attributes:
        dimensions: (3,) float64 edge lengths along the object's x, y, z (metres).
        center: (3,) float64 box centre in the OpenCV camera frame (metres).
        rotation: (3, 3) float64 object -> camera rotation.
        corners_3d: (8, 3) float64 corners in the camera frame, in the order of
            ``CUBOID_CORNER_SIGNS`` (x, y, z half-dimension signs).
        corners_2d: (8, 2) float64 projected corners, continuous pixel coordinates
            (NaN for corners behind the camera).
    """

    dimensions: np.ndarray
    center: np.ndarray
    rotation: np.ndarray
    corners_3d: np.ndarray
    corners_2d: np.ndarray


def model_name(geometry: MeshGeometry) -> str:
    """Stable file-name-safe name of a rigid mesh (16 hex digits of its key's SHA-1)."""
    return hashlib.sha1(geometry.key.encode()).hexdigest()[:16]


@dataclass
class Instance:
    """Labels of one object in one image.

    Attributes:
        instance_id: Id of the object in ``Sample.instance_ids``.
        category_id: Category id.
        category: Category name.
        mask: (H, W) bool visible pixels (equal to ``instance_ids == instance_id``).
        amodal_mask: (H, W) bool pixels the object covers when rendered alone.
        bbox: (4,) float64 xyxy extent of ``mask`` (exclusive maxima).
        amodal_bbox: (4,) float64 xyxy extent of ``amodal_mask``.
        area: Visible pixel count.
        amodal_area: Amodal pixel count (inside the image).
        occlusion: ``1 - area / amodal_area``: share hidden by other objects.
        truncation: Share of the projected object's 2D box outside the image (KITTI style).
        keypoints: (K, 3) float64 x, y (continuous pixels), v (COCO visibility:
            0 outside the image or behind the camera, 1 occluded, 2 visible).
        cuboid: The 3D box.
        pose: (4, 4) float64 object -> camera transform (OpenCV camera frame).
        model: Name of the object's rigid mesh in ``Sample.models`` (``model_name``),
            "" for geometry made for one sample (a posed figure).
        scale: Uniform scale of the mesh before ``pose`` (the model's size is
            ``scale`` times its vertices).
    """

    instance_id: int
    category_id: int
    category: str
    mask: np.ndarray
    amodal_mask: np.ndarray
    bbox: np.ndarray
    amodal_bbox: np.ndarray
    area: int
    amodal_area: int
    occlusion: float
    truncation: float
    keypoints: np.ndarray
    cuboid: Cuboid
    pose: np.ndarray
    model: str = ""
    scale: float = 1.0


@dataclass
class PolylineLabel:
    """A polyline in one image: a scene polyline projected and clipped to the image.

    Attributes:
        category_id: Category id.
        category: Category name.
        points: (M, 3) float64 rows ``x, y, v``: continuous pixel coordinates inside the
            image and COCO visibility (2 visible, 1 hidden by an object). Where the
            line leaves the image or passes behind the camera it is cut, with a
            vertex on the border; each label is one connected piece.
    """

    category_id: int
    category: str
    points: np.ndarray


@dataclass(frozen=True)
class FrameInfo:
    """Where a frame sits in its clip (sequences only).

    Attributes:
        clip: Clip number (0-based; ``n`` clips per run).
        frame: Frame number in the clip (0-based).
        frames: Frames per clip.
        fps: Frames per second; frame ``f`` is at ``f / fps`` seconds.
    """

    clip: int
    frame: int
    frames: int
    fps: float

    @property
    def time(self) -> float:
        """Seconds since the clip's first frame."""
        return self.frame / self.fps


# A track's state in one frame: labeled; visible but under ``min_visible_pixels``;
# inside the view but hidden behind other objects; outside the view (or behind the camera).
TRACK_STATES = ("visible", "too_small", "occluded", "out_of_view")


@dataclass
class Track:
    """One object's track state in one frame; every object of a clip has one in every frame.

    Attributes:
        track_id: Stable id for the whole clip (the object's instance id).
        category_id: Category id.
        category: Category name.
        state: One of ``TRACK_STATES``.
        visibility: Visible pixels / amodal pixels inside the image (0 when none).
        amodal_bbox: (4,) float64 xyxy extent of the amodal mask in the image
            (zeros when out of view).
        position: (3,) float64 object origin in the camera frame (metres, OpenCV axes).
        velocity: (3,) float64 d(position)/dt in the camera frame (m/s): object and
            camera motion together, as a tracker on the camera would see it.
    """

    track_id: int
    category_id: int
    category: str
    state: str
    visibility: float
    amodal_bbox: np.ndarray
    position: np.ndarray
    velocity: np.ndarray


@dataclass
class FlowField:
    """Optical flow from this frame to a neighbouring one.

    Attributes:
        flow: (H, W, 2) float32 ``(du, dv)`` pixels to where each pixel's surface point
            is in the other frame; NaN where nothing was hit (no surface).
        occluded: (H, W) bool pixels whose point has no visible match in the other
            frame: hidden behind another surface there, or outside its image.
    """

    flow: np.ndarray
    occluded: np.ndarray


@dataclass
class LidarBox:
    """A labeled object's 3D box in the LiDAR frame at the frame's time, with what the sweep saw of it.

    Attributes:
        instance_id: The object's instance (and track) id.
        category_id: Category id.
        category: Category name.
        center: (3,) float64 box centre in the LiDAR frame (x forward, y left, z up; metres).
        dimensions: (3,) float64 edge lengths along the object's x, y, z (length, width, height; metres).
        rotation: (3, 3) float64 object -> LiDAR rotation.
        yaw: Heading of the object's x axis about the LiDAR's z axis (radians, 0: +x).
        num_points: Points of the sweep (as written) inside the box, its faces included.
        visibility: Rays that hit the object first / rays that hit it with nothing else in
            the scene (0 when no ray reaches it within range).
        visibility_level: 0 (no ray reaches it), 1 (< 40% visible), 2 (< 60%), 3 (< 80%), 4 (more).
    """

    instance_id: int
    category_id: int
    category: str
    center: np.ndarray
    dimensions: np.ndarray
    rotation: np.ndarray
    yaw: float
    num_points: int
    visibility: float
    visibility_level: int


@dataclass
class LidarSweep:
    """One LiDAR sweep of a sample with per-point labels (N points).

    Attributes:
        points: (N, 3) float32 measured points (range noise included), each in the LiDAR
            frame at its own firing time, as the sensor reports them (motion-distorted).
        deskewed: (N, 3) float32 the same points in the LiDAR frame at the frame's time, each
            moved with the object it hit (equal to ``points`` when nothing moves).
        intensity: (N,) float32 intensity in [0, 1] (``synthgen.core.lidar``'s model).
        rings: (N,) uint16 beam index.
        times_s: (N,) float32 seconds from the sweep's start.
        instance_ids: (N,) int32 instance id of the object hit (0: unlabeled surface).
        class_ids: (N,) uint16 category id of the object hit, or the surface class id
            (``synthgen.core.lidar.surface_class_id``) of an unlabeled one (0: unknown).
        lidar_to_camera: (4, 4) float64 LiDAR -> OpenCV camera frame.
        lidar_to_world: (4, 4) float64 LiDAR -> world at the frame's time.
        start_s: Sweep start relative to the frame's time, seconds (a sweep is centred on it).
        duration_s: Sweep duration, seconds.
        boxes: The 3D box of every labeled object within range, ordered by instance id.
    """

    points: np.ndarray
    deskewed: np.ndarray
    intensity: np.ndarray
    rings: np.ndarray
    times_s: np.ndarray
    instance_ids: np.ndarray
    class_ids: np.ndarray
    lidar_to_camera: np.ndarray
    lidar_to_world: np.ndarray
    start_s: float
    duration_s: float
    boxes: list[LidarBox] = field(default_factory=list)

    @property
    def ranges(self) -> np.ndarray:
        """(N,) float32 measured range of each point, metres (its distance from the sensor)."""
        return np.linalg.norm(self.points, axis=1)


@dataclass
class Sample:
    """One rendered image with all of its labels.

    Attributes:
        index: Sample index in the run (its RNG depends only on seed and index).
        image: (H, W, 3) uint8 RGB.
        depth: (H, W) float32 metres along the optical axis; 0 where nothing was hit.
        instance_ids: (H, W) int32 id of the visible object per pixel; 0 for background
            and unlabeled occluders. Ids of dropped (too small) instances remain here.
        camera: The camera.
        instances: Labeled instances, ordered by instance id.
        categories: All categories of the scene, labeled or not in this image.
        dropped_instance_ids: Ids of objects visible in ``instance_ids`` but too small
            to be labeled (fewer visible pixels than the configured minimum).
        polylines: Polyline labels (lane markings).
        augmentations: Names of the 2D augmentations applied to this sample, in order.
        frame: Clip and frame number (sequences), else None.
        tracks: Every object's track state in this frame, ordered by track id (sequences).
        flow_forward: Flow to the next frame (sequences; None on a clip's last frame).
        flow_backward: Flow to the previous frame (sequences; None on a clip's first frame).
        models: Model name -> rigid mesh (object frame, metres, unscaled) of the labeled
            instances, for formats that ship models (BOP).
        generation: How a diffusion generator made ``image`` (generator, model, prompt,
            seed, settings, label-agreement scores), or None for a plain render.
        lidar: The sweep of the scene's LiDAR (``SceneSpec.lidar``), or None.
    """

    index: int
    image: np.ndarray
    depth: np.ndarray
    instance_ids: np.ndarray
    camera: Camera
    instances: list[Instance]
    categories: tuple[CategoryInfo, ...]
    dropped_instance_ids: tuple[int, ...] = ()
    polylines: list[PolylineLabel] = field(default_factory=list)
    augmentations: tuple[str, ...] = ()
    frame: FrameInfo | None = None
    tracks: list[Track] = field(default_factory=list)
    flow_forward: FlowField | None = None
    flow_backward: FlowField | None = None
    generation: dict | None = None
    models: dict[str, MeshGeometry] = field(default_factory=dict)
    lidar: LidarSweep | None = None

    def semantic_mask(self) -> np.ndarray:
        """(H, W) uint16 category id per pixel (0: background, occluders, dropped)."""
        lookup = np.zeros(int(self.instance_ids.max()) + 1, dtype=np.uint16)
        for instance in self.instances:
            lookup[instance.instance_id] = instance.category_id
        return lookup[self.instance_ids]
