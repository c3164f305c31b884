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

from synthgen.core.lidar import LidarSensor, surface_class_id

__all__ = [
    "CUBOID_CORNER_SIGNS",
    "ALPHA_MODES",
    "Camera",
    "CategoryInfo",
    "EnvironmentMap",
    "Light",
    "Material",
    "MeshGeometry",
    "Polyline",
    "SceneObject",
    "SceneSpec",
    "Texture",
    "UV_PROJECTIONS",
    "WRAPPING_UV_PROJECTIONS",
    "default_uv",
    "default_uv_wraps",
    "distort_normalized",
    "equirect_directions",
    "project_uv",
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
        distortion: (5,) float64 lens distortion ``k1, k2, p1, p2, k3`` (OpenCV's
            Brown-Conrady model, on normalised coordinates) of the image as written;
            zeros for a pinhole. ``project`` applies it.
    """

    K: np.ndarray
    world_to_camera: np.ndarray
    width: int
    height: int
    distortion: np.ndarray = field(default_factory=lambda: np.zeros(5))

    def __post_init__(self):
        object.__setattr__(self, "K", _as_matrix(self.K, (3, 3), "Camera.K"))
        object.__setattr__(self, "distortion", _as_matrix(self.distortion, (5,), "Camera.distortion"))
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
        normalised = distort_normalized(points[in_front, :2] / points[in_front, 2:3], self.distortion)
        uv[in_front] = normalised @ self.K[:2, :2].T + self.K[:2, 2]
        return uv

    @property
    def has_distortion(self) -> bool:
        return bool(np.any(self.distortion != 0))

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
        colors: (V, 4) float64 linear RGBA vertex colours in [0, 1] (multiplied into
            the surface colour), or None.
        part_offsets: (P + 1,) int64 face offsets: part p is faces
            ``part_offsets[p]:part_offsets[p + 1]`` and takes material p of the
            object (a mesh file with several materials). None: one part.
        uv_wraps: ``u`` of ``uv`` is an angle (sphere and cylinder projections): a triangle
            spanning more than half of u crosses u = 0/1 and is drawn the short way round
            (renderers repeat the texture), so the projection shows no seam.
            ``default_uv`` wraps on its own (``default_uv_wraps``).
    """

    vertices: np.ndarray
    faces: np.ndarray
    smooth: bool = False
    key: str = ""
    uv: np.ndarray | None = None
    cacheable: bool = True
    colors: np.ndarray | None = None
    part_offsets: np.ndarray | None = None
    uv_wraps: bool = False

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
        if self.colors is not None:
            colors = np.ascontiguousarray(self.colors, dtype=np.float64)
            if colors.shape != (len(vertices), 4) or not np.all((colors >= 0) & (colors <= 1)):
                raise ValueError(f"MeshGeometry.colors must be (V, 4) = ({len(vertices)}, 4) in [0, 1], got {colors.shape}")
            object.__setattr__(self, "colors", colors)
        offsets = np.array([0, len(faces)]) if self.part_offsets is None else np.asarray(self.part_offsets, np.int64)
        if offsets.ndim != 1 or len(offsets) < 2 or offsets[0] != 0 or offsets[-1] != len(faces) or np.any(np.diff(offsets) <= 0):
            raise ValueError(f"MeshGeometry.part_offsets must rise strictly from 0 to {len(faces)}, got {offsets}")
        object.__setattr__(self, "part_offsets", offsets.astype(np.int64))
        if not self.key:
            extra = b"".join(b"" if a is None else a.tobytes() for a in (self.uv, self.colors)) + offsets.tobytes()
            digest = hashlib.sha1(vertices.tobytes() + faces.tobytes() + extra + bytes([self.smooth])
                                  + (b"wraps" if self.uv_wraps else b""))
            object.__setattr__(self, "key", digest.hexdigest())

    @property
    def num_parts(self) -> int:
        """Number of parts (materials) of the mesh."""
        return len(self.part_offsets) - 1

    @property
    def bounds(self) -> np.ndarray:
        """(2, 3) float64 axis-aligned min and max corner in the object frame."""
        return np.stack([self.vertices.min(axis=0), self.vertices.max(axis=0)])

    def texture_coordinates(self) -> np.ndarray:
        """(V, 2) float64 ``uv``, or ``default_uv`` of the vertices when there is none."""
        return self.uv if self.uv is not None else default_uv(self.vertices)

    @property
    def texture_wraps(self) -> bool:
        """Whether ``texture_coordinates``' u is an angle (see ``uv_wraps``)."""
        return self.uv_wraps if self.uv is not None else default_uv_wraps(self.vertices)


def _is_flat(vertices: np.ndarray) -> bool:
    extent = np.maximum(vertices.max(axis=0) - vertices.min(axis=0), 1e-12)
    return bool(extent.min() < 0.1 * extent.max())


def default_uv_wraps(vertices: np.ndarray) -> bool:
    """Whether ``default_uv`` of these vertices is cylindrical (u an angle), not planar."""
    return not _is_flat(np.asarray(vertices, dtype=np.float64))


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
    if _is_flat(vertices):
        axes = sorted(order[1:])
        return (vertices[:, axes] - low[axes]) / extent[axes]
    centre = (low + high) / 2.0
    angle = np.arctan2(vertices[:, 1] - centre[1], vertices[:, 0] - centre[0])
    return np.stack([(angle + np.pi) / (2.0 * np.pi), (vertices[:, 2] - low[2]) / extent[2]], axis=1)


def distort_normalized(xy: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """Apply Brown-Conrady lens distortion to (N, 2) normalised image coordinates (x/z, y/z).

    ``coefficients`` are OpenCV's ``k1, k2, p1, p2, k3``; zeros return ``xy`` unchanged.
    """
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    k1, k2, p1, p2, k3 = np.asarray(coefficients, dtype=np.float64)
    if not (k1 or k2 or p1 or p2 or k3):
        return xy
    x, y = xy[:, 0], xy[:, 1]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    return np.stack([x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x),
                     y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y], axis=1)


UV_PROJECTIONS = ("auto", "box", "sphere", "cylinder", "planar")
WRAPPING_UV_PROJECTIONS = ("sphere", "cylinder")  # u is an angle: MeshGeometry.uv_wraps


def project_uv(vertices: np.ndarray, method: str, normals: np.ndarray | None = None) -> np.ndarray:
    """Texture coordinates projected onto a mesh that has none (or should not use its own).

    Args:
        vertices: (V, 3) float object-frame positions.
        method: ``auto`` (``default_uv``), ``planar`` (onto the two largest axes),
            ``cylinder`` (angle about z, height), ``sphere`` (longitude, latitude about
            the bounding-box centre) or ``box`` (each vertex onto the face of the
            bounding box its normal points to most, the six faces side by side in u).
        normals: (V, 3) float vertex normals, used by ``box`` (positions from the
            centre when None).

    Returns:
        (V, 2) float64 in [0, 1].
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    if method not in UV_PROJECTIONS:
        raise ValueError(f"uv projection must be one of {UV_PROJECTIONS}, got {method!r}")
    if method == "auto":
        return default_uv(vertices)
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    extent = np.maximum(high - low, 1e-12)
    unit = (vertices - low) / extent
    centre = (low + high) / 2.0
    offset = vertices - centre
    if method == "planar":
        axes = sorted(np.argsort(extent)[1:])
        return unit[:, axes]
    angle = (np.arctan2(offset[:, 1], offset[:, 0]) + np.pi) / (2.0 * np.pi)
    if method == "cylinder":
        return np.stack([angle, unit[:, 2]], axis=1)
    if method == "sphere":
        radius = np.maximum(np.linalg.norm(offset, axis=1), 1e-12)
        latitude = np.arcsin(np.clip(offset[:, 2] / radius, -1.0, 1.0))
        return np.stack([angle, latitude / np.pi + 0.5], axis=1)
    direction = offset / extent if normals is None else np.asarray(normals, dtype=np.float64)
    axis = np.argmax(np.abs(direction), axis=1)
    face = axis * 2 + (np.take_along_axis(direction, axis[:, None], 1)[:, 0] < 0)
    # The two other axes of the dominant one span that face of the box.
    others = np.array([[1, 2], [0, 2], [0, 1]])[axis]
    u = np.take_along_axis(unit, others[:, :1], 1)[:, 0]
    v = np.take_along_axis(unit, others[:, 1:], 1)[:, 0]
    return np.stack([(face + u) / 6.0, v], axis=1)


@dataclass(frozen=True, eq=False)
class Texture:
    """An image wrapped onto a mesh through its texture coordinates.

    Attributes:
        image: (h, w, 3) uint8 RGB or (h, w, 4) RGBA (alpha linear); row 0 is the top
            of the image (v = 1). Colour textures are sRGB encoded; data textures
            (normal, metallic-roughness maps) hold linear values.
        key: Stable identity used by renderers to reuse uploads (content hash when empty).
    """

    image: np.ndarray
    key: str = ""

    def __post_init__(self):
        image = np.ascontiguousarray(self.image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4) or min(image.shape[:2]) < 1:
            raise ValueError(f"Texture.image must be (h, w, 3|4) uint8, got {image.shape} {image.dtype}")
        object.__setattr__(self, "image", image)
        if not self.key:
            object.__setattr__(self, "key", hashlib.sha1(image.tobytes() + str(image.shape).encode()).hexdigest())


ALPHA_MODES = ("OPAQUE", "MASK", "BLEND")


@dataclass(frozen=True, eq=False)
class Material:
    """A metallic-roughness PBR surface (the glTF 2.0 material model).

    Attributes:
        base_color: (4,) float64 linear RGBA factor in [0, 1], multiplied with
            ``base_color_texture`` (and vertex colours).
        base_color_texture: sRGB colour texture (RGBA: alpha is coverage), or None.
        metallic: Metalness factor 0..1.
        roughness: Roughness factor 0..1.
        metallic_roughness_texture: Linear texture, roughness in G and metalness in B
            (multiplied with the factors), or None.
        normal_texture: Tangent-space normal map (linear, RGB = XYZ * 0.5 + 0.5), or None.
        emissive: (3,) float64 linear emitted radiance factor.
        emissive_texture: sRGB emission texture (multiplied with ``emissive``), or None.
        alpha_mode: ``OPAQUE``, ``MASK`` (cut out below ``alpha_cutoff``) or ``BLEND``.
        alpha_cutoff: Alpha threshold of ``MASK``.
        double_sided: Render back faces too (leaves, cards).
        name: The file's name for the material (for messages).
    """

    base_color: np.ndarray = field(default_factory=lambda: np.ones(4))
    base_color_texture: Texture | None = None
    metallic: float = 0.0
    roughness: float = 0.8
    metallic_roughness_texture: Texture | None = None
    normal_texture: Texture | None = None
    emissive: np.ndarray = field(default_factory=lambda: np.zeros(3))
    emissive_texture: Texture | None = None
    alpha_mode: str = "OPAQUE"
    alpha_cutoff: float = 0.5
    double_sided: bool = False
    name: str = ""

    def __post_init__(self):
        color = np.asarray(self.base_color, dtype=np.float64)
        if color.shape == (3,):
            color = np.append(color, 1.0)
        object.__setattr__(self, "base_color", np.clip(_as_matrix(color, (4,), "Material.base_color"), 0.0, 1.0))
        object.__setattr__(self, "emissive", np.clip(_as_matrix(self.emissive, (3,), "Material.emissive"), 0.0, None))
        if self.alpha_mode not in ALPHA_MODES:
            raise ValueError(f"Material.alpha_mode must be one of {ALPHA_MODES}, got {self.alpha_mode!r}")
        for name in ("metallic", "roughness", "alpha_cutoff"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"Material.{name} must be in [0, 1], got {getattr(self, name)}")

    @property
    def has_texture(self) -> bool:
        """Whether the surface colour comes from an image (not just a factor)."""
        return self.base_color_texture is not None


@dataclass(frozen=True, eq=False)
class EnvironmentMap:
    """Light arriving from every direction: an equirectangular (latitude-longitude) map.

    Row 0 is straight up (+z), the last row straight down; column 0 looks along +x
    and columns advance counter-clockwise seen from above (towards +y), before
    ``rotation_deg`` turns the map about z.

    Attributes:
        radiance: (h, w, 3) float32 linear radiance (HDR; 1.0 = a white diffuse
            surface lit by an irradiance of pi W/m^2 would look this bright).
        rotation_deg: Turn of the map about the world's z axis, degrees.
        strength: Multiplier of the radiance (exposure of the map, linear).
        visible: Shown as the background where no surface is hit.
        key: Stable identity (content hash when empty), for renderers' caches.
    """

    radiance: np.ndarray
    rotation_deg: float = 0.0
    strength: float = 1.0
    visible: bool = True
    key: str = ""

    def __post_init__(self):
        radiance = np.ascontiguousarray(self.radiance, dtype=np.float32)
        if radiance.ndim != 3 or radiance.shape[2] != 3 or radiance.shape[0] < 2 or radiance.shape[1] < 4:
            raise ValueError(f"EnvironmentMap.radiance must be (h, w, 3) with h >= 2, w >= 4, got {radiance.shape}")
        if not np.all(np.isfinite(radiance)) or radiance.min() < 0:
            raise ValueError("EnvironmentMap.radiance must be finite and non-negative")
        if not self.strength >= 0:
            raise ValueError(f"EnvironmentMap.strength must be >= 0, got {self.strength}")
        object.__setattr__(self, "radiance", radiance)
        if not self.key:
            object.__setattr__(self, "key", hashlib.sha1(radiance.tobytes() + str(radiance.shape).encode()).hexdigest())


def equirect_directions(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit directions of an equirectangular map's texel centres (``EnvironmentMap``'s
    convention, before rotation) and the solid angle each texel covers.

    Returns:
        directions: (height, width, 3) float64 world directions (z up).
        solid_angle: (height, width) float64 steradians (sums to 4 pi).
    """
    latitude = np.pi / 2 - np.pi * (np.arange(height) + 0.5) / height
    azimuth = 2 * np.pi * (np.arange(width) + 0.5) / width
    lat, az = np.meshgrid(latitude, azimuth, indexing="ij")
    directions = np.stack([np.cos(lat) * np.cos(az), np.cos(lat) * np.sin(az), np.sin(lat)], axis=-1)
    solid_angle = (2 * np.pi / width) * (np.pi / height) * np.cos(lat)
    return directions, solid_angle


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
        role: What an unlabeled object is (``support``, ``container``, ``distractor``, ``scenery``);
            ``instance`` for labeled ones (``parked``: labeled, and never moved by motion).
            Randomizers select objects by role.
        keypoint_slack: (K,) float64 metres each keypoint may lie below the visible
            surface and still count as visible: joints inside a limb sit about a limb
            radius behind its skin. Zeros for keypoints on the surface.
        materials: The surface as a mesh file authored it: one ``Material`` per part
            of ``mesh`` (``MeshGeometry.part_offsets``); each part's base colour is
            multiplied by ``color`` (a tint; ones keep the file's look). Empty: one
            surface from ``color``, ``metallic``, ``roughness`` and ``texture``.
        surface: The class of an unlabeled object's surface in per-point LiDAR labels
            (``synthgen.core.lidar.SURFACE_CLASSES``: road, building, vegetation, ...); "" unknown.
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
    materials: tuple[Material, ...] = ()
    surface: str = ""

    def __post_init__(self):
        object.__setattr__(self, "pose", _as_matrix(self.pose, (4, 4), "SceneObject.pose"))
        surface_class_id(self.surface)  # raises on an unknown surface class
        object.__setattr__(self, "materials", tuple(self.materials))
        if self.materials and len(self.materials) != self.mesh.num_parts:
            raise ValueError(f"SceneObject.materials: {len(self.materials)} materials for a mesh of "
                             f"{self.mesh.num_parts} parts")
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
        environment: Light from every direction (image-based lighting), added to
            ``lights`` and ``ambient``; when visible, it is the background instead
            of ``background`` and ``background_image``. None: no environment.
        exposure_ev: Camera exposure in stops: linear pixel values are scaled by
            ``2 ** exposure_ev`` before the sRGB encoding.
        white_balance: (3,) float64 per-channel linear gains of the camera (1, 1, 1:
            neutral), applied with the exposure to every pixel, background included.
        render_seed: Seed of the renderer's own random choices (a path tracer's
            sampling pattern, its depth of field and motion blur draws): the sample's
            render stream (``synthgen.core.streams.RENDER_STREAM``), 0 when drawn by hand.
        problems: Why the sampler could not draw the scene as configured (a physics drop
            whose objects left the support after every redraw); a sample with problems
            is rendered but quarantined with them.
        lidar: A LiDAR on the camera rig (``LidarSensor``: pattern, mount, sensor model), or
            None: its sweep is cast against the same objects for every sample.
    """

    camera: Camera
    objects: tuple[SceneObject, ...]
    lights: tuple[Light, ...] = ()
    categories: tuple[CategoryInfo, ...] = ()
    ambient: np.ndarray = field(default_factory=lambda: np.full(3, 0.3))
    background: np.ndarray = field(default_factory=lambda: np.zeros(3))
    background_image: np.ndarray | None = None
    polylines: tuple[Polyline, ...] = ()
    environment: EnvironmentMap | None = None
    exposure_ev: float = 0.0
    white_balance: np.ndarray = field(default_factory=lambda: np.ones(3))
    render_seed: int = 0
    problems: tuple[str, ...] = ()
    lidar: LidarSensor | None = None

    def __post_init__(self):
        if not 0 <= self.render_seed < 2**32:
            raise ValueError(f"SceneSpec.render_seed must be in [0, 2**32), got {self.render_seed}")
        object.__setattr__(self, "white_balance", _as_matrix(self.white_balance, (3,), "SceneSpec.white_balance"))
        if np.any(self.white_balance <= 0) or not -20 <= self.exposure_ev <= 20:
            raise ValueError("SceneSpec: white_balance gains must be positive and exposure_ev within [-20, 20]")
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
