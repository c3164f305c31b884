"""``synthgen merge``: shard stores (``shard=i num_shards=K``) into one dataset.

Shards keep the global sample index, so merging places every shard's files under their
own names, after checking that the shards were made with one config and that every index
``0..n-1`` is committed exactly once (labeled or quarantined). Each shard's folders are
listed once, so merging is linear in the number of indices. The manifest and the exports
are rebuilt from the merged store; the result is byte-identical to a single run.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from synthgen.core.errors import ConfigError, InputError
from synthgen.core.validation import check_list, check_number
from synthgen.io.export_files import place_image
from synthgen.io.files import write_json_atomic
from synthgen.io.manifest import MANIFEST, build_manifest, categories_from_manifest, config_diff, read_manifest
from synthgen.io.record import record_files
from synthgen.io.shards import SHARDS, is_shard_store, pack_store, unpack_store
from synthgen.io.store import STORE_ENTRIES, committed_records, prepare_store, store_counts
from synthgen.registry import instantiate

__all__ = ["MergeSettings", "merge_shard_stores"]


class MergeSettings:
    """The settings of ``synthgen merge`` (conf/merge.yaml); ``in`` is ``inputs`` here.

    Args:
        inputs: The shard folders.
        out: An empty folder for the merged dataset.
        n: The run's sample count (default: highest index + 1); every index must be there.
        overwrite: Replace a synthgen dataset in ``out``.
    """

    def __init__(self, inputs: list, out: str, n: int | None = None, overwrite: bool = False):
        inputs = check_list("in", inputs, example="[shards/0,shards/1]")
        if not inputs:
            raise ConfigError("in: list the shard folders, e.g. in=[shards/0,shards/1]")
        self.shards = [Path(path).expanduser() for path in inputs]
        self.out = Path(str(out)).expanduser()
        self.n = None if n is None else check_number("n", n, minimum=1, integer=True)
        if not isinstance(overwrite, bool):
            raise ConfigError(f"overwrite: must be true or false, got {overwrite!r}")
        self.overwrite = overwrite


def _owners(shards: list[Path]) -> dict[int, tuple[Path, Path]]:
    """Index -> (shard, record path), each shard listed once.

    Raises:
        InputError: An index is committed by more than one shard.
    """
    owner: dict[int, tuple[Path, Path]] = {}
    duplicates = []
    for shard in shards:
        for index, record_path in sorted(committed_records(shard).items()):
            if index in owner:
                duplicates.append(f"{index} ({owner[index][0]} and {shard})")
            owner[index] = (shard, record_path)
    if duplicates:
        raise InputError(f"indices committed by more than one shard: {', '.join(duplicates[:10])}")
    return owner


def merge_shard_stores(settings: MergeSettings) -> Path:
    """Merge shard stores as configured (conf/merge.yaml); returns the merged folder.

    Raises:
        ConfigError: An unknown key or an invalid value.
        InputError: A shard is missing or incomplete, shards differ in config, or an index
            is missing or committed twice (the message lists them).
    """
    with tempfile.TemporaryDirectory(prefix="synthgen-merge-") as scratch:
        # A shard store (writer.layout=webdataset) is merged from a loose copy of it.
        shards = [_unpack_copy(shard, Path(scratch) / str(k)) if is_shard_store(shard) else shard
                  for k, shard in enumerate(settings.shards)]
        return _merge_loose(shards, settings)


def _unpack_copy(shard: Path, into: Path) -> Path:
    """A loose copy of a shard store."""
    into.mkdir(parents=True)
    unpack_store(shard, into)
    return into


def _merge_loose(shards: list[Path], settings: MergeSettings) -> Path:
    manifests = [read_manifest(shard) for shard in shards]
    for shard, manifest in zip(shards, manifests):
        if manifest.get("status") != "complete":
            raise InputError(f"{shard}: shard is incomplete; finish it with resume=true before merging")
        differences = config_diff(manifests[0]["config"], manifest["config"])
        if differences:
            raise InputError(f"{shard}: made with another config than {shards[0]}:\n  " + "\n  ".join(differences))
    owner = _owners(shards)
    n = settings.n if settings.n is not None else (max(owner) + 1 if owner else 0)
    missing = sorted(set(range(n)) - set(owner))
    if missing:
        raise InputError(f"indices missing from the shards: {missing[:20]}{' ...' if len(missing) > 20 else ''}; "
                         "run the missing shard (or resume it) first")
    extra = sorted(i for i in owner if i >= n)
    if extra:
        raise InputError(f"n={n}: the shards hold indices beyond it: {extra[:20]}")
    out, config = settings.out, manifests[0]["config"]
    # Built before anything is written: a foreign _target_ in a manifest is refused here.
    exporters = [instantiate(node, f"export.{name}", config.get("allowed_target_prefixes", []))
                 for name, node in (config.get("export") or {}).items()]
    prepare_store(out, config, resume=False, overwrite=settings.overwrite)
    for folder in STORE_ENTRIES[1:]:
        if folder not in ("annotations", "exports", SHARDS):
            (out / folder).mkdir(exist_ok=True)
    for _, (shard, record_path) in sorted(owner.items()):
        record = json.loads(record_path.read_text())
        for path in [*record_files(shard, record), record_path]:  # the record last: it commits the sample
            destination = out / path.relative_to(shard)
            if destination.parent.name == "models" and destination.is_file():
                continue  # a model many samples share: the same bytes, placed by an earlier sample
            place_image(path, destination)  # a hard link or a copy
    categories = categories_from_manifest(manifests[0])
    # The versions that made the samples, not this process's.
    manifest = build_manifest(config, categories, store_counts(out, categories), versions=manifests[0]["versions"])
    write_json_atomic(out / MANIFEST, manifest)
    for exporter in exporters:
        exporter(out)
    writer = config.get("writer") or {}
    if writer.get("layout") == "webdataset":  # as the single run would have packed it
        pack_store(out, shard_size=writer.get("shard_size", 1000))
    return out
