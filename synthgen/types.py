"""Core data types: scene description in, labeled sample out. numpy only.

Coordinate conventions used everywhere in synthgen:

* World frame: right-handed, metres, z up; support planes are horizontal.
* Camera frame: OpenCV convention, x right, y down, z forward (metres).
  ``Camera.world_to_camera`` maps homogeneous world points into it.
* Image coordinates are continuous: pixel (row r, column c) covers
  ``[c, c + 1) x [r, r + 1)``, so its centre is ``(c + 0.5, r + 0.5)``.
  A point X in camera frame projects to ``u = fx * X/Z + cx``, ``v = fy * Y/Z + cy``.
* Boxes are ``xyxy`` float with exclusive maxima: the box of a mask covering
  columns 10..19 spans x 10..20.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Camera",
    "CategoryInfo",
    "Cuboid",
    "Instance",
    "Light",
    "MeshGeometry",
    "Sample",
    "SceneObject",
    "SceneSpec",
]

# Corner order of every cuboid: signs of the half-dimensions along the object's x, y, z.
CUBOID_CORNER_SIGNS = np.array(
    [
        [-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1],
        [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1],
    ],
    dtype=np.float64,
)


def _as_matrix(value, shape: tuple[int, ...], name: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    return array


@dataclass(frozen=True)
class Camera:
    """A pinhole camera.

    Attributes:
        K: (3, 3) float64 intrinsics in pixels (continuous image coordinates).
        world_to_camera: (4, 4) float64 rigid transform, world -> OpenCV camera frame.
        width: Image width in pixels.
        height: Image height in pixels.
    """

    K: np.ndarray
    world_to_camera: np.ndarray
    width: int
    height: int

    def __post_init__(self):
        object.__setattr__(self, "K", _as_matrix(self.K, (3, 3), "Camera.K"))
        object.__setattr__(
            self, "world_to_camera", _as_matrix(self.world_to_camera, (4, 4), "Camera.world_to_camera")
        )
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"Camera size must be positive, got {self.width}x{self.height}")

    @property
    def position(self) -> np.ndarray:
        """(3,) float64 camera centre in world coordinates."""
        rotation = self.world_to_camera[:3, :3]
        return -rotation.T @ self.world_to_camera[:3, 3]

    def to_camera(self, points_world: np.ndarray) -> np.ndarray:
        """Transform (N, 3) world points to (N, 3) camera-frame points."""
        points = np.asarray(points_world, dtype=np.float64).reshape(-1, 3)
        return points @ self.world_to_camera[:3, :3].T + self.world_to_camera[:3, 3]

    def project_camera_points(self, points_cam: np.ndarray) -> np.ndarray:
        """Project (N, 3) camera-frame points to (N, 2) continuous pixel coordinates.

        Points at or behind the camera (z <= 0) get NaN coordinates.
        """
        points = np.asarray(points_cam, dtype=np.float64).reshape(-1, 3)
        uv = np.full((len(points), 2), np.nan)
        in_front = points[:, 2] > 0
        projected = points[in_front] @ self.K.T
        uv[in_front] = projected[:, :2] / projected[:, 2:3]
        return uv

    def project(self, points_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project world points into the image.

        Args:
            points_world: (N, 3) float world coordinates.

        Returns:
            uv: (N, 2) float64 continuous pixel coordinates (NaN behind the camera).
            z: (N,) float64 depth along the optical axis in metres.
        """
        points_cam = self.to_camera(points_world)
        return self.project_camera_points(points_cam), points_cam[:, 2]


@dataclass(frozen=True, eq=False)
class MeshGeometry:
    """A triangle mesh in its object frame.

    Attributes:
        vertices: (V, 3) float64 positions in metres, object frame.
        faces: (F, 3) int64 vertex indices, counter-clockwise seen from outside.
        smooth: Shade with interpolated vertex normals (curved surfaces) instead of
            flat face normals (boxes, polyhedra).
        key: Stable identity used by renderers to cache uploaded geometry; derived
            from the vertex and face bytes when empty.
    """

    vertices: np.ndarray
    faces: np.ndarray
    smooth: bool = False
    key: str = ""

    def __post_init__(self):
        vertices = np.ascontiguousarray(self.vertices, dtype=np.float64)
        faces = np.ascontiguousarray(self.faces, dtype=np.int64)
        if vertices.ndim != 2 or vertices.shape[1] != 3 or len(vertices) == 0:
            raise ValueError(f"MeshGeometry.vertices must be (V, 3) with V > 0, got {vertices.shape}")
        if faces.ndim != 2 or faces.shape[1] != 3 or len(faces) == 0:
            raise ValueError(f"MeshGeometry.faces must be (F, 3) with F > 0, got {faces.shape}")
        if faces.min() < 0 or faces.max() >= len(vertices):
            raise ValueError("MeshGeometry.faces index vertices that do not exist")
        object.__setattr__(self, "vertices", vertices)
        object.__setattr__(self, "faces", faces)
        if not self.key:
            digest = hashlib.sha1(vertices.tobytes() + faces.tobytes() + bytes([self.smooth]))
            object.__setattr__(self, "key", digest.hexdigest())

    @property
    def bounds(self) -> np.ndarray:
        """(2, 3) float64 axis-aligned min and max corner in the object frame."""
        return np.stack([self.vertices.min(axis=0), self.vertices.max(axis=0)])


@dataclass(frozen=True)
class CategoryInfo:
    """A labeled category.

    Attributes:
        id: Positive category id (COCO style, starting at 1).
        name: Category name.
        keypoint_names: Names of the category's keypoints, in label order.
        skeleton: Pairs of 0-based keypoint indices joined by a limb.
    """

    id: int
    name: str
    keypoint_names: tuple[str, ...] = ()
    skeleton: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, eq=False)
