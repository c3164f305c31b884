"""The scene model: what a scene sampler draws and a renderer renders. numpy only.

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
    "CUBOID_CORNER_SIGNS",
    "Camera",
    "CategoryInfo",
    "Light",
    "MeshGeometry",
    "Polyline",
    "SceneObject",
    "SceneSpec",
    "Texture",
    "default_uv",
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
        uv: (V, 2) float64 texture coordinates in [0, 1] (u right, v up in the
            texture image), or None for a default projection (``default_uv``).
        cacheable: False for geometry made for one sample (posed figures): renderers
            upload it for that frame only instead of keeping it.
    """

    vertices: np.ndarray
    faces: np.ndarray
    smooth: bool = False
    key: str = ""
    uv: np.ndarray | None = None
    cacheable: bool = True

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
        if self.uv is not None:
            uv = np.ascontiguousarray(self.uv, dtype=np.float64)
            if uv.shape != (len(vertices), 2):
                raise ValueError(f"MeshGeometry.uv must be (V, 2) = ({len(vertices)}, 2), got {uv.shape}")
            object.__setattr__(self, "uv", uv)
        if not self.key:
            uv_bytes = b"" if self.uv is None else self.uv.tobytes()
            digest = hashlib.sha1(vertices.tobytes() + faces.tobytes() + uv_bytes + bytes([self.smooth]))
            object.__setattr__(self, "key", digest.hexdigest())

    @property
    def bounds(self) -> np.ndarray:
        """(2, 3) float64 axis-aligned min and max corner in the object frame."""
        return np.stack([self.vertices.min(axis=0), self.vertices.max(axis=0)])

    def texture_coordinates(self) -> np.ndarray:
        """(V, 2) float64 ``uv``, or ``default_uv`` of the vertices when there is none."""
        return self.uv if self.uv is not None else default_uv(self.vertices)


def default_uv(vertices: np.ndarray) -> np.ndarray:
    """Texture coordinates for a mesh that has none.

    Flat meshes (smallest extent under a tenth of the largest: planes, boards, table
    tops) get a planar projection onto their two largest axes, so a texture covers
    the face exactly once; other meshes a cylindrical projection about z.

    Args:
        vertices: (V, 3) float object-frame positions.

    Returns:
        (V, 2) float64 in [0, 1].
    """
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    extent = np.maximum(high - low, 1e-12)
    order = np.argsort(extent)
    if extent[order[0]] < 0.1 * extent[order[2]]:
        axes = sorted(order[1:])
        return (vertices[:, axes] - low[axes]) / extent[axes]
    centre = (low + high) / 2.0
    angle = np.arctan2(vertices[:, 1] - centre[1], vertices[:, 0] - centre[0])
    return np.stack([(angle + np.pi) / (2.0 * np.pi), (vertices[:, 2] - low[2]) / extent[2]], axis=1)


