import synthgen

EXPECTED = {
    "Camera", "CategoryInfo", "ConfigError", "Cuboid", "DatasetWriter", "GenerateSummary", "InputError",
    "Instance", "LabelDeriver", "Light", "MeshGeometry", "Sample", "SceneObject", "SceneSpec", "SynthgenError",
    "check_sample", "export_coco", "generate", "read_sample", "sample_rng", "__version__",
    "Augmenter", "Polyline", "PolylineLabel", "Texture", "draw_sample", "FlowField", "FrameInfo", "Track",
    "Material", "EnvironmentMap", "SensorModel",
    "compose", "export", "mix", "validate", "preview", "merge",
}


def test_public_api_is_pinned():
    assert set(synthgen.__all__) == EXPECTED
    for name in synthgen.__all__:
        assert getattr(synthgen, name) is not None


def test_importing_synthgen_loads_no_render_backend():
    """The core stays backend-free: OpenGL is only loaded by the render backend module."""
    import subprocess
    import sys

    code = ("import sys, synthgen; "
            "print(sorted(m for m in ('pyrender', 'OpenGL', 'albumentations') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"


def test_no_subpackage_shadows_a_public_function():
    """Importing a subpackage sets it as an attribute of synthgen: none may share a public name
    (synthgen.compose, the function, once lost to a copy-paste package of that name)."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(synthgen.__path__):
        assert module.name not in synthgen.__all__, f"synthgen.{module.name} shadows synthgen.{module.name}()"
        if module.name not in ("torch",):  # the torch extra may be missing; it is not a public name either
            importlib.import_module(f"synthgen.{module.name}")
    assert callable(synthgen.compose) and callable(synthgen.generate) and callable(synthgen.export)
