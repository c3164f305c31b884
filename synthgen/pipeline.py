"""Orchestration: config -> scenes -> renders -> labels -> checked, committed samples -> exports.

``generate(cfg)`` is what ``synthgen generate`` runs; tests call it directly. Rendering
happens on the calling thread (one renderer per process); label derivation, checks and
encoding run on a small thread pool so they overlap with rendering the next image
(numpy, zlib and OpenCV release the GIL).
"""

from __future__ import annotations

import collections
import importlib.metadata
import logging
import platform
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from synthgen.errors import ConfigError, InputError
from synthgen.io.store import (
    MANIFEST,
    DatasetWriter,
    clear_dataset,
    iter_records,
    read_manifest,
    remove_partial_files,
    write_json_atomic,
)
from synthgen.labels.checks import check_sample
from synthgen.labels.derive import LabelDeriver
from synthgen.labels.tracks import add_sequence_labels
from synthgen.registry import instantiate
from synthgen.render.base import Renderer
from synthgen.augment.augmenter import Augmenter
from synthgen.rng import stream_seed
from synthgen.scene.base import SceneSampler
from synthgen.scene.motion import MotionModel
from synthgen.sequence import FrameJob, FrameSource, SequenceSettings, finish_order, render_groups
from synthgen.validation import check_number

__all__ = ["GenerateSummary", "generate", "prepare_output", "stop_on_interrupt"]

# Keys that control how a run executes, not what it produces: they may differ on
# resume and are left out of the manifest (so identical datasets have identical bytes).
RUN_CONTROL_KEYS = ("out", "n", "resume", "overwrite", "progress", "threads", "workers", "recycle_after",
                    "shard", "num_shards")
TOP_LEVEL_KEYS = RUN_CONTROL_KEYS + (
    "seed", "allowed_target_prefixes", "scene", "render", "labels", "augment", "writer", "export", "sequence",
    "motion", "generator",
)
_AUGMENT_STREAM = 1  # sample_rng is stream 0 (the scene); augmentation draws from its own
_DIFFUSION_STREAM = 3  # prompts and diffusion noise (2 is a clip's motion)
MANIFEST_FORMAT = "synthgen-dataset/1"
log = logging.getLogger("synthgen")
_VERSIONED = ("synthgen", "numpy", "trimesh", "pyrender", "PyOpenGL", "hydra-core", "pycocotools",
              "opencv-python-headless")


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
            for waiting on the next scene (main thread), CPU time for the stages that
            overlap rendering on threads (scene sampling, labels, augmentation, writing),
            wall time of the diffusion pipeline calls.
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


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _VERSIONED:
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


def _config_diff(old: Mapping, new: Mapping) -> list[str]:
    flat_old, flat_new = _flatten(old), _flatten(new)
    return [
        f"{key}: {flat_old.get(key, '<absent>')!r} -> {flat_new.get(key, '<absent>')!r}"
        for key in sorted(set(flat_old) | set(flat_new))
        if flat_old.get(key, "<absent>") != flat_new.get(key, "<absent>")
    ]


def prepare_output(root: Path, config: dict, *, resume: bool, overwrite: bool) -> None:
    """Make ``root`` ready for a run without losing anything by accident.

    A non-empty folder is refused unless ``resume`` (same config, committed samples are
    kept) or ``overwrite`` (a synthgen dataset there is deleted; a folder holding
    anything synthgen did not write is refused).

    Raises:
        ConfigError: ``resume`` and ``overwrite`` are both set.
        InputError: The folder is not usable, or resuming with a different config.
    """
    if resume and overwrite:
        raise ConfigError("resume/overwrite: choose one; resume=true keeps committed samples, overwrite=true deletes them")
    if root.exists() and not root.is_dir():
        raise InputError(f"out={root}: exists and is not a folder; choose another out=")
    if root.is_dir() and any(root.iterdir()):
        if overwrite:
            clear_dataset(root)
        elif resume:
            remove_partial_files(root)  # writes cut short by a crash or kill -9
            previous = read_manifest(root).get("config", {})
            differences = _config_diff(previous, config)
            if differences:
                raise InputError(
                    f"out={root}: cannot resume, the config differs from the one that started this dataset:\n  "
                    + "\n  ".join(differences)
                    + "\nrun with the original settings, or overwrite=true to start over"
                )
        else:
            raise InputError(
                f"out={root}: folder is not empty; pass resume=true to complete the dataset there, "
                "overwrite=true to replace it, or choose another out="
            )
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"out={root}: cannot create the folder ({error.strerror or error}); choose another out=") from error


