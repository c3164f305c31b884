"""Where synthgen's shipped configs and scene assets live (installed or editable)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["conf_dir", "scenes_dir"]


def conf_dir() -> Path:
    """The folder of the default Hydra configs (the repository's ``conf/``)."""
    import synthgen.conf

    return Path(next(iter(synthgen.conf.__path__)))


def scenes_dir() -> Path:
    """The folder of shipped scene assets (the repository's ``scenes/``)."""
    import synthgen.scenes

    return Path(next(iter(synthgen.scenes.__path__)))
