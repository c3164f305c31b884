"""``synthgen merge``: shard stores (``shard=i num_shards=K``) into one dataset.

Shards keep the global sample index, so merging places every shard's files under their
own names, after checking that the shards were made with one config and that every index
``0..n-1`` is committed exactly once (labeled or quarantined). The manifest and the
exports are rebuilt from the merged store; the result is byte-identical to a single run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from synthgen.errors import ConfigError, InputError
from synthgen.io.export_files import place_image
from synthgen.io.store import MANIFEST, STORE_ENTRIES, read_manifest, write_json_atomic
from synthgen.pipeline import _config_diff, _count, _manifest, prepare_output
from synthgen.registry import instantiate
from synthgen.types import CategoryInfo

__all__ = ["merge_shards"]

_KEYS = ("in", "out", "n", "overwrite")
_SAMPLE_FOLDERS = ("labels", "quarantine")


def _committed(root: Path) -> dict[int, Path]:
    return {int(path.stem): path for folder in _SAMPLE_FOLDERS for path in (root / folder).glob("*.json")}


def _sample_files(root: Path, record_path: Path) -> list[Path]:
    """Every file of one committed sample, its record last (the record commits it)."""
    record = json.loads(record_path.read_text())
    files = [root / relative for relative in record.get("files", {}).values()]
    return [*files, record_path]


def merge_shards(cfg: DictConfig | Mapping) -> Path:
    """Merge shard stores as configured (conf/merge.yaml); returns the merged folder.

    Raises:
        InputError: A shard is missing or incomplete, shards differ in config, or an index
            is missing or committed twice (the message lists them).
    """
    settings = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    unknown = sorted(set(settings) - set(_KEYS))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown key; allowed keys: {list(_KEYS)}")
    shards = [Path(str(path)).expanduser() for path in settings["in"] or []]
    if not shards:
        raise ConfigError("in: list the shard folders, e.g. in=[shards/0,shards/1]")
    manifests = [read_manifest(shard) for shard in shards]
    for shard, manifest in zip(shards, manifests):
        if manifest.get("status") != "complete":
            raise InputError(f"{shard}: shard is incomplete; finish it with resume=true before merging")
        differences = _config_diff(manifests[0]["config"], manifest["config"])
        if differences:
            raise InputError(f"{shard}: made with another config than {shards[0]}:\n  " + "\n  ".join(differences))
    # Each shard's folders are listed once: index -> (shard, record path).
    owner: dict[int, tuple[Path, Path]] = {}
    duplicates = []
    for shard in shards:
        for index, record_path in sorted(_committed(shard).items()):
            if index in owner:
                duplicates.append(f"{index} ({owner[index][0]} and {shard})")
            owner[index] = (shard, record_path)
    if duplicates:
        raise InputError(f"indices committed by more than one shard: {', '.join(duplicates[:10])}")
    n = settings["n"] if settings["n"] is not None else (max(owner) + 1 if owner else 0)
    missing = sorted(set(range(n)) - set(owner))
    if missing:
        raise InputError(f"indices missing from the shards: {missing[:20]}{' ...' if len(missing) > 20 else ''}; "
                         "run the missing shard (or resume it) first")
    extra = sorted(i for i in owner if i >= n)
    if extra:
        raise InputError(f"n={n}: the shards hold indices beyond it: {extra[:20]}")
    out = Path(str(settings["out"])).expanduser()
    config = manifests[0]["config"]
    # Built before anything is written: a foreign _target_ in a manifest is refused here.
    exporters = [instantiate(node, f"export.{name}", config.get("allowed_target_prefixes", []))
                 for name, node in (config.get("export") or {}).items()]
    prepare_output(out, config, resume=False, overwrite=bool(settings["overwrite"]))
    for folder in STORE_ENTRIES[1:]:
        if folder not in ("annotations", "exports"):
            (out / folder).mkdir(exist_ok=True)
    for index, (shard, record_path) in sorted(owner.items()):
        for path in _sample_files(shard, record_path):
            place_image(path, out / path.relative_to(shard))  # a hard link or a copy
    categories = tuple(CategoryInfo(c["id"], c["name"], tuple(c["keypoints"]), tuple(tuple(p) for p in c["skeleton"]),
                                    c.get("kind", "object")) for c in manifests[0]["categories"])
    manifest = _manifest(config, categories, _count(out, categories))
    manifest["versions"] = manifests[0]["versions"]  # the versions that made the samples
    write_json_atomic(out / MANIFEST, manifest)
    for exporter in exporters:
        exporter(out)
    return out
