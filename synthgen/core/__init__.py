"""What every layer shares, numpy only: the scene and sample models, a render's output,
geometry helpers, colour conversions (``synthgen.core.color``), random streams and their
ids, errors and argument checks (``synthgen.core.validation``).

``synthgen.core`` imports nothing else of synthgen (an import contract checks it), so
labels, io, scene, render and the commands can all build on it.
"""

from synthgen.core.errors import ConfigError, InputError, SynthgenError
from synthgen.core.geometry import BOX_EDGES, footprint_box, mask_box, mirror_permutation, rotation_facing
from synthgen.core.render_output import RenderOutput
from synthgen.core.sample_model import (
    TRACK_STATES,
    Cuboid,
    FlowField,
    FrameInfo,
    Instance,
    PolylineLabel,
    Sample,
    Track,
    model_name,
)
from synthgen.core.scene_model import (
    CUBOID_CORNER_SIGNS,
    Camera,
    CategoryInfo,
    EnvironmentMap,
    Light,
    Material,
    MeshGeometry,
    Polyline,
    SceneObject,
    SceneSpec,
    Texture,
    default_uv,
    default_uv_wraps,
    distort_normalized,
    equirect_directions,
    project_uv,
)
from synthgen.core.streams import (
    AUGMENT_STREAM,
    DIFFUSION_STREAM,
    MOTION_STREAM,
    PASTE_STREAM,
    RENDER_STREAM,
    SCENE_STREAM,
    sample_rng,
    stream_generator,
    stream_seed,
)

__all__ = [
    "AUGMENT_STREAM",
    "BOX_EDGES",
    "CUBOID_CORNER_SIGNS",
    "Camera",
    "CategoryInfo",
    "ConfigError",
    "EnvironmentMap",
    "Cuboid",
    "DIFFUSION_STREAM",
    "RENDER_STREAM",
    "FlowField",
    "FrameInfo",
    "InputError",
    "Instance",
    "model_name",
    "Light",
    "MOTION_STREAM",
    "PASTE_STREAM",
    "Material",
    "MeshGeometry",
    "Polyline",
    "PolylineLabel",
    "RenderOutput",
    "SCENE_STREAM",
    "Sample",
    "SceneObject",
    "SceneSpec",
    "SynthgenError",
    "TRACK_STATES",
    "Texture",
    "Track",
    "default_uv",
    "default_uv_wraps",
    "distort_normalized",
    "equirect_directions",
    "footprint_box",
    "mask_box",
    "mirror_permutation",
    "project_uv",
    "rotation_facing",
    "sample_rng",
    "stream_generator",
    "stream_seed",
]
