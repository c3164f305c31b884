"""``StreamingDataset``: samples rendered on the fly inside DataLoader workers, the same ones ``synthgen generate`` writes."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from synthgen.api import compose, override_value
from synthgen.core.errors import ConfigError
from synthgen.io.files import write_json_atomic
from synthgen.io.manifest import MANIFEST, build_manifest
from synthgen.io.record import labeled_image, sample_record
from synthgen.io.store import prepare_store
from synthgen.pipeline.generation import GenerateSettings
from synthgen.pipeline.render_loop import Components, Stages, build_components, iter_samples
from synthgen.pipeline.sequence import render_groups
from synthgen.registry import build_settings
from synthgen.torch.store_dataset import store_item
from synthgen.torch.targets import detection_target, torch

__all__ = ["StreamingDataset"]

# The record of a sample that was never written: the names its files would have in a store.
_NOMINAL_DEPTH_UNIT_M = 0.001


class StreamingDataset(torch.utils.data.IterableDataset):
    """Renders ``synthgen generate``'s samples inside the DataLoader's workers and yields them.

    Each worker builds its own renderer (the first time it iterates) and yields, in order,
    the indices ``i`` with ``i % num_workers == worker_id`` (the DataLoader takes one batch
    from each worker in turn: with ``batch_size=1`` that is ``0, 1, 2, ...``). Sample ``i``
    holds the pixels and labels ``synthgen generate`` (same config and seed) writes for
    index ``i``, whatever the worker count. Samples the label
    self-checks would quarantine are skipped, as generate does not label them.

    Start workers with ``multiprocessing_context="spawn"`` (or ``forkserver``) when the main
    process has rendered before: OpenGL contexts do not survive ``fork``.

    Args:
        config: A composed generate config (``synthgen.compose("generate", ...)``); or
            leave it out and give ``overrides`` and keywords.
        overrides: Hydra overrides of conf/generate.yaml (``["scene=road", "render.width=320"]``).
        transforms: Called as ``transforms(image, target)`` (a torchvision v2 transform).
        cache: A folder: every sample is also committed there, as ``synthgen generate
            out=cache`` would write it (byte for byte; the manifest stays "incomplete" and
            no export is made), and later passes read it from there instead of rendering
            it again. A cache made with another config is refused. None: nothing is written.
        config_dir: A folder of your own configs (``scene/mine.yaml``).
        **keys: Keys of conf/generate.yaml (``scene="tabletop"``, ``n=1000``, ``seed=3``).

    Raises:
        ConfigError: A bad config, or a sequence config (``sequence.frames > 1``: clips are
            rendered as a whole; use ``synthgen generate`` and ``StoreDataset``).
    """

    def __init__(self, config: DictConfig | None = None, *, overrides: Sequence[str] = (),
                 transforms: Callable | None = None, cache: str | Path | None = None,
                 config_dir: str | Path | None = None, **keys: object):
        if config is None:
            config = compose("generate", [f"{k}={override_value(v)}" for k, v in keys.items()] + list(overrides),
                             config_dir)
        self.config = OmegaConf.to_container(config, resolve=True)
        self.settings = build_settings(GenerateSettings, self.config, "generate")  # checked here, in the main process
        if self.settings.sequence_settings.is_video:
            raise ConfigError("sequence.frames: StreamingDataset streams still images; render clips with "
                              "synthgen generate and read them with StoreDataset")
        self.transforms = transforms
        self.cache = None if cache is None else Path(cache).expanduser()
        if self.cache is not None:  # here, once: a cache made with another config is refused before any worker starts
            prepare_store(self.cache, self.settings.config, resume=True, overwrite=False)
        self._parts: Components | None = None
        self._parts_pid = os.getpid()

    def __len__(self) -> int:
        """``n``: the samples a pass renders (one the self-checks quarantine is not yielded)."""
        return self.settings.n

    def _components(self) -> Components:
        if self._parts is None or self._parts_pid != os.getpid():  # once per process: one renderer each
            self._parts, self._parts_pid = build_components(self.settings), os.getpid()
        return self._parts

    def __getstate__(self) -> dict:
        """Workers get the settings, never this process's renderer (a GL context cannot be shared)."""
        return {**self.__dict__, "_parts": None}

    def _writer(self, parts: Components):
        if self.cache is None:
            return None
        # Every worker writes the same manifest bytes, atomically: whichever lands, it is the one.
        write_json_atomic(self.cache / MANIFEST,
                          build_manifest(self.settings.config, parts.categories, None, self.settings.shard_of))
        writer = parts.make_writer(root=self.cache, flow_format=self.settings.sequence_settings.flow_format)
        return writer.__enter__()  # makes its folders; it holds nothing to close

    def __iter__(self) -> Iterator[tuple]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        indices = [i for i in range(self.settings.n) if i % workers == worker]
        parts = self._components()
        writer = self._writer(parts)
        cached = writer.committed_indices() if writer is not None else set()
        stages = Stages(parts.deriver, parts.augmenter, writer, self.settings.seed, self.settings.sequence_settings,
                        parts.generator)
        todo = [i for i in indices if i not in cached]
        rendered = iter_samples(render_groups(todo, self.settings.sequence_settings), parts.frames, parts.renderer,
                                stages)
        for index in indices:
            item = self._from_cache(index) if index in cached else self._commit(next(rendered), writer, parts)
            if item is not None:
                yield self.transforms(*item) if self.transforms is not None else item

    def _commit(self, checked: tuple, writer, parts: Components) -> tuple | None:
        sample, problems = checked
        if writer is not None and problems:
            writer.quarantine(sample, problems)
        elif writer is not None:
            writer.add(sample)
        if problems:
            return None
        key = f"{sample.index:06d}"
        files = {"image": f"images/{key}.png", "depth": f"depth/{key}.png", "instance_ids": f"instance_ids/{key}.png"}
        record = json.loads(json.dumps(sample_record(sample, files, _NOMINAL_DEPTH_UNIT_M)))
        image = labeled_image(Path("."), record, parts.categories, f"sample {sample.index}", files_on_disk=False)
        return detection_target(image, sample.image)

    def _from_cache(self, index: int) -> tuple | None:
        record = self.cache / "labels" / f"{index:06d}.json"
        if not record.is_file():
            return None  # quarantined
        return store_item(self.cache, record, self._components().categories)
