"""synthgen's Python API: the commands as functions with keyword overrides, the same bytes as the CLI."""

import os
import subprocess
import sys

import pytest

import synthgen
from synthgen.api import override_value
from synthgen.core.errors import ConfigError
from tests.helpers_files import tree_bytes

SMALL = {"n": 2, "seed": 5, "progress": False}
SMALL_OVERRIDES = ["render.width=96", "render.height=72", "scene.placement.count=[2,3]"]


def _cli(*args, cwd):
    executable = os.path.join(os.path.dirname(sys.executable), "synthgen")
    result = subprocess.run([executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def test_generate_and_export_give_the_cli_bytes(tmp_path):
    summary = synthgen.generate(scene="tabletop", out=str(tmp_path / "api"), overrides=SMALL_OVERRIDES, **SMALL)
    assert summary.images == 2 and summary.out == tmp_path / "api"
    _cli("generate", "scene=tabletop", "out=cli", "n=2", "seed=5", "progress=false", *SMALL_OVERRIDES, cwd=tmp_path)
    api, cli = tree_bytes(tmp_path / "api"), tree_bytes(tmp_path / "cli")
    assert api.keys() == cli.keys() and len(api) > 10
    assert [name for name in api if api[name] != cli[name]] == []

    written = synthgen.export("yolo", source=tmp_path / "api", out=tmp_path / "api_yolo", task="segment")
    _cli("export", "format=yolo", "in=cli", "out=cli_yolo", "task=segment", cwd=tmp_path)
    assert written.is_relative_to(tmp_path / "api_yolo")
    assert tree_bytes(tmp_path / "api_yolo") == tree_bytes(tmp_path / "cli_yolo")


def test_compose_takes_a_users_config_dir_and_paths_with_spaces(tmp_path):
    (tmp_path / "mine" / "scene").mkdir(parents=True)
    (tmp_path / "mine" / "scene" / "small.yaml").write_text("defaults:\n  - tabletop\n  - _self_\nplacement:\n"
                                                             "  count: [1, 2]\n")
    cfg = synthgen.compose("generate", ["scene=small", f"out={override_value(str(tmp_path / 'a b'))}"],
                           config_dir=tmp_path / "mine")
    assert list(cfg.scene.placement.count) == [1, 2] and cfg.out == str(tmp_path / "a b")
    summary = synthgen.generate(cfg)  # a composed config is taken as it is
    assert summary.images == cfg.n and (tmp_path / "a b" / "manifest.json").is_file()


@pytest.mark.parametrize("value, text", [
    (True, "true"), (None, "null"), (3, "3"), (0.5, "0.5"), ("a b'c", "'a b\\'c'"), ([1, "x"], "[1,'x']"),
    ({"nut": "hazelnut"}, "{nut:'hazelnut'}"), ((1, 2), "[1,2]"),
])
def test_override_values(value, text):
    assert override_value(value) == text


def test_bad_calls_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match="command: must be one of"):
        synthgen.compose("render")
    with pytest.raises(ConfigError, match="no_such_key"):
        synthgen.generate(no_such_key=1, out=str(tmp_path / "x"))
    with pytest.raises(ConfigError, match="scene"):
        synthgen.generate(scene="no_such_scene", out=str(tmp_path / "x"))
    with pytest.raises(ConfigError, match="not both"):
        synthgen.generate(synthgen.compose("generate"), n=3)
    with pytest.raises(ConfigError, match="config_dir"):
        synthgen.compose("generate", config_dir=tmp_path / "missing")
    with pytest.raises(ConfigError, match="cannot be a config value"):
        synthgen.generate(n=object())
