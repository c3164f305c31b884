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
