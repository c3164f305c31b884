"""synthgen: exactly labeled synthetic training data from 3D scenes.

The public API: the commands as functions (``generate``, ``export``, ``mix``, ``validate``,
``preview``, ``merge``; ``compose`` for a command's config), the scene and sample model,
and the store; ``synthgen.torch`` holds the PyTorch datasets (the ``torch`` extra). Everything
else is reachable through config ``_target_`` paths.
"""

from synthgen.api import compose, export, generate, merge, mix, preview, validate
from synthgen.augment.augmenter import Augmenter
from synthgen.augment.sensor import SensorModel
from synthgen.core import (
    Camera,
    CategoryInfo,
    Cuboid,
    EnvironmentMap,
    FlowField,
    FrameInfo,
    Instance,
    Light,
    Material,
    MeshGeometry,
    Polyline,
    PolylineLabel,
    Sample,
    SceneObject,
    SceneSpec,
    Texture,
    Track,
    sample_rng,
)
from synthgen.core.errors import ConfigError, InputError, SynthgenError
from synthgen.io.coco import export_coco
from synthgen.io.store import DatasetWriter, read_sample
from synthgen.labels.checks import check_sample
from synthgen.labels.derive import LabelDeriver
from synthgen.pipeline.generation import GenerateSummary
from synthgen.visualize import draw_sample

__version__ = "0.1.0"

__all__ = [
    "Augmenter",
    "Camera",
    "CategoryInfo",
    "ConfigError",
    "Cuboid",
    "DatasetWriter",
    "EnvironmentMap",
    "FlowField",
    "FrameInfo",
    "GenerateSummary",
    "InputError",
    "Instance",
    "LabelDeriver",
    "Light",
    "Material",
    "MeshGeometry",
    "Polyline",
    "PolylineLabel",
    "Sample",
    "SceneObject",
    "SceneSpec",
    "SensorModel",
    "SynthgenError",
    "Texture",
    "Track",
    "__version__",
    "check_sample",
    "compose",
    "draw_sample",
    "export",
    "export_coco",
    "generate",
    "merge",
    "mix",
    "preview",
    "read_sample",
    "sample_rng",
    "validate",
]