class SceneObject:
    """One object placed in a scene.

    Attributes:
        mesh: Geometry in the object frame.
        pose: (4, 4) float64 rigid object -> world transform.
        scale: Uniform scale applied in the object frame before ``pose``.
        color: (4,) float64 linear RGBA base color in [0, 1] (renderers apply the
            sRGB transfer curve to their output).
        instance_id: Positive id for labeled instances; 0 for unlabeled occluders
            (support planes, distractors), which still hide what is behind them.
        category_id: Category of a labeled instance; 0 for occluders.
        keypoints: (K, 3) float64 keypoints in the (unscaled) object frame (K may be 0).
    """

    mesh: MeshGeometry
    pose: np.ndarray
    scale: float = 1.0
    color: np.ndarray = field(default_factory=lambda: np.array([0.7, 0.7, 0.7, 1.0]))
    instance_id: int = 0
    category_id: int = 0
    keypoints: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    metallic: float = 0.0
    roughness: float = 0.8

    def __post_init__(self):
        object.__setattr__(self, "pose", _as_matrix(self.pose, (4, 4), "SceneObject.pose"))
        color = np.asarray(self.color, dtype=np.float64)
        if color.shape == (3,):
            color = np.append(color, 1.0)
        object.__setattr__(self, "color", _as_matrix(color, (4,), "SceneObject.color"))
        keypoints = np.asarray(self.keypoints, dtype=np.float64).reshape(-1, 3)
        object.__setattr__(self, "keypoints", keypoints)
        if not self.scale > 0:
            raise ValueError(f"SceneObject.scale must be positive, got {self.scale}")
        if self.instance_id < 0 or (self.instance_id == 0) != (self.category_id == 0):
            raise ValueError(
                "SceneObject: labeled instances need instance_id > 0 and category_id > 0; "
                f"occluders need both 0 (got instance_id={self.instance_id}, "
                f"category_id={self.category_id})"
            )

    @property
    def is_instance(self) -> bool:
        return self.instance_id > 0

    @property
    def object_to_world(self) -> np.ndarray:
        """(4, 4) float64 ``pose`` with the uniform ``scale`` applied first."""
        matrix = self.pose.copy()
        matrix[:3, :3] *= self.scale
        return matrix

    def to_world(self, points: np.ndarray) -> np.ndarray:
        """Map (N, 3) object-frame points to (N, 3) world points."""
        matrix = self.object_to_world
        return np.asarray(points, dtype=np.float64).reshape(-1, 3) @ matrix[:3, :3].T + matrix[:3, 3]

    def world_vertices(self) -> np.ndarray:
        """(V, 3) float64 mesh vertices in world coordinates."""
        return self.to_world(self.mesh.vertices)


@dataclass(frozen=True)
class Light:
    """A light source.

    Attributes:
        kind: ``"directional"`` or ``"point"``.
        color: (3,) float64 linear RGB in [0, 1].
        intensity: Watts per square metre (directional) or candela (point), as pyrender.
        direction: (3,) float64 world direction the light travels (directional).
        position: (3,) float64 world position (point).
    """

    kind: str
    color: np.ndarray
    intensity: float
    direction: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, -1.0]))
    position: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def __post_init__(self):
        if self.kind not in ("directional", "point"):
            raise ValueError(f"Light.kind must be 'directional' or 'point', got {self.kind!r}")


@dataclass(frozen=True)
class SceneSpec:
    """Everything a renderer needs for one image; backend-free.

    Attributes:
        camera: The camera.
        objects: Labeled instances and unlabeled occluders.
        lights: Light sources.
        categories: The categories instances refer to.
        ambient: (3,) float64 ambient light RGB in [0, 1].
        background: (3,) float64 background sRGB in [0, 1] (written to pixels as is).
    """

    camera: Camera
    objects: tuple[SceneObject, ...]
    lights: tuple[Light, ...] = ()
    categories: tuple[CategoryInfo, ...] = ()
    ambient: np.ndarray = field(default_factory=lambda: np.full(3, 0.3))
    background: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def __post_init__(self):
        ids = [obj.instance_id for obj in self.objects if obj.is_instance]
        if len(ids) != len(set(ids)):
            raise ValueError(f"SceneSpec: instance ids must be unique, got {ids}")
        known = {category.id for category in self.categories}
        for obj in self.objects:
            if obj.is_instance and obj.category_id not in known:
                raise ValueError(f"SceneSpec: object {obj.instance_id} has undeclared category {obj.category_id}")

    @property
    def instances(self) -> tuple[SceneObject, ...]:
        return tuple(obj for obj in self.objects if obj.is_instance)

    def category(self, category_id: int) -> CategoryInfo:
        for category in self.categories:
            if category.id == category_id:
                return category
        raise KeyError(category_id)


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
    """

    index: int
    image: np.ndarray
    depth: np.ndarray
    instance_ids: np.ndarray
    camera: Camera
    instances: list[Instance]
    categories: tuple[CategoryInfo, ...]
    dropped_instance_ids: tuple[int, ...] = ()

    def semantic_mask(self) -> np.ndarray:
        """(H, W) uint16 category id per pixel (0: background, occluders, dropped)."""
        lookup = np.zeros(int(self.instance_ids.max()) + 1, dtype=np.uint16)
        for instance in self.instances:
            lookup[instance.instance_id] = instance.category_id
        return lookup[self.instance_ids]
