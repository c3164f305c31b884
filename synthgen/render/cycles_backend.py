"""Cycles backend: path-traced images of ``SceneSpec`` objects with Blender's ``bpy``, labels from the raster pass.

The image is path traced by Cycles; depth, instance ids and amodal masks come from the
exact raster pass of the same spec (``PyrenderRenderer`` without its colour pass), so a
config gives the same labels, byte for byte, under ``render=pyrender`` and
``render=cycles``. Both backends draw the same vertex arrays
(``synthgen.render.mesh_arrays``) through the same camera, so Cycles' object-index pass
agrees with the raster id map away from edges (tested).

What is translated, in the units of the pyrender backend:

* Camera: K exactly (focal length from fx on a 36 mm sensor fitted horizontally, the
  principal point as lens shift; square pixels, as every synthgen camera has), the same
  extrinsics and clip range.
* Surfaces (``Material``, the glTF model) as a Principled BSDF: base colour factor x
  texture x vertex colours x the object's tint, metallic and roughness factors x the
  metallic-roughness texture (G, B), tangent-space normal map, emission, alpha
  (``MASK`` cut at ``alpha_cutoff``, ``BLEND`` as coverage).
* Lights: directional irradiance E W/m^2 -> a sun of strength E (a white diffuse surface
  facing it returns E / pi in both); point and spot intensity I cd -> a light of power
  4 pi I W (Blender's point and spot lights radiate P / (4 pi) W/sr whatever the cone);
  the spot cone from ``outer_cone_deg`` with the blend reaching ``inner_cone_deg``.
  Shadows always (point and spot lights are points; the sun 0.53 degrees wide).
* ``ambient`` (the radiance pyrender adds as albedo x ambient) is the world's uniform
  radiance; an environment map is the world itself, exactly (same equirectangular
  convention, rotation and strength), plus ``ambient``.
* Exposure and white balance multiply the linear image (everything the camera sees, as
  in pyrender), then the same sRGB encoding (``camera_response.encode_linear``). Where
  the environment is not shown, the film is transparent and the background colour or
  image is composited behind the premultiplied render in linear light.

Determinism: Cycles' seed is ``SceneSpec.render_seed`` (a per-sample stream, see
``synthgen.core.streams``), sampling is not adaptive and has no time limit, so the
same spec gives the same bytes on the same machine and device. Depth of field and
motion blur draw their parameters from a generator of the same seed.

One Blender scene per process (``bpy`` holds one): meshes and images become Blender data
once (by ``MeshGeometry.key`` and ``Texture.key``) and objects are pooled per (mesh, slot)
and hidden when a sample does not use them, like the pyrender node pool. Cycles re-syncs
its own copy of the scene each frame (persistent data off: with it on, memory grew).
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthgen.core import (
    Camera,
    EnvironmentMap,
    Light,
    Material,
    MeshGeometry,
    RenderOutput,
    SceneSpec,
    Texture,
    rotation_facing,
)
from synthgen.core.color import srgb_to_linear
from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_number, check_range_pair
from synthgen.render.camera_response import camera_gains, encode_linear
from synthgen.render.mesh_arrays import object_surfaces, shading_arrays
from synthgen.render.pyrender_backend import PyrenderRenderer

__all__ = ["BPY_VERSION", "CyclesRenderer", "blender_camera", "import_bpy"]

BPY_VERSION = "5.0.1"
_PYTHON = (3, 11)
_SENSOR_WIDTH_MM = 36.0
_SUN_ANGLE = math.radians(0.53)
_TEXTURE_CACHE_SIZE = 256
_DEVICES = ("auto", "cpu", "gpu")
_GPU_BACKENDS = ("OPTIX", "CUDA", "HIP", "ONEAPI")
_SRGB_TO_LINEAR = srgb_to_linear(np.arange(256)).astype(np.float32)  # 8-bit sRGB level -> linear
_CV_TO_BLENDER = np.diag([1.0, -1.0, -1.0, 1.0])  # OpenCV camera axes -> Blender's (y up, looking along -z)


def import_bpy():
    """Blender's ``bpy`` module, or one ConfigError naming the extra and the supported Python.

    Raises:
        ConfigError: bpy is not installed, or not the version synthgen is tested with.
    """
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    wanted = f"{_PYTHON[0]}.{_PYTHON[1]}"
    install = f"pip install 'synthgen[cycles]' (bpy {BPY_VERSION}, which exists for CPython {wanted} only; this is {here})"
    if "bpy" not in sys.modules:
        _drop_blender_paths()
    try:
        import bpy
    except ImportError as error:
        raise ConfigError(f"Cycles needs Blender's bpy module: {install}; import failed: {error}") from None
    if bpy.app.version_string.split()[0] != BPY_VERSION:
        raise ConfigError(f"Cycles: bpy {bpy.app.version_string} is installed, synthgen needs {BPY_VERSION}: {install}")
    return bpy


def _drop_blender_paths() -> None:
    """Forget folders inside the bpy wheel that a parent process's sys.path passed on.

    Importing bpy puts Blender's own script folders on sys.path, among them a pure-Python
    ``bpy`` package; a worker process started with the parent's sys.path would import that
    one instead of the wheel (and fail on ``_bpy``).
    """
    inside_wheel = f"site-packages{os.sep}bpy{os.sep}"
    sys.path[:] = [entry for entry in sys.path if inside_wheel not in entry]


@contextlib.contextmanager
def _quiet():
    """Blender prints progress and "Saved: ..." lines on the process's stdout; keep them off it."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def blender_camera(camera: Camera) -> dict:
    """Blender camera settings that reproduce ``camera``'s intrinsics exactly.

    Returns:
        ``lens`` (mm) and ``sensor_width`` (mm, fitted horizontally), ``shift_x`` and
        ``shift_y`` (principal point offsets in image widths) and ``matrix_world``
        ((4, 4) float64 camera -> world in Blender's camera axes).

    Raises:
        ConfigError: K has skew or non-square pixels (fx != fy), which Blender's camera
            cannot express (its pixel aspect setting fails to save the render here).
    """
    K = camera.K
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    if abs(K[0, 1]) > 1e-9 or abs(fx - fy) > 1e-9 * fx:
        raise ConfigError(f"Cycles: the camera has skew or non-square pixels (K = {K.tolist()}); Cycles renders "
                          "square pixels without skew: use fx == fy and K[0, 1] == 0, or render=pyrender")
    return {
        "lens": fx * _SENSOR_WIDTH_MM / camera.width,
        "sensor_width": _SENSOR_WIDTH_MM,
        # Continuous pixel coordinates: the image centre is (width / 2, height / 2).
        "shift_x": (camera.width / 2.0 - cx) / camera.width,
        "shift_y": (cy - camera.height / 2.0) / camera.width,
        "matrix_world": np.linalg.inv(camera.world_to_camera) @ _CV_TO_BLENDER,
    }


