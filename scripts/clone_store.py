"""Make large synthgen stores fast for benchmarks: one real sample cloned under many indices.

Used by ``bench_merge.py`` and ``bench_scale.py``: image files are hard links to the one
sample's (a fresh copy every 1,000), each label record is rewritten with its own index and
file names, so a store of 10^5 samples takes a minute instead of hours of rendering
(records have a real size).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

__all__ = ["clone_store"]

_LINKS_PER_COPY = 1000
_SAMPLE_FOLDERS = ("images", "depth", "instance_ids", "semantic", "labels", "quarantine", "models")


def clone_store(sample: Path, out: Path, indices: Iterable[int], manifest_extra: dict | None = None) -> Path:
    """A store at ``out`` holding sample 0 of the store ``sample`` under each of ``indices``."""
    record = json.loads((sample / "labels" / "000000.json").read_text())
    manifest = json.loads((sample / "manifest.json").read_text())
    for folder in _SAMPLE_FOLDERS:
        (out / folder).mkdir(parents=True)
    sources = {key: sample / relative for key, relative in record["files"].items()}
    for number, index in enumerate(indices):
        name = f"{index:06d}"
        files = {}
        for key, relative in record["files"].items():
            target = relative.replace("000000", name)
            if key.startswith("model_"):  # one model file shared by every sample, as in a real store
                if number == 0:
                    shutil.copy2(sample / relative, out / target)
            elif number % _LINKS_PER_COPY == 0:
                # A fresh copy now and then keeps every inode's link count low: file systems cap
                # it (ext4: 65,000), and a merge links each file once more.
                shutil.copy2(sample / relative, out / target)
                sources[key] = out / target
            else:
                os.link(sources[key], out / target)
            files[key] = target
        (out / "labels" / f"{name}.json").write_text(json.dumps({**record, "index": index, "files": files},
                                                                separators=(",", ":"), sort_keys=True))
    (out / "manifest.json").write_text(json.dumps({**manifest, **(manifest_extra or {})}))
    return out
