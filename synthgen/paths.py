"""Where synthgen's shipped configs and scene assets live (installed or editable)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["conf_dir", "scenes_dir"]


def conf_dir() -> Path:
    """The folder of the default Hydra configs (the repository's ``conf/``, shipped as ``synthgen.conf``)."""
    return Path(str(files("synthgen.conf")))


def scenes_dir() -> Path:
    """The folder of shipped scene assets (the repository's ``scenes/``, shipped as ``synthgen.scenes``)."""
    return Path(str(files("synthgen.scenes")))
