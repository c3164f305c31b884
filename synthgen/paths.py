"""Where synthgen's shipped configs and scene assets live (installed or editable)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["conf_dir", "export_node", "scene_data_dir"]


def conf_dir() -> Path:
    """The folder of the default Hydra configs (the repository's ``conf/``, shipped as ``synthgen.conf``)."""
    return Path(str(files("synthgen.conf")))


def export_node(name: str) -> dict:
    """The writer node of format ``name`` as shipped (``conf/export/<name>.yaml``), as a plain dict."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(OmegaConf.load(conf_dir() / "export" / f"{name}.yaml"))[name]


def scene_data_dir() -> Path:
    """The folder of shipped scene assets (the repository's ``scenes/``, shipped as ``synthgen.scene_data``;
    the code that builds scenes is ``synthgen.scene``)."""
    return Path(str(files("synthgen.scene_data")))