@dataclass
class _Surface:
    """The nodes of one pooled material whose values change per sample."""

    material: object
    principled: object
    base_texture: object
    base_factor: object
    alpha_factor: object
    alpha_cut: object
    mr_texture: object
    roughness: object
    metallic: object
    normal_texture: object
    normal_map: object
    emission_texture: object
    emission_factor: object
    mode: tuple = ()


class _BlenderScene:
    """The process's one Blender scene: uploaded meshes and images, pooled objects, lights, world."""

    def __init__(self, bpy):
        self.bpy = bpy
        with _quiet():
            bpy.ops.wm.read_factory_settings(use_empty=True)
        self.scene = bpy.context.scene
        self.folder = Path(tempfile.mkdtemp(prefix="synthgen-cycles-"))
        atexit.register(shutil.rmtree, self.folder, ignore_errors=True)
        self.meshes: dict[tuple[str, bool], object] = {}
        self.pool: dict[tuple[str, bool, int], tuple[object, list[_Surface]]] = {}
        self.frame: list[object] = []
        self.images: collections.OrderedDict[tuple, object] = collections.OrderedDict()
        self.lights: dict[str, list[object]] = {"SUN": [], "POINT": [], "SPOT": []}
        self.white = self._constant_image("synthgen-white", (1.0, 1.0, 1.0, 1.0))
        self.black_environment = self._constant_image("synthgen-no-environment", (0.0, 0.0, 0.0, 1.0), float_buffer=True)
        self.openimageio = _blender_openimageio(bpy)
        self._setup_scene()
        self._setup_world()
        self._setup_camera()

    # -- set-up ------------------------------------------------------------------------------
    def _setup_scene(self) -> None:
        scene = self.scene
        scene.render.engine = "CYCLES"
        scene.cycles.use_adaptive_sampling = False
        scene.cycles.time_limit = 0.0
        scene.cycles.use_animated_seed = False
        scene.render.resolution_percentage = 100
        scene.render.use_compositing = False
        scene.render.use_sequencer = False
        # Persistent data grew RSS by ~20 MiB per 100 tabletop images (textures come and go); the
        # scene is re-synced each frame instead, which costs little at these scene sizes.
        scene.render.use_persistent_data = False
        scene.view_settings.view_transform = "Standard"
        scene.view_settings.look = "None"
        scene.render.fps, scene.render.fps_base = 1, 1.0  # motion blur shutters are then in seconds
        scene.frame_current = 1
        layer = scene.view_layers[0]
        layer.use_pass_object_index = True
        settings = scene.render.image_settings
        settings.media_type = "MULTI_LAYER_IMAGE"
        settings.file_format = "OPEN_EXR_MULTILAYER"
        settings.color_depth = "32"
        settings.exr_codec = "NONE"
        scene.render.filepath = str(self.folder / "render.exr")

    def _setup_world(self) -> None:
        bpy = self.bpy
        world = bpy.data.worlds.new("synthgen-world")
        self.scene.world = world
        nodes, links = world.node_tree.nodes, world.node_tree.links
        nodes.clear()
        coordinates = nodes.new("ShaderNodeTexCoord")
        self.env_mapping = nodes.new("ShaderNodeMapping")
        self.env_mapping.vector_type = "VECTOR"
        self.env_texture = nodes.new("ShaderNodeTexEnvironment")
        self.env_texture.interpolation = "Linear"
        self.env_texture.image = self.black_environment
        self.env_strength = nodes.new("ShaderNodeVectorMath")
        self.env_strength.operation = "SCALE"
        self.ambient = nodes.new("ShaderNodeVectorMath")
        self.ambient.operation = "ADD"
        background = nodes.new("ShaderNodeBackground")
        output = nodes.new("ShaderNodeOutputWorld")
        links.new(coordinates.outputs["Generated"], self.env_mapping.inputs["Vector"])
        links.new(self.env_mapping.outputs["Vector"], self.env_texture.inputs["Vector"])
        links.new(self.env_texture.outputs["Color"], self.env_strength.inputs[0])
        links.new(self.env_strength.outputs["Vector"], self.ambient.inputs[0])
        links.new(self.ambient.outputs["Vector"], background.inputs["Color"])
        background.inputs["Strength"].default_value = 1.0
        links.new(background.outputs["Background"], output.inputs["Surface"])

    def _setup_camera(self) -> None:
        bpy = self.bpy
        data = bpy.data.cameras.new("synthgen-camera")
        data.sensor_fit = "HORIZONTAL"
        data.sensor_width = _SENSOR_WIDTH_MM
        self.camera = bpy.data.objects.new("synthgen-camera", data)
        self.scene.collection.objects.link(self.camera)
        self.scene.camera = self.camera

    def _constant_image(self, name: str, rgba: tuple, data: bool = False, float_buffer: bool = False):
        image = self.bpy.data.images.new(name, 1, 1, alpha=True, float_buffer=float_buffer)
        image.colorspace_settings.name = "Non-Color" if data else ("Linear Rec.709" if float_buffer else "sRGB")
        image.generated_color = rgba
        return image

    # -- uploads -----------------------------------------------------------------------------
    def image(self, texture: Texture, data: bool, keep: set) -> object:
        """The Blender image of a texture (uploaded once per key while in the LRU)."""
        key = (texture.key, data)
        if key in self.images:
            self.images.move_to_end(key)
        else:
            pixels = texture.image
            if pixels.shape[2] == 3:
                pixels = np.concatenate([pixels, np.full(pixels.shape[:2] + (1,), 255, np.uint8)], axis=2)
            height, width = pixels.shape[:2]
            image = self.bpy.data.images.new(f"synthgen-texture-{len(self.images)}", width, height, alpha=True)
            image.colorspace_settings.name = "Non-Color" if data else "sRGB"
            # Blender images start at the bottom row; Texture row 0 is the top (v = 1).
            image.pixels.foreach_set((pixels[::-1].astype(np.float32) / 255.0).ravel())
            self.images[key] = image
            # Least recently used first; never one this sample uses (bounded by what one sample needs).
            evictable = [k for k in self.images if k not in keep]
            for old_key in evictable[:max(len(self.images) - _TEXTURE_CACHE_SIZE, 0)]:
                self.bpy.data.images.remove(self.images.pop(old_key))
        keep.add(key)
        return self.images[key]

    def environment_image(self, env: EnvironmentMap) -> object:
        key = ("environment", env.key)
        if key not in self.images:
            height, width = env.radiance.shape[:2]
            image = self.bpy.data.images.new(f"synthgen-environment-{len(self.images)}", width, height,
                                             alpha=True, float_buffer=True)
            image.colorspace_settings.name = "Linear Rec.709"
            rgba = np.concatenate([env.radiance, np.ones((height, width, 1), np.float32)], axis=2)
            image.pixels.foreach_set(rgba[::-1].ravel())
            self.images[key] = image
        self.images.move_to_end(key)
        return self.images[key]

    def mesh(self, geometry: MeshGeometry, with_colors: bool) -> object:
        key = (geometry.key, with_colors)
        if key not in self.meshes:
            self.meshes[key] = self._build_mesh(geometry, with_colors, f"synthgen-mesh-{len(self.meshes)}")
        return self.meshes[key]

    def _build_mesh(self, geometry: MeshGeometry, with_colors: bool, name: str) -> object:
        parts = [shading_arrays(geometry, part, with_colors) for part in range(geometry.num_parts)]
        offsets = np.cumsum([0] + [len(p.positions) for p in parts])
        positions = np.concatenate([p.positions for p in parts])
        triangles = np.concatenate([p.indices.astype(np.int64) + offset for p, offset in zip(parts, offsets)])
        materials = np.concatenate([np.full(len(p.indices), i, np.int32) for i, p in enumerate(parts)])
        mesh = self.bpy.data.meshes.new(name)
        mesh.vertices.add(len(positions))
        mesh.vertices.foreach_set("co", positions.ravel())
        mesh.loops.add(triangles.size)
        mesh.loops.foreach_set("vertex_index", triangles.ravel().astype(np.int32))
        mesh.polygons.add(len(triangles))
        mesh.polygons.foreach_set("loop_start", np.arange(0, triangles.size, 3, dtype=np.int32))
        mesh.polygons.foreach_set("material_index", materials)
        mesh.polygons.foreach_set("use_smooth", np.ones(len(triangles), bool))
        uv = np.concatenate([p.uv for p in parts])
        mesh.uv_layers.new(name="UVMap").data.foreach_set("uv", uv[triangles.ravel()].ravel())
        if with_colors:
            colors = np.concatenate([p.colors for p in parts])
            mesh.color_attributes.new("Col", "FLOAT_COLOR", "POINT").data.foreach_set("color", colors.ravel())
        mesh.update()
        # The shading normals of the arrays, per vertex (the same pyrender interpolates).
        mesh.normals_split_custom_set_from_vertices(np.concatenate([p.normals for p in parts]).astype(np.float64))
        return mesh

    def pooled_object(self, geometry: MeshGeometry, with_colors: bool, slot: int) -> tuple[object, list[_Surface]]:
        key = (geometry.key, with_colors, slot)
        if key not in self.pool:
            mesh = self.mesh(geometry, with_colors)
            self.pool[key] = self._new_object(mesh, geometry.num_parts, with_colors, f"synthgen-object-{len(self.pool)}")
        return self.pool[key]

    def frame_object(self, geometry: MeshGeometry, with_colors: bool) -> tuple[object, list[_Surface]]:
        """An object for this sample only (geometry that is not cacheable), removed at the next sample."""
        mesh = self._build_mesh(geometry, with_colors, f"synthgen-frame-mesh-{len(self.frame)}")
        entry = self._new_object(mesh, geometry.num_parts, with_colors, f"synthgen-frame-{len(self.frame)}")
        self.frame.append(entry)
        return entry

    def clear_frame(self) -> None:
        for obj, surfaces in self.frame:
            mesh = obj.data
            self.bpy.data.objects.remove(obj)
            self.bpy.data.meshes.remove(mesh)
            for surface in surfaces:
                self.bpy.data.materials.remove(surface.material)
        self.frame = []

    def _new_object(self, mesh, parts: int, with_colors: bool, name: str) -> tuple[object, list[_Surface]]:
        obj = self.bpy.data.objects.new(name, mesh)
        while len(mesh.materials) < parts:
            mesh.materials.append(None)
        # Materials linked to the object, not the shared mesh: two objects of one mesh differ in colour.
        surfaces = [self._new_surface(f"{name}-{part}", with_colors) for part in range(parts)]
        for slot, surface in zip(obj.material_slots, surfaces):
            slot.link = "OBJECT"
            slot.material = surface.material
        self.scene.collection.objects.link(obj)
        return obj, surfaces

    def _new_surface(self, name: str, with_colors: bool) -> _Surface:
        material = self.bpy.data.materials.new(name)
        nodes, links = material.node_tree.nodes, material.node_tree.links
        nodes.clear()
        principled = nodes.new("ShaderNodeBsdfPrincipled")
        output = nodes.new("ShaderNodeOutputMaterial")
        links.new(principled.outputs["BSDF"], output.inputs["Surface"])

        def multiply(a, b=None, operation="MULTIPLY", kind="ShaderNodeVectorMath"):
            node = nodes.new(kind)
            node.operation = operation
            links.new(a, node.inputs[0])
            if b is not None:
                links.new(b, node.inputs[1])
            return node

        base_texture = nodes.new("ShaderNodeTexImage")
        base_factor = multiply(base_texture.outputs["Color"])
        color = base_factor.outputs["Vector"]
        if with_colors:
            vertex_colors = nodes.new("ShaderNodeVertexColor")
            vertex_colors.layer_name = "Col"
            color = multiply(color, vertex_colors.outputs["Color"]).outputs["Vector"]
        links.new(color, principled.inputs["Base Color"])
        alpha_factor = multiply(base_texture.outputs["Alpha"], kind="ShaderNodeMath")
        alpha_cut = multiply(alpha_factor.outputs["Value"], operation="GREATER_THAN", kind="ShaderNodeMath")
        mr_texture = nodes.new("ShaderNodeTexImage")
        channels = nodes.new("ShaderNodeSeparateColor")
        links.new(mr_texture.outputs["Color"], channels.inputs["Color"])
        roughness = multiply(channels.outputs["Green"], kind="ShaderNodeMath")
        metallic = multiply(channels.outputs["Blue"], kind="ShaderNodeMath")
        links.new(roughness.outputs["Value"], principled.inputs["Roughness"])
        links.new(metallic.outputs["Value"], principled.inputs["Metallic"])
        normal_texture = nodes.new("ShaderNodeTexImage")
        normal_map = nodes.new("ShaderNodeNormalMap")
        normal_map.uv_map = "UVMap"
        links.new(normal_texture.outputs["Color"], normal_map.inputs["Color"])
        emission_texture = nodes.new("ShaderNodeTexImage")
        emission_factor = multiply(emission_texture.outputs["Color"])
        links.new(emission_factor.outputs["Vector"], principled.inputs["Emission Color"])
        principled.inputs["Emission Strength"].default_value = 1.0
        return _Surface(material, principled, base_texture, base_factor, alpha_factor, alpha_cut, mr_texture, roughness,
                        metallic, normal_texture, normal_map, emission_texture, emission_factor)

    def light_objects(self, kind: str, count: int) -> list[object]:
        pool = self.lights[kind]
        while len(pool) < count:
            data = self.bpy.data.lights.new(f"synthgen-{kind.lower()}-{len(pool)}", kind)
            if kind == "SUN":
                data.angle = _SUN_ANGLE
            else:
                data.shadow_soft_size = 0.0
            obj = self.bpy.data.objects.new(data.name, data)
            self.scene.collection.objects.link(obj)
            pool.append(obj)
        for position, obj in enumerate(pool):
            obj.hide_render = position >= count
        return pool[:count]