@dataclass(frozen=True, eq=False)
class Texture:
    """An image wrapped onto a mesh through its texture coordinates.

    Attributes:
        image: (h, w, 3) uint8 sRGB; row 0 is the top of the image (v = 1).
        key: Stable identity used by renderers to reuse uploads (content hash when empty).
    """

    image: np.ndarray
    key: str = ""

    def __post_init__(self):
        image = np.ascontiguousarray(self.image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
            raise ValueError(f"Texture.image must be (h, w, 3) uint8, got {image.shape} {image.dtype}")
        object.__setattr__(self, "image", image)
        if not self.key:
            object.__setattr__(self, "key", hashlib.sha1(image.tobytes() + str(image.shape).encode()).hexdigest())


@dataclass(frozen=True)
class CategoryInfo:
    """A labeled category.

    Attributes:
        id: Positive category id (COCO style, starting at 1).
        name: Category name.
        keypoint_names: Names of the category's keypoints, in label order.
        skeleton: Pairs of 0-based keypoint indices joined by a limb.
        kind: ``"object"`` (instances with masks) or ``"polyline"`` (line labels such
            as lane markings, no mask).
    """

    id: int
    name: str
    keypoint_names: tuple[str, ...] = ()
    skeleton: tuple[tuple[int, int], ...] = ()
    kind: str = "object"


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
        metallic: PBR metalness 0..1.
        roughness: PBR roughness 0..1.
        texture: Base-colour texture (multiplied by ``color``), or None.
        role: What an unlabeled object is (``support``, ``distractor``, ``scenery``);
            ``instance`` for labeled ones. Randomizers select objects by role.
        keypoint_slack: (K,) float64 metres each keypoint may lie below the visible
            surface and still count as visible: joints inside a limb sit about a limb
            radius behind its skin. Zeros for keypoints on the surface.
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
    texture: Texture | None = None
    role: str = ""
    keypoint_slack: np.ndarray | None = None

    def __post_init__(self):
        object.__setattr__(self, "pose", _as_matrix(self.pose, (4, 4), "SceneObject.pose"))
        if not self.role:
            object.__setattr__(self, "role", "instance" if self.instance_id > 0 else "scenery")
        color = np.asarray(self.color, dtype=np.float64)
        if color.shape == (3,):
            color = np.append(color, 1.0)
        object.__setattr__(self, "color", _as_matrix(color, (4,), "SceneObject.color"))
        keypoints = np.asarray(self.keypoints, dtype=np.float64).reshape(-1, 3)
        object.__setattr__(self, "keypoints", keypoints)
        slack = np.zeros(len(keypoints)) if self.keypoint_slack is None else np.asarray(self.keypoint_slack, float)
        if slack.shape != (len(keypoints),) or np.any(slack < 0):
            raise ValueError(f"SceneObject.keypoint_slack must be ({len(keypoints)},) non-negative, got {slack.shape}")
        object.__setattr__(self, "keypoint_slack", slack)
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
        kind: ``"directional"``, ``"point"`` or ``"spot"``.
        color: (3,) float64 linear RGB in [0, 1].
        intensity: Watts per square metre (directional) or candela (point, spot), as pyrender.
        direction: (3,) float64 world direction the light travels (directional, spot).
        position: (3,) float64 world position (point, spot).
        inner_cone_deg: Spot: half-angle of full intensity, degrees.
        outer_cone_deg: Spot: half-angle where the light fades to zero, degrees.
    """

    kind: str
    color: np.ndarray
    intensity: float
    direction: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, -1.0]))
    position: np.ndarray = field(default_factory=lambda: np.zeros(3))
    inner_cone_deg: float = 15.0
    outer_cone_deg: float = 30.0

    def __post_init__(self):
        if self.kind not in ("directional", "point", "spot"):
            raise ValueError(f"Light.kind must be 'directional', 'point' or 'spot', got {self.kind!r}")
        if not 0 <= self.inner_cone_deg < self.outer_cone_deg <= 90:
            raise ValueError("Light: need 0 <= inner_cone_deg < outer_cone_deg <= 90")


@dataclass(frozen=True, eq=False)
class Polyline:
    """A labeled 3D polyline in a scene (a lane marking's centre line).

    Attributes:
        category_id: Its category (kind ``polyline``).
        points: (N, 3) float64 world points, N >= 2, in order along the line.
    """

    category_id: int
    points: np.ndarray

    def __post_init__(self):
        points = np.asarray(self.points, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 3 or len(points) < 2 or not np.isfinite(points).all():
            raise ValueError(f"Polyline.points must be finite (N, 3) with N >= 2, got {points.shape}")
        object.__setattr__(self, "points", points)


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
        background_image: (H, W, 3) uint8 sRGB image the size of the camera's image,
            shown where no surface is hit (anti-aliased edges blend into it); None
            for the plain ``background`` colour.
        polylines: Labeled 3D polylines (lane markings).
    """

    camera: Camera
    objects: tuple[SceneObject, ...]
    lights: tuple[Light, ...] = ()
    categories: tuple[CategoryInfo, ...] = ()
    ambient: np.ndarray = field(default_factory=lambda: np.full(3, 0.3))
    background: np.ndarray = field(default_factory=lambda: np.zeros(3))
    background_image: np.ndarray | None = None
    polylines: tuple[Polyline, ...] = ()

    def __post_init__(self):
        if self.background_image is not None:
            shape = (self.camera.height, self.camera.width, 3)
            if self.background_image.shape != shape or self.background_image.dtype != np.uint8:
                raise ValueError(f"SceneSpec.background_image must be {shape} uint8, got "
                                 f"{self.background_image.shape} {self.background_image.dtype}")
        ids = [obj.instance_id for obj in self.objects if obj.is_instance]
        if len(ids) != len(set(ids)):
            raise ValueError(f"SceneSpec: instance ids must be unique, got {ids}")
        known = {category.id for category in self.categories}
        for obj in self.objects:
            if obj.is_instance and obj.category_id not in known:
                raise ValueError(f"SceneSpec: object {obj.instance_id} has undeclared category {obj.category_id}")
        for line in self.polylines:
            if line.category_id not in known:
                raise ValueError(f"SceneSpec: polyline has undeclared category {line.category_id}")

    @property
    def instances(self) -> tuple[SceneObject, ...]:
        return tuple(obj for obj in self.objects if obj.is_instance)

    def category(self, category_id: int) -> CategoryInfo:
        for category in self.categories:
            if category.id == category_id:
                return category
        raise KeyError(category_id)
