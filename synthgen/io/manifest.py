"""The dataset manifest (``manifest.json``): resolved config, seed, categories, counts, versions.

Written at the start of a run (``status: incomplete``) and rewritten at its end
(``complete``, with the counts); resuming and merging compare configs through it.
"""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Iterable, Mapping
from pathlib import Path

from synthgen.core import CategoryInfo
from synthgen.core.errors import InputError
from synthgen.io.input_checks import category_list, contained, field, listing, load_json, mapping

__all__ = [
    "MANIFEST",
    "MANIFEST_FORMAT",
    "build_manifest",
    "categories_from_manifest",
    "config_diff",
    "package_versions",
    "read_manifest",
]

MANIFEST = "manifest.json"


def read_manifest(root: str | Path) -> dict:
    """The manifest of a dataset folder.

    Raises:
        InputError: The folder has no readable manifest.
    """
    path = Path(root) / MANIFEST
    if not path.exists():
        raise InputError(f"{path}: not found; is {root} a synthgen dataset folder?")
    contained(Path(root), path, str(path))
    manifest = mapping(load_json(path), str(path))
    # Checked here, where the file's path is known; categories_from_manifest then reads them.
    category_list(field(manifest, "categories", str(path), listing), f"{path}: categories", skeleton_base=0,
                  kind_key="kind")
    return manifest


def categories_from_manifest(manifest: Mapping) -> tuple[CategoryInfo, ...]:
    """The categories a manifest lists (the inverse of ``build_manifest``'s ``categories``), checked.

    Raises:
        InputError: A malformed category entry (named).
    """
    return category_list(manifest["categories"], f"{MANIFEST}: categories", skeleton_base=0, kind_key="kind")


MANIFEST_FORMAT = "synthgen-dataset/1"


VERSIONED_PACKAGES = ("synthgen", "numpy", "trimesh", "pyrender", "PyOpenGL", "hydra-core", "pycocotools",
              "opencv-python-headless")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _flatten(value, prefix: str = "") -> dict[str, object]:
    if isinstance(value, Mapping):
        flat = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def config_diff(old: Mapping, new: Mapping) -> list[str]:
    flat_old, flat_new = _flatten(old), _flatten(new)
    return [
        f"{key}: {flat_old.get(key, '<absent>')!r} -> {flat_new.get(key, '<absent>')!r}"
        for key in sorted(set(flat_old) | set(flat_new))
        if flat_old.get(key, "<absent>") != flat_new.get(key, "<absent>")
    ]


def build_manifest(config: dict, categories: Iterable[CategoryInfo], counts: dict | None,
                   shard: tuple[int, int] = (0, 1), versions: dict[str, str] | None = None) -> dict:
    """A manifest: ``complete`` with ``counts``, ``incomplete`` while ``counts`` is None.

    Args:
        config: The resolved config, run-control keys left out.
        categories: The dataset's categories.
        counts: What the store holds (see ``store_counts``), or None during a run.
        shard: (index, count) of a sharded run's shard; (0, 1) when not sharded.
        versions: The package versions that made the samples (default: this process's).
    """
    extra = {"shard": {"index": shard[0], "count": shard[1]}} if shard[1] > 1 else {}
    return {
        **extra,
        "format": MANIFEST_FORMAT,
        "status": "complete" if counts is not None else "incomplete",
        "seed": config["seed"],
        "config": config,
        "categories": [
            {"id": c.id, "name": c.name, "kind": c.kind, "keypoints": list(c.keypoint_names),
             "skeleton": [list(p) for p in c.skeleton]}
            for c in categories
        ],
        "versions": versions or package_versions(),
        "counts": counts or {},
    }