def _blender_openimageio(bpy):
    """The OpenImageIO module Blender ships inside the bpy wheel (it reads Cycles' multi-part EXR)."""
    folder = str(Path(bpy.utils.resource_path("LOCAL")) / "python" / "lib" / f"python{_PYTHON[0]}.{_PYTHON[1]}" /
                 "site-packages")
    if folder not in sys.path:
        sys.path.append(folder)
    import OpenImageIO

    return OpenImageIO


_SCENE: _BlenderScene | None = None


def _blender_scene() -> _BlenderScene:
    global _SCENE
    if _SCENE is None:
        _SCENE = _BlenderScene(import_bpy())
    return _SCENE


def _set_surface(surface: _Surface, material: Material, tint: np.ndarray, blender: _BlenderScene, keep: set) -> None:
    """Give a pooled material the values of ``material`` (times ``tint``) for this sample."""
    links = surface.material.node_tree.links
    color = np.clip(material.base_color * tint, 0.0, 1.0)
    surface.base_texture.image = (blender.image(material.base_color_texture, False, keep)
                                  if material.base_color_texture is not None else blender.white)
    surface.base_factor.inputs[1].default_value = color[:3]
    surface.alpha_factor.inputs[1].default_value = color[3]
    surface.alpha_cut.inputs[1].default_value = material.alpha_cutoff - 1e-6
    surface.mr_texture.image = (blender.image(material.metallic_roughness_texture, True, keep)
                                if material.metallic_roughness_texture is not None else blender.white)
    surface.roughness.inputs[1].default_value = material.roughness
    surface.metallic.inputs[1].default_value = material.metallic
    surface.emission_texture.image = (blender.image(material.emissive_texture, False, keep)
                                      if material.emissive_texture is not None else blender.white)
    surface.emission_factor.inputs[1].default_value = material.emissive
    mode = (material.alpha_mode, material.normal_texture is not None)
    if mode != surface.mode:  # relink only when the structure changes (each relink recompiles the shader)
        alpha_input = surface.principled.inputs["Alpha"]
        for link in list(alpha_input.links) + list(surface.principled.inputs["Normal"].links):
            links.remove(link)
        if material.alpha_mode == "MASK":
            links.new(surface.alpha_cut.outputs["Value"], alpha_input)
        elif material.alpha_mode == "BLEND":
            links.new(surface.alpha_factor.outputs["Value"], alpha_input)
        else:  # glTF: an opaque surface ignores alpha
            alpha_input.default_value = 1.0
        if material.normal_texture is not None:
            links.new(surface.normal_map.outputs["Normal"], surface.principled.inputs["Normal"])
        surface.mode = mode
    if material.normal_texture is not None:
        surface.normal_texture.image = blender.image(material.normal_texture, True, keep)


