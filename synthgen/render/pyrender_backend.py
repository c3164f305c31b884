"""pyrender backend: headless OpenGL rendering of ``SceneSpec`` objects.

One ``pyrender.OffscreenRenderer`` per process, created on first use and reused by
every ``PyrenderRenderer`` (EGL breaks when one of two live renderers is deleted).
Geometry is uploaded once per (mesh, slot) and kept in a persistent pyrender scene:
unused nodes are hidden instead of removed, because pyrender frees the GPU buffers of
meshes that leave the scene.

Geometry made for one sample (``MeshGeometry.cacheable`` False) is added for that
frame only. A mesh of several parts (a file with several materials) is one node with
one primitive per part. Textures are uploaded once per ``Texture.key`` while in use (an
LRU of at most 256 textures and 512 MiB keeps recent ones); every pooled mesh carries
texture coordinates so any object can take a texture.

Colour: pyrender decodes textures with the sRGB curve but writes ``linear ** (1/2.2)``;
its output is re-encoded to sRGB (``camera_response.gamma22_to_srgb_table``). The
camera's exposure and white balance scale the lights (so highlights are not clipped
before the exposure) and, through a table, the background. Environment maps are
approximated by lights (``synthgen.render.environment_light``).

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

from synthgen.core import (  # noqa: E402
    Light,
    Material,
    MeshGeometry,
    RenderOutput,
    SceneObject,
    SceneSpec,
    Texture,
    rotation_facing,
)
from synthgen.core.caching import ByteBudgetCache  # noqa: E402
from synthgen.core.errors import ConfigError  # noqa: E402
from synthgen.core.validation import check_number  # noqa: E402
from synthgen.render.amodal import plan_amodal_passes  # noqa: E402
from synthgen.render.camera_response import (  # noqa: E402
    apply_table,
    camera_gains,
    encode_linear,
    gamma22_to_srgb_table,
    srgb_gain_table,
)
from synthgen.render.environment_light import approximate_lighting, environment_background  # noqa: E402
from synthgen.render.mesh_arrays import object_surfaces, shading_arrays  # noqa: E402

__all__ = ["PyrenderRenderer", "decode_ids", "encode_id"]

# OpenCV camera axes (x right, y down, z forward) -> OpenGL camera axes (y up, z back).
_CV_TO_GL = np.diag([1.0, -1.0, -1.0, 1.0])
_MAX_ID = 2**24 - 1
_TEXTURE_CACHE_SIZE = 256
_TEXTURE_CACHE_BYTES = 512 * 2**20
_DISPLAY_TO_SRGB = gamma22_to_srgb_table()

_OFFSCREEN: pyrender.OffscreenRenderer | None = None


def _offscreen(width: int, height: int) -> pyrender.OffscreenRenderer:
    global _OFFSCREEN
    if _OFFSCREEN is None:
        _OFFSCREEN = pyrender.OffscreenRenderer(width, height)
    _OFFSCREEN.viewport_width = width
    _OFFSCREEN.viewport_height = height
    return _OFFSCREEN


def _uploadable(texture: Texture, opaque: bool) -> pyrender.Texture:
    """A pyrender texture of ``texture`` as RGBA (its alpha dropped when ``opaque``)."""
    # RGBA rows are always 4-byte aligned; pyrender uploads with OpenGL's default unpack
    # alignment of 4, which skews RGB images whose width * 3 is not.
    rgba = texture.image[..., :3] if opaque else texture.image
    if rgba.shape[2] == 3:
        rgba = np.concatenate([rgba, np.full(rgba.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return pyrender.Texture(source=rgba, source_channels="RGBA")


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
    pose = np.eye(4)
    pose[:3, :3] = rotation_facing(direction)
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
        # Bounded by count and bytes (per-sample textures are never reused); an evicted
        # texture is freed once no material uses it.
        self._textures: ByteBudgetCache[pyrender.Texture] = ByteBudgetCache(
            _TEXTURE_CACHE_BYTES, lambda uploaded: uploaded.source.nbytes, max_items=_TEXTURE_CACHE_SIZE)

    def render(self, spec: SceneSpec, amodal: bool = True, color: bool = True) -> RenderOutput:
        """Render one scene.

        Args:
            spec: The scene; its camera must match this renderer's width and height.
            amodal: Also render amodal masks.
            color: Render the RGB image; False leaves it black (another backend,
                such as Cycles, draws the image and takes the labels from here).

        Returns:
            RGB, depth, instance ids and (when asked) amodal masks.
        """
        camera = spec.camera
        if (camera.width, camera.height) != (self.width, self.height):
            raise ValueError(
                f"scene camera is {camera.width}x{camera.height} but the renderer is {self.width}x{self.height}"
            )
        renderer = _offscreen(self.width, self.height)
        nodes = self._prepare(spec, color)
        image = self._render_color(renderer, spec) if color else np.zeros((self.height, self.width, 3), np.uint8)
        id_colors = {node: encode_id(obj.instance_id) for node, obj in nodes}
        seg, depth = renderer.render(self._scene, flags=pyrender.RenderFlags.SEG, seg_node_map=id_colors)
        output = RenderOutput(np.ascontiguousarray(image), depth.astype(np.float32), decode_ids(seg))
        if amodal:
            self._render_amodal(renderer, spec, nodes, output)
        return output

    def _render_color(self, renderer, spec: SceneSpec) -> np.ndarray:
        # Premultiplied colour over a transparent background, then "over" the background:
        # anti-aliased edges blend into it as they would into a clear colour.
        self._scene.bg_color = np.zeros(4)
        rgba, _ = renderer.render(self._scene, flags=pyrender.RenderFlags.RGBA | self._color_flags)
        surface = apply_table(np.ascontiguousarray(rgba[..., :3]), _DISPLAY_TO_SRGB)
        transparency = (255 - rgba[..., 3:].astype(np.uint16))
        composite = surface + (self._background(spec) * transparency + 127) // 255
        return np.minimum(composite, 255).astype(np.uint8)

    def _background(self, spec: SceneSpec) -> np.ndarray:
        """(H, W, 3) or (3,) uint8 sRGB seen where no surface is hit, through the camera's gains."""
        gains = camera_gains(spec.exposure_ev, spec.white_balance)
        if spec.environment is not None and spec.environment.visible:
            return encode_linear(environment_background(spec.environment, spec.camera) * gains.astype(np.float32))
        if spec.background_image is not None:
            image = spec.background_image
        else:
            image = np.clip(np.rint(np.asarray(spec.background) * 255), 0, 255).astype(np.uint8)[None, None, :]
        if np.allclose(gains, 1.0):
            return image
        return apply_table(image, srgb_gain_table(gains))

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

    def _prepare(self, spec: SceneSpec, color: bool = True) -> list[tuple[pyrender.Node, SceneObject]]:
        """Show the scene's objects in the persistent pyrender scene; hide the rest. Surfaces
        only with ``color``: the SEG passes draw flat ids and never sample a material."""
        for node in self._pool.values():
            node.mesh.is_visible = False
        for node in self._frame_nodes:
            self._scene.remove_node(node)
        self._frame_nodes = []
        used: dict[tuple[str, bool], int] = {}
        nodes = []
        gains = camera_gains(spec.exposure_ev, spec.white_balance)
        for position, obj in enumerate(spec.objects):
            # Vertex colours belong to a file's own appearance (materials); without it they are not shown.
            with_colors = bool(obj.materials) and obj.mesh.colors is not None
            if obj.mesh.cacheable:
                slot = used.get((obj.mesh.key, with_colors), 0)
                used[(obj.mesh.key, with_colors)] = slot + 1
                node = self._pool_node(obj.mesh, with_colors, slot)
                node.mesh.is_visible = True
            else:
                node = self._scene.add_ordered(_render_mesh(obj.mesh, with_colors), ("frame", "", position))
                self._frame_nodes.append(node)
            if color:
                self._set_materials(node, obj, gains)
            self._scene.set_pose(node, obj.object_to_world)
            nodes.append((node, obj))
        ambient, lights = np.asarray(spec.ambient, dtype=np.float64), spec.lights
        if spec.environment is not None:
            env_ambient, env_lights = approximate_lighting(spec.environment)
            ambient, lights = ambient + env_ambient, (*lights, *env_lights)
        self._scene.ambient_light = ambient * gains
        self._add_camera(spec)
        for position, light in enumerate(lights):
            source, pose = _light_source(light, gains)
            self._frame_nodes.append(self._scene.add_ordered(source, ("light", "", position), pose=pose))
        return nodes

    def _set_materials(self, node: pyrender.Node, obj: SceneObject, gains: np.ndarray) -> None:
        """Give each primitive of ``node`` its surface for this sample."""
        surfaces, tint = object_surfaces(obj)
        for primitive, surface in zip(node.mesh.primitives, surfaces):
            self._apply(primitive.material, surface, tint, gains)

    def _apply(self, target: pyrender.MetallicRoughnessMaterial, surface: Material, tint: np.ndarray,
               gains: np.ndarray) -> None:
        opaque = surface.alpha_mode == "OPAQUE"
        color = np.clip(surface.base_color * tint, 0.0, 1.0)
        if opaque:  # glTF: an opaque surface ignores alpha (pyrender would write it to the image)
            color[3] = 1.0
        target.baseColorFactor = color
        target.metallicFactor = surface.metallic
        target.roughnessFactor = surface.roughness
        target.baseColorTexture = self._texture(surface.base_color_texture, opaque=opaque)
        target.metallicRoughnessTexture = self._texture(surface.metallic_roughness_texture, linear=True)
        target.normalTexture = self._texture(surface.normal_texture, linear=True)
        # Emission is light leaving the surface: the camera's gains apply to it as to the lights.
        # pyrender's shader multiplies by the emissive factor twice; give it the square root.
        target.emissiveFactor = np.sqrt(surface.emissive * gains)
        target.emissiveTexture = self._texture(surface.emissive_texture)
        target.alphaMode = surface.alpha_mode
        target.alphaCutoff = surface.alpha_cutoff
        target.doubleSided = surface.double_sided

    def _texture(self, texture: Texture | None, linear: bool = False, opaque: bool = True) -> pyrender.Texture | None:
        if texture is None:
            return None
        opaque = opaque or texture.image.shape[2] == 3
        return self._textures.get((texture.key, linear, opaque), lambda: _uploadable(texture, opaque))

    def _add_camera(self, spec: SceneSpec) -> None:
        K = spec.camera.K
        camera = pyrender.IntrinsicsCamera(K[0, 0], K[1, 1], K[0, 2], K[1, 2], znear=self.znear, zfar=self.zfar)
        camera_to_world = np.linalg.inv(spec.camera.world_to_camera) @ _CV_TO_GL
        node = self._scene.add(camera, pose=camera_to_world)
        self._scene.main_camera_node = node
        self._frame_nodes.append(node)

    def _pool_node(self, geometry: MeshGeometry, with_colors: bool, slot: int) -> pyrender.Node:
        key = (geometry.key, with_colors, slot)
        if key not in self._pool:
            order = ("pool", str(geometry.key), int(with_colors), slot)
            self._pool[key] = self._scene.add_ordered(_render_mesh(geometry, with_colors), order)
        return self._pool[key]


