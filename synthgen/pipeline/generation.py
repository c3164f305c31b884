"""A generation run: settings -> scenes -> renders -> labels -> checked, committed samples -> exports.

``generate_dataset(settings)`` is what ``synthgen generate`` runs (the command only builds
the settings from its config). It prepares the store and its manifest, then runs the one
render loop (``synthgen.pipeline.render_loop``) in this process (``workers=1``) or in
worker processes (``synthgen.pipeline.workers``), and rebuilds the exports and the
manifest from the store at the end.
"""

from __future__ import annotations

import collections
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig
from tqdm import tqdm

from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_number
from synthgen.io.files import write_json_atomic
from synthgen.io.manifest import MANIFEST, build_manifest
from synthgen.io.shards import SHARDS, ShardPacker
from synthgen.io.store import prepare_store, store_counts
from synthgen.pipeline.render_loop import Stages, build_components, render_and_commit
from synthgen.pipeline.sequence import SequenceSettings, render_groups
from synthgen.pipeline.workers import render_in_processes
from synthgen.registry import build_settings

__all__ = ["GenerateSettings", "GenerateSummary", "generate_dataset", "generate_from_config", "packing",
           "stop_on_interrupt"]

# Keys that control how a run executes, not what it produces: they may differ on
# resume and are left out of the manifest (so identical datasets have identical bytes).
RUN_CONTROL_KEYS = ("out", "n", "resume", "overwrite", "progress", "threads", "workers", "recycle_after",
                    "shard", "num_shards")
_COMPONENT_KEYS = ("seed", "allowed_target_prefixes", "scene", "render", "labels", "augment", "writer", "export",
                   "sequence", "motion", "generator", "lidar")
log = logging.getLogger("synthgen")


def _frame_consistent(augment: dict) -> bool:
    """A sensor model whose effects leave each frame's geometry alone (no per-frame warps)."""
    return (augment.get("_target_") == "synthgen.augment.sensor.SensorModel"
            and not augment.get("lens_distortion") and not augment.get("transforms"))


class GenerateSettings:
    """The settings of ``synthgen generate`` (conf/generate.yaml): its constructor is the schema.

    Component nodes (``scene``, ``render``, ``labels``, ``augment``, ``writer``, ``export``,
    ``motion``, ``generator``) are kept as plain config and built by ``build_components``;
    the rest is validated here.

    Raises:
        ConfigError: A value is out of range or of the wrong kind (the message names the key).
    """

    def __init__(self, out: str, n: int, seed: int, resume: bool, overwrite: bool, progress: bool, threads: int,
                 workers: int, recycle_after: int, shard: int, num_shards: int, allowed_target_prefixes: list,
                 scene: dict, render: dict, labels: dict, augment: dict | None, writer: dict, sequence: dict | None,
                 motion: dict | None, generator: dict | None, export: dict | None = None, lidar: dict | None = None):
        if not isinstance(out, str) or not out:
            raise ConfigError(f"out: must be a folder path, got {out!r}")
        for key, value in (("resume", resume), ("overwrite", overwrite), ("progress", progress)):
            if not isinstance(value, bool):
                raise ConfigError(f"{key}: must be true or false, got {value!r}")
        self.out, self.resume, self.overwrite, self.progress = out, resume, overwrite, progress
        self.n = check_number("n", n, minimum=1, integer=True)
        self.seed = check_number("seed", seed, minimum=0, integer=True)
        self.threads = check_number("threads", threads, minimum=1, maximum=64, integer=True)
        self.workers = check_number("workers", workers, minimum=1, maximum=256, integer=True)
        self.recycle_after = check_number("recycle_after", recycle_after, minimum=0, integer=True)
        self.num_shards = check_number("num_shards", num_shards, minimum=1, integer=True)
        self.shard = check_number("shard", shard, minimum=0, maximum=num_shards - 1, integer=True)
        if recycle_after and sys.version_info < (3, 11):
            raise ConfigError("recycle_after: needs Python >= 3.11 (max_tasks_per_child); set 0")
        if not isinstance(allowed_target_prefixes, list) or not all(
                isinstance(p, str) and p.endswith(".") for p in allowed_target_prefixes):
            raise ConfigError("allowed_target_prefixes: must be a list of module prefixes ending in '.', "
                              f"got {allowed_target_prefixes!r}")
        self.allowed_target_prefixes = allowed_target_prefixes
        self.sequence_settings = SequenceSettings.from_config(sequence)
        if self.sequence_settings.is_video and augment and not _frame_consistent(augment):
            raise ConfigError("augment: 2D augmentation is not supported with sequence.frames > 1 (it would draw "
                              "differently per frame and break flow and tracks); use augment=none, or augment=sensor "
                              "without lens_distortion and transforms (depth of field, motion blur, noise, JPEG)")
        if self.sequence_settings.is_video and generator:
            raise ConfigError("generator: diffusion and paste are not supported with sequence.frames > 1 (each frame "
                              "would be made independently and flicker; flow would not match); use generator=none")
        if lidar and augment and not _frame_consistent(augment):
            raise ConfigError("augment: 2D augmentation moves the image away from the LiDAR's calibration; with lidar "
                              "use augment=none, or augment=sensor without lens_distortion and transforms")
        if lidar and generator:
            raise ConfigError("generator: a LiDAR sweeps the rendered scene; with lidar use generator=none")
        self.scene, self.render, self.labels, self.augment, self.writer = scene, render, labels, augment, writer
        self.export, self.sequence, self.motion, self.generator = export, sequence, motion, generator
        self.lidar = lidar

    @property
    def config(self) -> dict:
        """What the dataset is a function of (the manifest's ``config``): run-control keys left out
        (and ``lidar`` when there is none, so datasets made before LiDAR existed still resume)."""
        return {key: getattr(self, key) for key in _COMPONENT_KEYS if key != "lidar" or self.lidar}

    @property
    def shard_of(self) -> tuple[int, int]:
        return self.shard, self.num_shards


