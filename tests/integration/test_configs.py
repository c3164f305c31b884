"""Every shipped config composes with real Hydra and every component instantiates."""

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from synthgen.paths import conf_dir
from synthgen.registry import instantiate

GROUP_OPTIONS = sorted(
    (path.parent.name, path.stem) for path in conf_dir().glob("*/*.yaml")
)


def test_every_group_option_is_listed():
    groups = {group for group, _ in GROUP_OPTIONS}
    assert {"scene", "render", "labels", "writer", "export"} <= groups


@pytest.mark.parametrize("group, option", GROUP_OPTIONS)
def test_group_option_composes_and_instantiates(group, option, tmp_path):
    override = f"{group}=[{option}]" if group == "export" else f"{group}={option}"
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="generate", overrides=[override])
    node = cfg[group]
    built = instantiate(node, group)
    if group == "export":
        assert all(callable(exporter) for exporter in built.values())
    elif OmegaConf.select(cfg, f"{group}._partial_"):
        assert built(root=tmp_path) is not None
    else:
        assert built is not None


def test_default_config_has_documented_top_level_keys():
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="generate")
    assert set(cfg) == {"out", "n", "seed", "resume", "overwrite", "threads", "progress",
                        "allowed_target_prefixes", "scene", "render", "labels", "writer", "export"}
    sampler = instantiate(cfg.scene, "scene")
    assert len(sampler.categories) >= 3
