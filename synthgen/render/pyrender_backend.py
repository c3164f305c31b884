"""pyrender backend: headless OpenGL rendering of ``SceneSpec`` objects.

One ``pyrender.OffscreenRenderer`` per process, created on first use and reused by
every ``PyrenderRenderer`` (EGL breaks when one of two live renderers is deleted).
Geometry is uploaded once per (mesh, slot) and kept in a persistent pyrender scene:
unused nodes are hidden instead of removed, because pyrender frees the GPU buffers of
meshes that leave the scene.

Geometry made for one sample (``MeshGeometry.cacheable`` False) is added for that
frame only. Textures are uploaded once per ``Texture.key`` while in use (a small LRU,
at most 64 textures and 32 MiB, keeps recent ones); every pooled mesh carries texture
coordinates so any object can take a texture.

Draw and light order is fixed per sample: pyrender keeps nodes in sets, which iterate
in memory-address order, so the order in which lights were summed in the shader (and
meshes at equal camera distance were drawn) varied between identical runs, flipping a few
pixels by one grey level on a loaded machine. ``_OrderedScene`` lists them by a key each
node gets from the sample's own content instead.

Passes per image: an anti-aliased RGB pass (RGBA against a transparent background
when a background image is composited behind it); a flat-colour SEG pass (no MSAA) that
encodes instance ids as 24-bit colours and whose depth, sampled at pixel centres, is
the depth map; and SEG passes with instance subsets for amodal masks (see
``synthgen.render.amodal``).
"""

from __future__ import annotations

import collections
import logging
import os

# The platform must be chosen before OpenGL is first imported; EGL renders headless
# with or without a GPU. Users may still pick osmesa by setting the variable themselves.
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import numpy as np  # noqa: E402

# pyrender 0.1.45 uses np.infty, which numpy 2 removed; restore the alias in one place.
if not hasattr(np, "infty"):
    np.infty = np.inf

# PyOpenGL logs an INFO line about its optional accelerator module at import.
logging.getLogger("OpenGL").setLevel(logging.WARNING)

import pyrender  # noqa: E402
import trimesh  # noqa: E402

from synthgen.core import Light, MeshGeometry, RenderOutput, SceneObject, SceneSpec, Texture  # noqa: E402
from synthgen.core.errors import ConfigError  # noqa: E402
from synthgen.core.validation import check_number  # noqa: E402
from synthgen.render.amodal import plan_amodal_passes  # noqa: E402

__all__ = ["PyrenderRenderer", "decode_ids", "encode_id"]

# OpenCV camera axes (x right, y down, z forward) -> OpenGL camera axes (y up, z back).
_CV_TO_GL = np.diag([1.0, -1.0, -1.0, 1.0])
_MAX_ID = 2**24 - 1
_TEXTURE_CACHE_SIZE = 64
_TEXTURE_CACHE_BYTES = 32 * 2**20

_OFFSCREEN: pyrender.OffscreenRenderer | None = None


def _offscreen(width: int, height: int) -> pyrender.OffscreenRenderer:
    global _OFFSCREEN
    if _OFFSCREEN is None:
        _OFFSCREEN = pyrender.OffscreenRenderer(width, height)
    _OFFSCREEN.viewport_width = width
    _OFFSCREEN.viewport_height = height
    return _OFFSCREEN


def _order(node: pyrender.Node) -> tuple:
    return node.synthgen_order


class _OrderedScene(pyrender.Scene):
    """A pyrender scene that lists its mesh and light nodes in a fixed order.

    pyrender's renderer sums the lights in ``light_nodes`` order and draws meshes sorted
    by camera distance, ties in ``mesh_nodes`` order; pyrender's own sets give an order
    that depends on where the nodes happen to live in memory. Every node added through
    ``add_ordered`` carries ``synthgen_order``, a key that depends only on the sample.
    """

    def add_ordered(self, item, order: tuple, pose: np.ndarray | None = None) -> pyrender.Node:
        node = self.add(item, pose=pose)
        node.synthgen_order = order
        return node

    @property
    def mesh_nodes(self) -> list[pyrender.Node]:
        return sorted(self._mesh_nodes, key=_order)

    @property
    def light_nodes(self) -> list[pyrender.Node]:
        return sorted(self._point_light_nodes | self._spot_light_nodes | self._directional_light_nodes, key=_order)


def encode_id(instance_id: int) -> tuple[int, int, int]:
    """The SEG colour (r, g, b) of an instance id (little-endian 24-bit)."""
    return instance_id & 255, (instance_id >> 8) & 255, (instance_id >> 16) & 255