@dataclass
class GenerateSummary:
    """What a run produced.

    Attributes:
        out: Dataset folder.
        rendered: Samples rendered by this run (committed or quarantined).
        skipped: Samples already committed by an earlier run (resume).
        images: Committed (labeled) samples in the dataset.
        instances: Labeled instances in the dataset.
        instances_per_category: Category name -> labeled instance count.
        quarantined: Samples set aside by the label self-checks.
        dropped_instances: Instances too small to be labeled.
        seconds: Wall time of the render loop.
        stage_ms: Mean milliseconds per sample of each stage: wall time for rendering and
            for waiting on the next scene, CPU time for the stages that overlap rendering
            on threads (scene sampling, labels, augmentation, writing), wall time of the
            diffusion pipeline calls. With workers, summed over the workers.
        exports: Export name -> written path.
    """

    out: Path
    rendered: int
    skipped: int
    images: int
    instances: int
    instances_per_category: dict[str, int]
    quarantined: int
    dropped_instances: int
    seconds: float
    stage_ms: dict[str, float] = field(default_factory=dict)
    exports: dict[str, Path] = field(default_factory=dict)

    @property
    def images_per_second(self) -> float:
        return self.rendered / self.seconds if self.seconds > 0 else 0.0

    def format(self) -> str:
        """A human-readable report."""
        lines = [
            f"dataset: {self.out}",
            f"images: {self.images} committed ({self.rendered} rendered now, {self.skipped} already there)",
            f"quarantined: {self.quarantined}",
            f"instances: {self.instances} (+{self.dropped_instances} too small, not labeled)",
        ]
        lines += [f"  {name}: {count}" for name, count in self.instances_per_category.items()]
        rate = self.images_per_second
        lines.append(f"throughput: {rate:.{1 if rate >= 1 else 3}f} images/s ({self.seconds:.1f} s)")
        if self.stage_ms:
            lines.append("per sample: " + ", ".join(f"{k} {v:.1f} ms" for k, v in self.stage_ms.items()))
        lines += [f"export {name}: {path}" for name, path in self.exports.items()]
        return "\n".join(lines)


