"""``synthgen merge``: shard stores (``shard=i num_shards=K``) into one dataset.

The work is ``synthgen.pipeline.merge.merge_shard_stores``; this command builds its settings from the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from omegaconf import DictConfig

from synthgen.pipeline.merge import MergeSettings, merge_shard_stores
from synthgen.registry import build_settings

__all__ = ["MergeSettings", "merge_shards"]


def merge_shards(cfg: DictConfig | Mapping) -> Path:
    """Run ``synthgen merge`` as configured (conf/merge.yaml); returns what it wrote."""
    return merge_shard_stores(build_settings(MergeSettings, cfg, "merge", renames={"in": "inputs"}))
