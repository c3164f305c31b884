import pytest

from synthgen.core.errors import ConfigError
from synthgen.registry import instantiate


def test_foreign_target_refused_with_key_and_nothing_called(tmp_path):
    marker = tmp_path / "ran"
    node = {"_target_": "synthgen.randomize.camera.LookAtCamera",
            "distance": {"_target_": "os.system", "command": f"touch {marker}"}}
    with pytest.raises(ConfigError) as error:
        instantiate(node, "scene.camera")
    message = str(error.value)
    assert "scene.camera.distance._target_" in message and "'os.system' is not allowed" in message
    assert "allowed_target_prefixes" in message
    assert not marker.exists()


def test_configured_prefix_allows_foreign_target():
    built = instantiate({"_target_": "fractions.Fraction", "numerator": 3, "denominator": 4}, "x",
                        allowed_prefixes=["fractions."])
    assert float(built) == 0.75


def test_unknown_key_lists_allowed_keys():
    with pytest.raises(ConfigError) as error:
        instantiate({"_target_": "synthgen.randomize.camera.LookAtCamera", "distanse": [1, 2]}, "scene.camera")
    assert "scene.camera.distanse: unknown key" in str(error.value)
    assert "'distance'" in str(error.value) and "'elevation_deg'" in str(error.value)


def test_invalid_value_names_full_key():
    with pytest.raises(ConfigError, match=r"^render\.width: must be an integer >= 16 and <= 8192, got -5"):
        instantiate({"_target_": "synthgen.render.pyrender_backend.PyrenderRenderer", "width": -5}, "render")


def test_nested_invalid_value_names_full_key():
    node = {"_target_": "synthgen.scene.tabletop.Category", "name": "x",
            "asset": {"_target_": "synthgen.scene.assets.Primitive", "shape": "blob", "size": [1]}}
    with pytest.raises(ConfigError, match=r"scene\.categories\[0\]\.asset\.shape: must be one of \['box'"):
        instantiate(node, "scene.categories[0]")


def test_missing_required_key():
    with pytest.raises(ConfigError, match=r"scene\.categories\[0\]: missing required key\(s\) \['asset'\]"):
        instantiate({"_target_": "synthgen.scene.tabletop.Category", "name": "x"}, "scene.categories[0]")


def test_unimportable_target():
    with pytest.raises(ConfigError, match="cannot import 'synthgen.nope.Thing'"):
        instantiate({"_target_": "synthgen.nope.Thing"}, "scene")


def test_partial_defers_arguments(tmp_path):
    make = instantiate({"_target_": "synthgen.io.store.DatasetWriter", "_partial_": True, "image_format": "jpg"},
                       "writer")
    assert make(root=tmp_path).image_format == "jpg"
    bad = instantiate({"_target_": "synthgen.io.store.DatasetWriter", "_partial_": True, "image_format": "gif"},
                      "writer")
    with pytest.raises(ConfigError, match=r"writer\.image_format: must be one of \['png', 'jpg'\], got 'gif'"):
        bad(root=tmp_path)