def decode_ids(seg: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 SEG image -> (H, W) int32 instance ids."""
    seg = seg.astype(np.int32)
    return seg[..., 0] | (seg[..., 1] << 8) | (seg[..., 2] << 16)


def _light_pose(direction: np.ndarray) -> np.ndarray:
    # pyrender lights shine along their node's -z axis.
    back = -np.asarray(direction, dtype=np.float64)
    back /= np.linalg.norm(back)
    helper = np.array([0.0, 0.0, 1.0]) if abs(back[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    x_axis = np.cross(helper, back)
    x_axis /= np.linalg.norm(x_axis)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([x_axis, np.cross(back, x_axis), back], axis=1)
    return pose


class PyrenderRenderer:
    """Renders scenes with pyrender (EGL by default, headless, no GPU needed).

    Args:
        width: Image width in pixels.
        height: Image height in pixels.
        znear: Near clipping distance in metres.
        zfar: Far clipping distance in metres.
        shadows: Cast shadows from directional and spot lights (shadow maps; slower).
    """

    def __init__(self, width: int = 640, height: int = 480, znear: float = 0.01, zfar: float = 100.0,
                 shadows: bool = False):
        self.width = check_number("width", width, minimum=16, maximum=8192, integer=True)
        self.height = check_number("height", height, minimum=16, maximum=8192, integer=True)
        self.znear = check_number("znear", znear, minimum=0.0, exclusive_minimum=True)
        self.zfar = check_number("zfar", zfar, minimum=0.0, exclusive_minimum=True)
        if self.zfar <= self.znear:
            raise ConfigError(f"zfar: must be greater than znear ({self.znear}), got {self.zfar}")
        if not isinstance(shadows, bool):
            raise ConfigError(f"shadows: must be true or false, got {shadows!r}")
        self._color_flags = pyrender.RenderFlags.NONE
        if shadows:
            self._color_flags |= pyrender.RenderFlags.SHADOWS_DIRECTIONAL | pyrender.RenderFlags.SHADOWS_SPOT
        self._scene = _OrderedScene()
        self._pool: dict[tuple[str, int], pyrender.Node] = {}
        self._frame_nodes: list[pyrender.Node] = []
        self._textures: collections.OrderedDict[str, pyrender.Texture] = collections.OrderedDict()

    def render(self, spec: SceneSpec, amodal: bool = True) -> RenderOutput:
        """Render one scene.

        Args:
            spec: The scene; its camera must match this renderer's width and height.
            amodal: Also render amodal masks.

        Returns:
            RGB, depth, instance ids and (when asked) amodal masks.
        """
        camera = spec.camera
        if (camera.width, camera.height) != (self.width, self.height):
            raise ValueError(
                f"scene camera is {camera.width}x{camera.height} but the renderer is {self.width}x{self.height}"
            )
        renderer = _offscreen(self.width, self.height)
        nodes = self._prepare(spec)
        image = self._render_color(renderer, spec)
        id_colors = {node: encode_id(obj.instance_id) for node, obj in nodes}
        seg, depth = renderer.render(self._scene, flags=pyrender.RenderFlags.SEG, seg_node_map=id_colors)
        output = RenderOutput(np.ascontiguousarray(image), depth.astype(np.float32), decode_ids(seg))
        if amodal:
            self._render_amodal(renderer, spec, nodes, output)
        return output

    def _render_color(self, renderer, spec: SceneSpec) -> np.ndarray:
        if spec.background_image is None:
            return renderer.render(self._scene, flags=self._color_flags)[0]
        # Premultiplied colour over a transparent background, then "over" the image:
        # anti-aliased edges blend into the background as they would into a colour.
        self._scene.bg_color = np.zeros(4)
        rgba, _ = renderer.render(self._scene, flags=pyrender.RenderFlags.RGBA | self._color_flags)
        transparency = (255 - rgba[..., 3:].astype(np.uint16))
        composite = rgba[..., :3] + (spec.background_image * transparency + 127) // 255
        return np.minimum(composite, 255).astype(np.uint8)

    def _render_amodal(self, renderer, spec: SceneSpec, nodes, output: RenderOutput) -> None:
        plan = plan_amodal_passes(spec)
        for instance_id in plan.unoccludable:
            output.amodal_masks[instance_id] = self._footprint_mask(output.instance_ids, instance_id, plan)
        node_of = {obj.instance_id: node for node, obj in nodes if obj.is_instance}
        for members in plan.passes:
            seg_map = {node_of[i]: encode_id(i) for i in members}
            seg, _ = renderer.render(self._scene, flags=pyrender.RenderFlags.SEG, seg_node_map=seg_map)
            for instance_id in members:
                output.amodal_masks[instance_id] = self._footprint_mask(seg, instance_id, plan)
            output.amodal_passes += 1

    def _footprint_mask(self, ids_or_seg: np.ndarray, instance_id: int, plan) -> np.ndarray:
        """(H, W) bool, Fortran-ordered mask of an id, decoded only inside its footprint."""
        x0, y0, x1, y1 = plan.boxes[instance_id].astype(int)
        window = ids_or_seg[y0:y1, x0:x1]
        mask = np.zeros((self.height, self.width), dtype=bool, order="F")
        mask[y0:y1, x0:x1] = (decode_ids(window) if window.ndim == 3 else window) == instance_id
        return mask

    def _prepare(self, spec: SceneSpec) -> list[tuple[pyrender.Node, SceneObject]]:
        """Show the scene's objects in the persistent pyrender scene; hide the rest."""
        for node in self._pool.values():
            node.mesh.is_visible = False
        for node in self._frame_nodes:
            self._scene.remove_node(node)
        self._frame_nodes = []
        used: dict[str, int] = {}
        nodes = []
        for position, obj in enumerate(spec.objects):
            if obj.mesh.cacheable:
                slot = used.get(obj.mesh.key, 0)
                used[obj.mesh.key] = slot + 1
                node = self._pool_node(obj.mesh, slot)
                node.mesh.is_visible = True
            else:
                node = self._scene.add_ordered(_render_mesh(obj.mesh), ("frame", "", position))
                self._frame_nodes.append(node)
            material = node.mesh.primitives[0].material
            material.baseColorFactor = obj.color
            material.metallicFactor = obj.metallic
            material.roughnessFactor = obj.roughness
            material.baseColorTexture = None if obj.texture is None else self._texture(obj.texture)
            self._scene.set_pose(node, obj.object_to_world)
            nodes.append((node, obj))
        self._scene.ambient_light = np.asarray(spec.ambient, dtype=np.float64)
        self._scene.bg_color = np.append(spec.background, 1.0)
        self._add_camera(spec)
        for position, light in enumerate(spec.lights):
            source, pose = _light_source(light)
            self._frame_nodes.append(self._scene.add_ordered(source, ("light", "", position), pose=pose))
        return nodes

    def _texture(self, texture: Texture) -> pyrender.Texture:
        if texture.key in self._textures:
            self._textures.move_to_end(texture.key)
        else:
            # RGBA rows are always 4-byte aligned; pyrender uploads with OpenGL's default
            # unpack alignment of 4, which skews RGB images whose width * 3 is not.
            rgba = np.concatenate([texture.image, np.full(texture.image.shape[:2] + (1,), 255, np.uint8)], axis=2)
            self._textures[texture.key] = pyrender.Texture(source=rgba, source_channels="RGBA")
            # Bounded by count and bytes (per-sample textures are never reused); an
            # evicted texture is freed once no material uses it.
            while len(self._textures) > 1 and (
                len(self._textures) > _TEXTURE_CACHE_SIZE
                or sum(t.source.nbytes for t in self._textures.values()) > _TEXTURE_CACHE_BYTES
            ):
                self._textures.popitem(last=False)
        return self._textures[texture.key]

    def _add_camera(self, spec: SceneSpec) -> None:
        K = spec.camera.K
        camera = pyrender.IntrinsicsCamera(K[0, 0], K[1, 1], K[0, 2], K[1, 2], znear=self.znear, zfar=self.zfar)
        camera_to_world = np.linalg.inv(spec.camera.world_to_camera) @ _CV_TO_GL
        node = self._scene.add(camera, pose=camera_to_world)
        self._scene.main_camera_node = node
        self._frame_nodes.append(node)

    def _pool_node(self, geometry: MeshGeometry, slot: int) -> pyrender.Node:
        key = (geometry.key, slot)
        if key not in self._pool:
            self._pool[key] = self._scene.add_ordered(_render_mesh(geometry), ("pool", str(geometry.key), slot))
        return self._pool[key]


def _render_mesh(geometry: MeshGeometry) -> pyrender.Mesh:
    """A pyrender mesh with texture coordinates and its own material."""
    visual = trimesh.visual.TextureVisuals(uv=geometry.texture_coordinates())
    mesh = trimesh.Trimesh(geometry.vertices, geometry.faces, visual=visual, process=False)
    if geometry.smooth:
        # Interpolate normals across gentle curvature only; keep sharp rims sharp
        # (smooth_shade splits vertices; it carries the texture coordinates along).
        mesh = trimesh.graph.smooth_shade(mesh, angle=np.deg2rad(30))
    material = pyrender.MetallicRoughnessMaterial(alphaMode="OPAQUE")
    return pyrender.Mesh.from_trimesh(mesh, material=material, smooth=geometry.smooth)


def _light_source(light: Light) -> tuple[pyrender.Light, np.ndarray]:
    """The pyrender light and its pose (pyrender lights shine along their -z axis)."""
    if light.kind == "point":
        pose = np.eye(4)
        pose[:3, 3] = light.position
        return pyrender.PointLight(color=light.color, intensity=light.intensity), pose
    pose = _light_pose(light.direction)
    if light.kind == "directional":
        return pyrender.DirectionalLight(color=light.color, intensity=light.intensity), pose
    pose[:3, 3] = light.position
    spot = pyrender.SpotLight(
        color=light.color, intensity=light.intensity,
        innerConeAngle=np.deg2rad(light.inner_cone_deg), outerConeAngle=np.deg2rad(light.outer_cone_deg),
    )
    return spot, pose