def _matrix(array: np.ndarray):
    """A (4, 4) numpy matrix as a ``mathutils.Matrix`` (a nested list would be read column by column)."""
    import mathutils  # comes with bpy

    return mathutils.Matrix(np.asarray(array, np.float64).tolist())


def _options(value, name: str, defaults: dict) -> dict | None:
    if value is None or value is False:
        return None
    if not hasattr(value, "items"):
        raise ConfigError(f"{name}: must be a mapping of {sorted(defaults)} or null, got {value!r}")
    unknown = sorted(set(value) - set(defaults))
    if unknown:
        raise ConfigError(f"{name}: unknown keys {unknown}; known: {sorted(defaults)}")
    return {**defaults, **dict(value)}


class CyclesRenderer:
    """Path-traced images with Blender Cycles (``bpy``); labels from the raster pass of the same spec.

    Args:
        width: Image width in pixels.
        height: Image height in pixels.
        znear: Near clipping distance in metres (camera and raster pass).
        zfar: Far clipping distance in metres.
        samples: Path-tracing samples per pixel.
        denoise: Denoise the image (OpenImageDenoise on the CPU, OptiX on an NVIDIA GPU).
        max_bounces: Longest light path (bounces of every kind).
        motion_blur: None, or ``{probability, shutter_s, speed_mps: [min, max]}``: with
            ``probability`` the camera moves during the shutter, in a direction across
            the view, at a drawn speed (labels are those of the shutter's middle).
        depth_of_field: None, or ``{probability, f_stop: [min, max]}``: with
            ``probability`` a thin lens of a drawn f-number (36 mm-wide sensor) focused
            on a random labeled instance.
        exposure: Film exposure in stops, added to the scene's ``exposure_ev``.
        device: ``auto`` (a GPU when Cycles finds one: OptiX, CUDA, HIP or oneAPI),
            ``cpu`` or ``gpu`` (an error when there is none).
        threads: CPU threads Cycles uses (0: all the machine's cores).
    """

    def __init__(self, width: int = 640, height: int = 480, znear: float = 0.01, zfar: float = 100.0,
                 samples: int = 32, denoise: bool = True, max_bounces: int = 8, motion_blur: dict | None = None,
                 depth_of_field: dict | None = None, exposure: float = 0.0, device: str = "auto", threads: int = 0):
        self.labels = PyrenderRenderer(width, height, znear, zfar)
        self.width, self.height, self.znear, self.zfar = self.labels.width, self.labels.height, znear, zfar
        self.samples = check_number("samples", samples, minimum=1, maximum=65536, integer=True)
        self.max_bounces = check_number("max_bounces", max_bounces, minimum=0, maximum=1024, integer=True)
        self.exposure = check_number("exposure", exposure, minimum=-20, maximum=20)
        self.threads = check_number("threads", threads, minimum=0, maximum=1024, integer=True)
        if not isinstance(denoise, bool):
            raise ConfigError(f"denoise: must be true or false, got {denoise!r}")
        self.denoise = denoise
        if device not in _DEVICES:
            raise ConfigError(f"device: must be one of {_DEVICES}, got {device!r}")
        self.motion_blur = _options(motion_blur, "motion_blur", {"probability": 1.0, "shutter_s": 1 / 30,
                                                                 "speed_mps": [0.0, 0.5]})
        if self.motion_blur:
            check_number("motion_blur.probability", self.motion_blur["probability"], minimum=0, maximum=1)
            check_number("motion_blur.shutter_s", self.motion_blur["shutter_s"], minimum=0, exclusive_minimum=True,
                         maximum=1)
            self.motion_blur["speed_mps"] = check_range_pair("motion_blur.speed_mps", self.motion_blur["speed_mps"],
                                                             minimum=0)
        self.depth_of_field = _options(depth_of_field, "depth_of_field", {"probability": 1.0, "f_stop": [1.4, 8.0]})
        if self.depth_of_field:
            check_number("depth_of_field.probability", self.depth_of_field["probability"], minimum=0, maximum=1)
            self.depth_of_field["f_stop"] = check_range_pair("depth_of_field.f_stop", self.depth_of_field["f_stop"],
                                                             minimum=0.1)
        self._blender = _blender_scene()
        self.device_name = self._choose_device(device)
        self.last_object_index: np.ndarray | None = None

    # -- device ------------------------------------------------------------------------------
    def _choose_device(self, device: str) -> str:
        """Point Cycles at a GPU when asked (or found, for ``auto``); the device's name."""
        bpy = self._blender.bpy
        if device == "cpu":
            return "CPU"
        preferences = bpy.context.preferences.addons["cycles"].preferences
        for backend in _GPU_BACKENDS:
            try:
                preferences.compute_device_type = backend
            except TypeError:  # a backend this build has no support for
                continue
            with _quiet():
                preferences.get_devices()
            gpus = [d for d in preferences.devices if d.type == backend]
            if gpus:
                for d in preferences.devices:
                    d.use = d.type == backend
                return f"GPU ({backend}: {', '.join(d.name for d in gpus)})"
        if device == "gpu":
            raise ConfigError("device=gpu: Cycles found no GPU (OptiX, CUDA, HIP, oneAPI); use device=cpu or auto")
        return "CPU"

    # -- rendering ---------------------------------------------------------------------------
    def render(self, spec: SceneSpec, amodal: bool = True) -> RenderOutput:
        """Path trace one scene; depth, ids and amodal masks from the raster pass.

        Args:
            spec: The scene; its camera must match this renderer's width and height.
            amodal: Also render amodal masks (raster pass).

        Returns:
            The Cycles image with the raster pass's labels. ``last_object_index`` then
            holds Cycles' own (H, W) int32 object-index pass (instance ids, 0 elsewhere).
        """
        output = self.labels.render(spec, amodal=amodal, color=False)
        combined, index = self._path_trace(spec)
        output.image = self._encode(combined, spec)
        self.last_object_index = index
        return output

    def render_scene_as_is(self) -> float:
        """Path trace the Blender scene as the last ``render`` left it and write its EXR, nothing
        else: what a bare bpy script pays per frame (``scripts/bench_cycles.py``). Wall seconds."""
        start = time.perf_counter()
        with _quiet():
            self._blender.bpy.ops.render.render(write_still=True)
        return time.perf_counter() - start

    def _path_trace(self, spec: SceneSpec) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 4) float32 premultiplied linear RGBA and (H, W) int32 object index of the spec."""
        blender = self._blender
        rng = np.random.Generator(np.random.PCG64(spec.render_seed))
        self._apply_settings(spec)
        self._place_objects(spec)
        self._place_lights(spec)
        self._set_world(spec)
        self._set_camera(spec, rng)
        with _quiet():
            blender.bpy.ops.render.render(write_still=True)
        return self._read(Path(blender.scene.render.filepath))

    def _apply_settings(self, spec: SceneSpec) -> None:
        scene = self._blender.scene
        scene.render.resolution_x, scene.render.resolution_y = self.width, self.height
        cycles = scene.cycles
        gpu = self.device_name != "CPU"
        cycles.device = "GPU" if gpu else "CPU"
        cycles.samples = self.samples
        cycles.use_denoising = self.denoise
        cycles.denoiser = "OPTIX" if "OPTIX" in self.device_name else "OPENIMAGEDENOISE"
        cycles.denoising_use_gpu = gpu
        cycles.max_bounces = self.max_bounces
        for kind in ("diffuse_bounces", "glossy_bounces", "transmission_bounces", "volume_bounces",
                     "transparent_max_bounces"):
            setattr(cycles, kind, self.max_bounces)
        cycles.seed = int(spec.render_seed) % 2**31
        scene.render.threads_mode = "FIXED" if self.threads else "AUTO"
        if self.threads:
            scene.render.threads = self.threads
        scene.render.film_transparent = not (spec.environment is not None and spec.environment.visible)

    def _place_objects(self, spec: SceneSpec) -> None:
        blender = self._blender
        blender.clear_frame()
        for obj, _ in blender.pool.values():
            obj.hide_render = True
        used: dict[tuple[str, bool], int] = {}
        keep: set = set()
        for obj in spec.objects:
            with_colors = bool(obj.materials) and obj.mesh.colors is not None
            if obj.mesh.cacheable:
                slot = used.get((obj.mesh.key, with_colors), 0)
                used[(obj.mesh.key, with_colors)] = slot + 1
                target, surfaces = blender.pooled_object(obj.mesh, with_colors, slot)
            else:
                target, surfaces = blender.frame_object(obj.mesh, with_colors)
            target.hide_render = False
            target.matrix_world = _matrix(obj.object_to_world)
            target.pass_index = obj.instance_id
            materials, tint = object_surfaces(obj)
            for surface, material in zip(surfaces, materials):
                _set_surface(surface, material, tint, blender, keep)

    def _place_lights(self, spec: SceneSpec) -> None:
        blender = self._blender
        by_kind = {"SUN": [], "POINT": [], "SPOT": []}
        for light in spec.lights:
            by_kind[{"directional": "SUN", "point": "POINT", "spot": "SPOT"}[light.kind]].append(light)
        for kind, lights in by_kind.items():
            for target, light in zip(blender.light_objects(kind, len(lights)), lights):
                _set_light(target, light)

    def _set_world(self, spec: SceneSpec) -> None:
        blender = self._blender
        env = spec.environment
        blender.ambient.inputs[1].default_value = np.asarray(spec.ambient, np.float64)
        if env is None:
            blender.env_texture.image = blender.black_environment
            blender.env_strength.inputs["Scale"].default_value = 0.0
            return
        blender.env_texture.image = blender.environment_image(env)
        blender.env_strength.inputs["Scale"].default_value = env.strength
        # Blender's equirectangular lookup puts azimuth a at u = 0.5 - a / (2 pi); ours at a / (2 pi).
        # Turning back by the map's rotation, then mirroring x (a -> pi - a), is Rz(+rotation) after
        # the mirror (the mapping node scales first, then rotates).
        blender.env_mapping.inputs["Scale"].default_value = (-1.0, 1.0, 1.0)
        blender.env_mapping.inputs["Rotation"].default_value = (0.0, 0.0, math.radians(env.rotation_deg))

    def _set_camera(self, spec: SceneSpec, rng: np.random.Generator) -> None:
        blender = self._blender
        settings = blender_camera(spec.camera)
        camera, data = blender.camera, blender.camera.data
        data.lens, data.sensor_width = settings["lens"], settings["sensor_width"]
        data.shift_x, data.shift_y = settings["shift_x"], settings["shift_y"]
        data.clip_start, data.clip_end = self.znear, self.zfar
        if camera.animation_data is not None and camera.animation_data.action is not None:
            blender.bpy.data.actions.remove(camera.animation_data.action)  # last sample's motion blur
        camera.animation_data_clear()
        camera.matrix_world = _matrix(settings["matrix_world"])
        self._depth_of_field(spec, rng)
        self._motion_blur(spec, rng, settings["matrix_world"])

    def _depth_of_field(self, spec: SceneSpec, rng: np.random.Generator) -> None:
        data = self._blender.camera.data
        options = self.depth_of_field
        instances = spec.instances
        data.dof.use_dof = bool(options) and bool(instances) and rng.random() < options["probability"]
        if not data.dof.use_dof:
            return
        target = instances[int(rng.integers(len(instances)))]
        depth = float(spec.camera.to_camera(target.world_vertices().mean(axis=0, keepdims=True))[0, 2])
        data.dof.focus_distance = max(depth, self.znear)
        low, high = options["f_stop"]
        data.dof.aperture_fstop = float(np.exp(rng.uniform(np.log(low), np.log(high))))

    def _motion_blur(self, spec: SceneSpec, rng: np.random.Generator, camera_to_world: np.ndarray) -> None:
        blender = self._blender
        options = self.motion_blur
        render = blender.scene.render
        render.use_motion_blur = bool(options) and rng.random() < options["probability"]
        if not render.use_motion_blur:
            return
        render.motion_blur_shutter = options["shutter_s"]
        angle = rng.uniform(0, 2 * np.pi)
        across = camera_to_world[:3, :3] @ np.array([np.cos(angle), np.sin(angle), 0.0])  # in the image plane
        velocity = across * rng.uniform(*options["speed_mps"])
        camera = blender.camera
        centre = camera_to_world[:3, 3]
        # Frames 0..2 at 1 frame per second; the shutter opens around frame 1 (the labels' pose).
        blender.bpy.context.preferences.edit.keyframe_new_interpolation_type = "LINEAR"
        for frame, offset in ((0, -1.0), (2, 1.0)):
            camera.location = (centre + offset * velocity).tolist()
            camera.keyframe_insert("location", frame=frame)
        blender.scene.frame_set(1)

    def _read(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        OpenImageIO = self._blender.openimageio
        reader = OpenImageIO.ImageInput.open(str(path))
        if reader is None:
            raise RuntimeError(f"Cycles wrote no readable image at {path}: {OpenImageIO.geterror()}")
        parts, part = {}, 0
        while reader.seek_subimage(part, 0):
            spec = reader.spec()
            pixels = reader.read_image(part, 0, 0, spec.nchannels, "float")
            for channel, name in enumerate(spec.channelnames):
                parts[name.split(".", 1)[1]] = pixels[..., channel]
            part += 1
        reader.close()
        combined = np.stack([parts[f"Combined.{c}"] for c in "RGBA"], axis=-1)
        index = np.rint(parts["Object Index.X"]).astype(np.int32)
        return combined, index

    def _encode(self, combined: np.ndarray, spec: SceneSpec) -> np.ndarray:
        """Premultiplied linear RGBA -> (H, W, 3) uint8 sRGB, over the background, through the camera's gains."""
        rgb, alpha = combined[..., :3], combined[..., 3:]
        if spec.environment is None or not spec.environment.visible:
            if spec.background_image is not None:
                background = _SRGB_TO_LINEAR[spec.background_image]
            else:
                background = srgb_to_linear(np.asarray(spec.background, np.float64) * 255.0).astype(np.float32)
            rgb = rgb + background * (1.0 - alpha)
        gains = camera_gains(spec.exposure_ev + self.exposure, spec.white_balance).astype(np.float32)
        return encode_linear(rgb * gains)


def _set_light(target, light: Light) -> None:
    data = target.data
    data.color = np.asarray(light.color, np.float64).tolist()
    matrix = np.eye(4)
    if light.kind == "directional":
        data.energy = light.intensity  # irradiance, W/m^2
        matrix[:3, :3] = rotation_facing(light.direction)
    else:
        data.energy = 4 * np.pi * light.intensity  # candela -> watts (P / (4 pi) W/sr)
        matrix[:3, 3] = light.position
        if light.kind == "spot":
            matrix[:3, :3] = rotation_facing(light.direction)
            data.spot_size = 2 * math.radians(light.outer_cone_deg)
            data.spot_blend = 1.0 - light.inner_cone_deg / light.outer_cone_deg
    target.matrix_world = _matrix(matrix)
