"""One source of defaults: a group's base config holds the constructor's own defaults.

The base configs every scene and run starts from (``conf/randomize/*``, ``render``,
``labels``, ``writer``, ``export``, the default motion and augmentation) list their keys (so
Hydra overrides them without ``+``), and each value must equal the default of the
constructor it configures: a Python user and a config user get the same data. Variants
(``augment/sensor``, the other motions, generator presets) and scenes are what change them.
"""

from __future__ import annotations

import importlib
import inspect

import pytest
from omegaconf import OmegaConf

from synthgen.paths import conf_dir

BASE_CONFIGS = sorted(
    [*(conf_dir() / "randomize").glob("*.yaml"), *(conf_dir() / "render").glob("*.yaml"),
     *(conf_dir() / "labels").glob("*.yaml"), *(conf_dir() / "writer").glob("*.yaml"),
     *(conf_dir() / "export").glob("*.yaml"), conf_dir() / "motion" / "constant_velocity.yaml",
     conf_dir() / "augment" / "default.yaml"])


def _nodes(node, path):
    if isinstance(node, dict):
        if "_target_" in node:
            yield path, node
        for key, value in node.items():
            yield from _nodes(value, f"{path}.{key}")
    elif isinstance(node, list):
        for k, value in enumerate(node):
            yield from _nodes(value, f"{path}[{k}]")


def _plain(value):
    """Tuples as lists, recursively (YAML has only lists)."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _disagreements(path, node) -> list[str]:
    module, _, name = node["_target_"].rpartition(".")
    parameters = inspect.signature(getattr(importlib.import_module(module), name)).parameters
    found = []
    for key, value in node.items():
        if key.startswith("_"):
            continue
        assert key in parameters, f"{path}.{key}: not an argument of {node['_target_']}"
        default = parameters[key].default
        if default is not inspect.Parameter.empty and _plain(default) != value:
            found.append(f"{path}.{key}: config {value!r} vs constructor {default!r}")
    return found


@pytest.mark.parametrize("config", BASE_CONFIGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_base_config_values_are_the_constructor_defaults(config):
    tree = OmegaConf.to_container(OmegaConf.load(config))
    tree.pop("defaults", None)
    disagreements = [d for path, node in _nodes(tree, f"{config.parent.name}/{config.stem}")
                     for d in _disagreements(path, node)]
    assert not disagreements, disagreements


def test_the_check_sees_a_disagreement():
    node = {"_target_": "synthgen.randomize.lighting.Lighting", "num_lights": [1, 7]}
    assert _disagreements("lighting", node) == ["lighting.num_lights: config [1, 7] vs constructor (1, 3)"]
