"""``synthgen preview``: a labeled gallery (PNG + self-contained HTML) of any readable dataset,

The work is ``synthgen.visualize.gallery.write_preview``; this command builds its settings from the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from omegaconf import DictConfig

from synthgen.registry import build_settings
from synthgen.visualize.gallery import PreviewSettings, write_preview

__all__ = ["PreviewSettings", "preview"]


def preview(cfg: DictConfig | Mapping) -> Path:
    """Run ``synthgen preview`` as configured (conf/preview.yaml); returns what it wrote."""
    return write_preview(build_settings(PreviewSettings, cfg, "preview", renames={"in": "source"}))