def generate_dataset(settings: GenerateSettings) -> GenerateSummary:
    """Generate the dataset ``settings`` describe (see conf/generate.yaml).

    Args:
        settings: The run's settings (``generate_from_config`` builds them from a composed config).

    Returns:
        What was produced; also printed when ``progress`` is on.

    Raises:
        ConfigError: A config key or value is invalid (the message names the key).
        InputError: The output folder or an input file cannot be used.
    """
    parts = build_components(settings)
    sequence, categories = settings.sequence_settings, parts.categories
    root = Path(settings.out).expanduser()
    # Validates writer settings before anything touches disk.
    writer = parts.make_writer(root=root, flow_format=sequence.flow_format)
    if writer.layout == "webdataset" and parts.exporters:
        raise ConfigError("export: with writer.layout=webdataset the images end up in tar shards, where exports "
                          "made from the loose files cannot point; use export=[] (synthgen.torch.StoreDataset and "
                          "webdataset read the shards), or layout=files with export=[webdataset] to keep both")
    prepare_store(root, settings.config, resume=settings.resume, overwrite=settings.overwrite)
    # Incomplete until this run finishes (a resumed dataset's config is the same).
    write_json_atomic(root / MANIFEST, build_manifest(settings.config, categories, None, settings.shard_of))

    stage_totals = collections.Counter()
    with writer:
        # A shard takes every num_shards-th clip (still image): stable as n grows, merged by index.
        shard_indices = [i for i in range(settings.n * sequence.frames)
                         if i // sequence.frames % settings.num_shards == settings.shard]
        packer = ShardPacker(root, writer.shard_size, shard_indices) if writer.layout == "webdataset" else None
        if packer is not None and settings.resume:
            packer.reconcile()  # a tar that n outgrew is loose again, to be packed with its new samples
        done = writer.committed_indices() | (packer.packed_indices() if packer is not None else set())
        todo = [i for i in shard_indices if i not in done]
        start = time.perf_counter()
        groups = render_groups(todo, sequence)
        bar = tqdm(total=sum(commit for group in groups for _, commit in group), unit="img",
                   desc=f"generate ({settings.workers} workers)" if settings.workers > 1 else "generate",
                   disable=not settings.progress)
        with stop_on_interrupt() as stop, bar, packing(packer):
            if settings.workers > 1:
                stage_totals.update(render_in_processes(groups, settings, stop, bar.update))
            else:
                stages = Stages(parts.deriver, parts.augmenter, writer, settings.seed, sequence, parts.generator)
                stage_totals.update(render_and_commit(groups, parts.frames, parts.renderer, stages, settings.threads,
                                                      stop, bar.update))
        if stop.is_set():
            raise KeyboardInterrupt
        seconds = time.perf_counter() - start

    packed = []
    if packer is not None:
        packer.pack_ready()
        packer.remove_empty_folders()
        packed = [sample.record for sample in packer.packed_samples()]
    counts = store_counts(root, categories, packed)
    written = {name: exporter(root) for name, exporter in parts.exporters.items()}
    if packer is not None:
        written["shards"] = root / SHARDS
    write_json_atomic(root / MANIFEST, build_manifest(settings.config, categories, counts, settings.shard_of))
    summary = GenerateSummary(
        out=root,
        rendered=len(todo),
        skipped=len(shard_indices) - len(todo),
        images=counts["images"],
        instances=counts["instances"],
        instances_per_category=counts["instances_per_category"],
        quarantined=counts["quarantined"],
        dropped_instances=counts["dropped_instances"],
        seconds=seconds,
        stage_ms={k: 1000 * v / max(len(todo), 1) for k, v in stage_totals.items()},
        exports=written,
    )
    if settings.progress:
        print(summary.format(), file=sys.stderr)
    return summary


def generate_from_config(cfg: DictConfig | Mapping) -> GenerateSummary:
    """``generate_dataset`` with the settings built from a composed generate config (conf/generate.yaml).

    Raises:
        ConfigError: A config key or value is invalid (the message names the key).
        InputError: The output folder or an input file cannot be used.
    """
    return generate_dataset(build_settings(GenerateSettings, cfg, "generate"))


@contextmanager
def packing(packer: ShardPacker | None, every_s: float = 2.0) -> Iterator[None]:
    """Pack complete tar shards on a thread of its own while the run commits samples, so only
    the shards in flight are loose files (``writer.layout=webdataset``); nothing without a packer."""
    if packer is None:
        yield
        return
    done = threading.Event()

    def pack_until_done() -> None:
        while not done.wait(every_s):
            packer.pack_ready()

    thread = threading.Thread(target=pack_until_done, name="synthgen-shards", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


@contextmanager
def stop_on_interrupt() -> Iterator[threading.Event]:
    """An event set by the first Ctrl-C (SIGINT) or SIGTERM; a second one interrupts at once.

    Raising KeyboardInterrupt at an arbitrary point can land inside a finalizer or a
    GL callback, where Python only prints it and carries on; a flag checked between
    samples stops the run reliably, after the samples in flight are committed.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # signal handlers can only be installed from the main thread
        return

    def request_stop(signum, frame):
        stop.set()
        for number, handler in previous.items():
            signal.signal(number, handler)

    previous = {number: signal.signal(number, request_stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
