"""Make large synthgen stores fast for benchmarks: one real sample cloned under many indices.

Used by ``bench_merge.py`` and ``bench_scale.py``: image files are hard links to the one
sample's, each label record is rewritten with its own index and file names, so a store of
10^5 samples takes seconds instead of hours of rendering (records have a real size).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["clone_store"]

_SAMPLE_FOLDERS = ("images", "depth", "instance_ids", "semantic", "labels", "quarantine")


def clone_store(sample: Path, out: Path, indices: Iterable[int], manifest_extra: dict | None = None) -> Path:
    """A store at ``out`` holding sample 0 of the store ``sample`` under each of ``indices``."""
    record = json.loads((sample / "labels" / "000000.json").read_text())
    manifest = json.loads((sample / "manifest.json").read_text())
    for folder in _SAMPLE_FOLDERS:
        (out / folder).mkdir(parents=True)
    for index in indices:
        name = f"{index:06d}"
        files = {}
        for key, relative in record["files"].items():
            target = relative.replace("000000", name)
            os.link(sample / relative, out / target)
            files[key] = target
        (out / "labels" / f"{name}.json").write_text(json.dumps({**record, "index": index, "files": files},
                                                                separators=(",", ":"), sort_keys=True))
    (out / "manifest.json").write_text(json.dumps({**manifest, **(manifest_extra or {})}))
    return out