def _render_mesh(geometry: MeshGeometry, with_colors: bool = False) -> pyrender.Mesh:
    """A pyrender mesh, one primitive (with texture coordinates and its own material) per part."""
    return pyrender.Mesh([_primitive(geometry, part, with_colors) for part in range(geometry.num_parts)])


def _primitive(geometry: MeshGeometry, part: int, with_colors: bool) -> pyrender.Primitive:
    arrays = shading_arrays(geometry, part, with_colors)
    return pyrender.Primitive(
        positions=arrays.positions, normals=arrays.normals, texcoord_0=arrays.uv, color_0=arrays.colors,
        indices=arrays.indices, material=pyrender.MetallicRoughnessMaterial(alphaMode="OPAQUE"),
        mode=pyrender.constants.GLTF.TRIANGLES,
    )


def _light_source(light: Light, gains: np.ndarray) -> tuple[pyrender.Light, np.ndarray]:
    """The pyrender light (its colour times the camera's gains) and its pose (shining along -z)."""
    color = np.asarray(light.color) * gains
    if light.kind == "point":
        pose = np.eye(4)
        pose[:3, 3] = light.position
        return pyrender.PointLight(color=color, intensity=light.intensity), pose
    pose = _light_pose(light.direction)
    if light.kind == "directional":
        return pyrender.DirectionalLight(color=color, intensity=light.intensity), pose
    pose[:3, 3] = light.position
    spot = pyrender.SpotLight(
        color=color, intensity=light.intensity,
        innerConeAngle=np.deg2rad(light.inner_cone_deg), outerConeAngle=np.deg2rad(light.outer_cone_deg),
    )
    return spot, pose
