"""Every shipped config composes with real Hydra and every component instantiates."""


import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from synthgen.paths import conf_dir
from synthgen.registry import instantiate
from tests.resources import FRUITS, need

GROUP_OPTIONS = sorted(
    (path.parent.name, path.stem) for path in conf_dir().glob("*/*.yaml")
)


def test_every_group_option_is_listed():
    groups = {group for group, _ in GROUP_OPTIONS}
    assert {"scene", "render", "labels", "writer", "export", "randomize", "augment"} <= groups


def _override(group: str, option: str) -> tuple[list[str], str]:
    """The command-line overrides selecting an option, and the key its node lands under."""
    if group == "export":
        return [f"export=[{option}]"], "export"
    if group == "randomize":  # randomizers are placed into scenes; add one under a new key
        return [f"+randomize@probe={option}"], "probe"
    if (group, option) == ("scene", "tabletop_fruits_photos"):  # the user's photos are mandatory
        if not FRUITS.is_dir():
            need("realdata")
        return [f"scene={option}", f"scene.randomize.skins.texture_dataset={FRUITS}"], group
    if group == "generator" and option == "paste":  # the photos to cut from are mandatory (read at load)
        return [f"{group}={option}", f"generator.dataset={FRUITS}"], group
    if group == "generator" and option != "none":  # a model is mandatory (loaded later, by generate)
        extra = ["generator.controlnets.depth=some/controlnet"] if option == "controlnet" else []
        return [f"{group}={option}", "generator.model=some/model", *extra], group
    return [f"{group}={option}"], group


@pytest.mark.parametrize("group, option", GROUP_OPTIONS)
def test_group_option_composes_and_instantiates(group, option, tmp_path):
    override, key = _override(group, option)
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="generate", overrides=override)
    node = cfg[key]
    if not node:  # an intentionally empty option (augment=none, generator=none, lidar=none)
        assert (group, option) in (("augment", "none"), ("generator", "none"), ("lidar", "none"))
        return
    built = instantiate(node, key)
    if group == "export":
        assert all(callable(exporter) for exporter in built.values())
    elif OmegaConf.select(cfg, f"{group}._partial_"):
        assert built(root=tmp_path) is not None
    else:
        assert built is not None


def test_default_config_has_documented_top_level_keys():
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="generate")
    assert set(cfg) == {"out", "n", "seed", "resume", "overwrite", "threads", "workers", "recycle_after", "shard",
                        "num_shards", "progress", "allowed_target_prefixes", "scene", "render", "labels", "augment",
                        "writer", "export", "sequence", "motion", "generator", "lidar"}
    sampler = instantiate(cfg.scene, "scene")
    assert len(sampler.categories) >= 3