def _manifest(config: dict, categories, counts: dict | None, shard: tuple[int, int] = (0, 1)) -> dict:
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
        "versions": _versions(),
        "counts": counts or {},
    }


def _count(root: Path, categories) -> dict:
    per_category = collections.Counter()
    images = dropped = 0
    for record in iter_records(root):
        images += 1
        dropped += len(record["dropped_instance_ids"])
        per_category.update(item["category"] for item in record["instances"])
    return {
        "images": images,
        "instances": sum(per_category.values()),
        "instances_per_category": {c.name: per_category.get(c.name, 0) for c in categories},
        "quarantined": sum(1 for _ in (root / "quarantine").glob("*.json")),
        "dropped_instances": dropped,
    }


def _settings(cfg: Mapping) -> dict:
    unknown = sorted(set(cfg) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown key; allowed top-level keys: {list(TOP_LEVEL_KEYS)}")
    missing = sorted(set(TOP_LEVEL_KEYS) - set(cfg))
    if missing:
        raise ConfigError(f"{missing[0]}: missing; compose the config from conf/generate.yaml")
    if not isinstance(cfg["out"], str) or not cfg["out"]:
        raise ConfigError(f"out: must be a folder path, got {cfg['out']!r}")
    check_number("n", cfg["n"], minimum=1, integer=True)
    check_number("seed", cfg["seed"], minimum=0, integer=True)
    check_number("threads", cfg["threads"], minimum=1, maximum=64, integer=True)
    check_number("workers", cfg["workers"], minimum=1, maximum=256, integer=True)
    check_number("recycle_after", cfg["recycle_after"], minimum=0, integer=True)
    check_number("num_shards", cfg["num_shards"], minimum=1, integer=True)
    check_number("shard", cfg["shard"], minimum=0, maximum=cfg["num_shards"] - 1, integer=True)
    sequence = SequenceSettings.from_config(cfg["sequence"])
    if sequence.is_video and cfg["augment"]:
        raise ConfigError("augment: 2D augmentation is not supported with sequence.frames > 1 (it would draw "
                          "differently per frame and break flow and tracks); use augment=none")
    if sequence.is_video and cfg["generator"]:
        raise ConfigError("generator: diffusion is not supported with sequence.frames > 1 (each frame would be "
                          "redrawn independently and flicker; flow would not match); use generator=none")
    if cfg["recycle_after"] and sys.version_info < (3, 11):
        raise ConfigError("recycle_after: needs Python >= 3.11 (max_tasks_per_child); set 0")
    for key in ("resume", "overwrite", "progress"):
        if not isinstance(cfg[key], bool):
            raise ConfigError(f"{key}: must be true or false, got {cfg[key]!r}")
    prefixes = cfg["allowed_target_prefixes"]
    if not isinstance(prefixes, list) or not all(isinstance(p, str) and p.endswith(".") for p in prefixes):
        raise ConfigError(f"allowed_target_prefixes: must be a list of module prefixes ending in '.', got {prefixes!r}")
    return cfg


def _build(cfg: dict):
    allowed = cfg["allowed_target_prefixes"]
    sequence = SequenceSettings.from_config(cfg["sequence"])
    motion = instantiate(cfg["motion"], "motion", allowed) if sequence.is_video else None
    if motion is not None and not isinstance(motion, MotionModel):
        raise ConfigError(f"motion._target_: must build a MotionModel, got {type(motion).__name__}")
    sampler = instantiate(cfg["scene"], "scene", allowed)
    renderer = instantiate(cfg["render"], "render", allowed)
    deriver = instantiate(cfg["labels"], "labels", allowed)
    augmenter = instantiate(cfg["augment"], "augment", allowed) if cfg["augment"] else None
    if augmenter is not None and not isinstance(augmenter, Augmenter):
        raise ConfigError(f"augment._target_: must build an Augmenter, got {type(augmenter).__name__}")
    make_writer = instantiate(cfg["writer"], "writer", allowed)
    exporters = {name: instantiate(node, f"export.{name}", allowed) for name, node in (cfg["export"] or {}).items()}
    for key, value, kind in (("scene", sampler, SceneSampler), ("render", renderer, Renderer)):
        if not isinstance(value, kind):
            raise ConfigError(f"{key}._target_: must build a {kind.__name__}, got {type(value).__name__}")
    if not isinstance(deriver, LabelDeriver):
        raise ConfigError(f"labels._target_: must build a LabelDeriver, got {type(deriver).__name__}")
    if not callable(make_writer):
        raise ConfigError("writer: must be a partial node (_partial_: true) building a DatasetWriter")
    frames = FrameSource(sampler, motion, sequence, cfg["seed"], renderer.width, renderer.height)
    generator = _build_generator(cfg, renderer)
    return frames, renderer, deriver, augmenter, make_writer, exporters, generator


def _build_generator(cfg: dict, renderer):
    """The diffusion generator, its model loaded (so a bad model fails before anything is written)."""
    if not cfg["generator"]:
        return None
    from synthgen.diffusion.base import DiffusionGenerator

    generator = instantiate(cfg["generator"], "generator", cfg["allowed_target_prefixes"])
    if not isinstance(generator, DiffusionGenerator):
        raise ConfigError(f"generator._target_: must build a DiffusionGenerator, got {type(generator).__name__}")
    generator.check_size(renderer.width, renderer.height)
    generator.load()
    return generator


@dataclass
class _Stages:
    """What turns a render into a committed sample (run on the thread pool)."""

    deriver: LabelDeriver
    augmenter: Augmenter | None
    writer: DatasetWriter
    seed: int
    sequence: SequenceSettings
    generator: object | None = None  # DiffusionGenerator

    @property
    def batch_size(self) -> int:
        return self.generator.batch_size if self.generator is not None else 1


def _label(job: FrameJob, stages: _Stages):
    sample = stages.deriver(job.render, job.spec, job.index)
    if job.clip is not None:
        frame = job.index - job.clip.number * stages.sequence.frames
        sample = add_sequence_labels(sample, job.render, job.clip, frame, flow=stages.sequence.flow,
                                     previous_depth=job.previous_depth, next_depth=job.next_depth)
    return sample


def _finish(jobs: list[FrameJob], stages: _Stages) -> dict[str, float]:
    """Derive, (generate,) augment, check and commit (or quarantine) a batch of samples;
    this thread's CPU seconds per stage (wall seconds for diffusion, which may run on a GPU)."""
    seconds = collections.Counter()
    start = time.thread_time()
    samples = [_label(job, stages) for job in jobs]
    seconds["labels+checks (cpu)"] += time.thread_time() - start
    if stages.generator is not None:
        samples = stages.generator(samples, [stream_seed(stages.seed, s.index, _DIFFUSION_STREAM) for s in samples])
        seconds["diffusion"] += stages.generator.last_call_seconds()
    for sample in samples:
        start = time.thread_time()
        if stages.augmenter is not None:
            sample = stages.augmenter(sample, stream_seed(stages.seed, sample.index, _AUGMENT_STREAM))
        augmented = time.thread_time()
        problems = check_sample(sample) + (stages.generator.problems(sample) if stages.generator is not None else [])
        checked = time.thread_time()
        if problems:
            log.warning("sample %d quarantined: %s", sample.index, "; ".join(problems))
            stages.writer.quarantine(sample, problems)
        else:
            stages.writer.add(sample)
        seconds["labels+checks (cpu)"] += checked - augmented
        seconds["encode+write (cpu)"] += time.thread_time() - checked
        if stages.augmenter is not None:
            seconds["augment (cpu)"] += augmented - start
    return dict(seconds)


def batches(jobs, size: int):
    """Lists of up to ``size`` consecutive items of an iterable (the last may be shorter)."""
    batch = []
    for job in jobs:
        batch.append(job)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def generate(cfg: DictConfig | Mapping) -> GenerateSummary:
    """Generate a dataset as the config describes (see conf/generate.yaml).

    Args:
        cfg: The composed generate config.

    Returns:
        What was produced; also printed when ``progress`` is on.

    Raises:
        ConfigError: A config key or value is invalid (the message names the key).
        InputError: The output folder or an input file cannot be used.
    """
    plain = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    settings = _settings(plain)
    frames, renderer, deriver, augmenter, make_writer, exporters, generator = _build(settings)
    sampler, sequence = frames.sampler, frames.settings
    root = Path(settings["out"]).expanduser()
    config = {key: value for key, value in settings.items() if key not in RUN_CONTROL_KEYS}
    # Validates writer settings before anything touches disk.
    writer = make_writer(root=root, flow_format=sequence.flow_format)
    prepare_output(root, config, resume=settings["resume"], overwrite=settings["overwrite"])
    # Incomplete until this run finishes (a resumed dataset's config is the same).
    shard = (settings["shard"], settings["num_shards"])
    write_json_atomic(root / MANIFEST, _manifest(config, sampler.categories, None, shard))

    stage_totals = collections.Counter()
    with writer:
        done = writer.committed_indices()
        # A shard takes every num_shards-th clip (still image): stable as n grows, merged by index.
        shard_indices = [i for i in range(settings["n"] * sequence.frames) if i // sequence.frames % shard[1] == shard[0]]
        todo = [i for i in shard_indices if i not in done]
        start = time.perf_counter()
        stages = _Stages(deriver, augmenter, writer, settings["seed"], sequence, generator)
        groups = render_groups(todo, sequence)
        if settings["workers"] > 1:
            from synthgen.workers import render_in_processes

            render_in_processes(groups, settings, stage_totals)
        else:
            _render_loop(groups, settings, frames, renderer, stages, stage_totals)
        seconds = time.perf_counter() - start

    counts = _count(root, sampler.categories)
    written = {name: exporter(root) for name, exporter in exporters.items()}
    write_json_atomic(root / MANIFEST, _manifest(config, sampler.categories, counts, shard))
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
    if settings["progress"]:
        print(summary.format(), file=sys.stderr)
    return summary


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


def _render_loop(groups, settings, frames: FrameSource, renderer, stages: _Stages, stage_totals) -> None:
    """Render the ``render_groups`` and commit each committed sample.

    Raises:
        KeyboardInterrupt: After Ctrl-C, once the samples in flight are committed.
    """
    threads = settings["threads"]
    plan = [item for group in groups for item in group]
    pending: collections.deque[Future] = collections.deque()
    bar = tqdm(total=sum(commit for _, commit in plan), unit="img", desc="generate", disable=not settings["progress"])

    def collect_oldest() -> None:
        future = pending.popleft()
        stage_totals.update(future.result())
        bar.update(future.samples)

    def draw_scene(index: int):
        start = time.thread_time()
        spec, clip = frames.scene(index)
        return spec, clip, time.thread_time() - start

    # Scenes are drawn one ahead on their own thread (textures, placement and randomizers
    # overlap rendering); one thread keeps the sampler's caches single-threaded.
    with (stop_on_interrupt() as stop, bar, ThreadPoolExecutor(threads, "synthgen-write") as pool,
          ThreadPoolExecutor(1, "synthgen-scene") as scenes):

        def renders():
            upcoming = scenes.submit(draw_scene, plan[0][0]) if plan else None
            for position, (index, commit) in enumerate(plan):
                if stop.is_set():
                    return
                began = time.perf_counter()
                spec, clip, sample_cpu = upcoming.result()
                if position + 1 < len(plan):
                    upcoming = scenes.submit(draw_scene, plan[position + 1][0])
                sampled = time.perf_counter()
                render = renderer.render(spec, amodal=commit)  # neighbours only lend their depth
                stage_totals["sample (cpu)"] += sample_cpu
                stage_totals["wait for scene"] += sampled - began
                stage_totals["render"] += time.perf_counter() - sampled
                yield index, commit, spec, render, clip

        for batch in batches(finish_order(renders()), stages.batch_size):
            future = pool.submit(_finish, batch, stages)
            future.samples = len(batch)
            pending.append(future)
            # Bound memory: at most two batches per thread in flight.
            while len(pending) > 2 * threads or (pending and pending[0].done()):
                collect_oldest()
        while pending:
            collect_oldest()
    if stop.is_set():
        raise KeyboardInterrupt
