"""The one render loop of ``synthgen generate``, for the calling process and for worker processes.

``build_components`` builds what the config names once per process; ``render_and_commit``
renders render groups on the calling thread (one renderer per process), draws each next
scene on a thread of its own while the current one renders, and derives labels, checks
and commits samples on a small thread pool (numpy, zlib and OpenCV release the GIL), so
the stages overlap. With ``workers=1`` it runs in the calling process; with more, every
worker process runs it on the groups it is given (``synthgen.pipeline.workers``), and both
report the same stages.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from synthgen.augment.augmenter import Augmenter
from synthgen.augment.sensor import SensorModel
from synthgen.core import AUGMENT_STREAM, LIDAR_STREAM, Sample, stream_generator, stream_seed
from synthgen.core.errors import ConfigError
from synthgen.core.lidar import LidarSensor
from synthgen.io.store import DatasetWriter
from synthgen.labels.checks import check_sample
from synthgen.labels.derive import LabelDeriver
from synthgen.labels.tracks import add_sequence_labels
from synthgen.pipeline.lidar_sweep import lidar_sweep
from synthgen.pipeline.motion import MotionModel
from synthgen.pipeline.sequence import FrameJob, FrameSource, SequenceSettings, finish_order
from synthgen.registry import instantiate
from synthgen.render.base import Renderer
from synthgen.scene.base import SceneSampler

__all__ = ["Components", "Stages", "build_components", "iter_samples", "render_and_commit"]

log = logging.getLogger("synthgen")


@dataclass
class Components:
    """What ``build_components`` builds from the settings, once per process."""

    frames: FrameSource
    renderer: Renderer
    deriver: LabelDeriver
    augmenter: Augmenter | SensorModel | None
    make_writer: Callable[..., DatasetWriter]
    exporters: dict[str, Callable[[Path], Path]]
    generator: object | None  # DiffusionGenerator (its model loaded) or Paste (its cut-outs made)

    @property
    def categories(self):
        """The run's categories: the scene's, or the pasted dataset's when nothing is rendered."""
        if self.generator is not None and not self.generator.needs_render:
            return self.generator.categories
        return self.frames.sampler.categories


def build_components(settings) -> Components:
    """Every component the config names, checked to be of the right kind.

    Args:
        settings: The run's ``GenerateSettings`` (its component nodes, seed, sequence
            settings and allowed target prefixes).

    Raises:
        ConfigError: A node builds the wrong kind of object, or a component rejects its
            arguments (named by config path); a diffusion model that cannot be loaded.
    """
    allowed = settings.allowed_target_prefixes
    sequence = settings.sequence_settings
    motion = instantiate(settings.motion, "motion", allowed) if sequence.is_video else None
    sampler = instantiate(settings.scene, "scene", allowed)
    renderer = instantiate(settings.render, "render", allowed)
    deriver = instantiate(settings.labels, "labels", allowed)
    augmenter = instantiate(settings.augment, "augment", allowed) if settings.augment else None
    make_writer = instantiate(settings.writer, "writer", allowed)
    lidar = instantiate(settings.lidar, "lidar", allowed) if settings.lidar else None
    exporters = {name: instantiate(node, f"export.{name}", allowed) for name, node in (settings.export or {}).items()}
    for key, value, kind in (("motion", motion, MotionModel), ("scene", sampler, SceneSampler),
                             ("render", renderer, Renderer), ("labels", deriver, LabelDeriver),
                             ("augment", augmenter, (Augmenter, SensorModel)), ("lidar", lidar, LidarSensor)):
        if value is not None and not isinstance(value, kind):
            names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
            raise ConfigError(f"{key}._target_: must build a {names}, got {type(value).__name__}")
    if not callable(make_writer):
        raise ConfigError("writer: must be a partial node (_partial_: true) building a DatasetWriter")
    frames = FrameSource(sampler, motion, sequence, settings.seed, renderer.width, renderer.height, lidar)
    return Components(frames, renderer, deriver, augmenter, make_writer, exporters,
                      _build_generator(settings, renderer, sampler))


def _build_generator(settings, renderer: Renderer, sampler: SceneSampler):
    """The generator, ready (so a bad model or source fails before anything is written): a
    diffusion generator with its model loaded, or copy-paste with its cut-outs made."""
    if not settings.generator:
        return None
    from synthgen.copy_paste.paste import Paste

    generator = instantiate(settings.generator, "generator", settings.allowed_target_prefixes)
    if isinstance(generator, Paste):
        generator.check_size(renderer.width, renderer.height)
        generator.load(sampler.categories)
        return generator
    from synthgen.diffusion.base import DiffusionGenerator

    if not isinstance(generator, DiffusionGenerator):
        raise ConfigError(f"generator._target_: must build a DiffusionGenerator or Paste, got {type(generator).__name__}")
    generator.check_size(renderer.width, renderer.height)
    generator.load()
    return generator


@dataclass
class Stages:
    """What turns a render into a committed sample (run on the thread pool)."""

    deriver: LabelDeriver
    augmenter: Augmenter | SensorModel | None
    writer: DatasetWriter | None  # None: samples are only yielded (iter_samples)
    seed: int
    sequence: SequenceSettings
    generator: object | None = None  # DiffusionGenerator or Paste

    @property
    def batch_size(self) -> int:
        return self.generator.batch_size if self.generator is not None else 1

    @property
    def renders(self) -> bool:
        """Whether samples start from a render (all but copy-paste without render-and-paste)."""
        return self.generator is None or self.generator.needs_render

    def generator_seed(self, index: int) -> int:
        """The seed of sample ``index``'s stream of the generator."""
        return stream_seed(self.seed, index, self.generator.stream)


def _label(job: FrameJob, stages: Stages):
    sample = stages.deriver(job.render, job.spec, job.index)
    frame = job.index - job.clip.number * stages.sequence.frames if job.clip is not None else 0
    if job.clip is not None:
        sample = add_sequence_labels(sample, job.render, job.clip, frame, flow=stages.sequence.flow,
                                     previous_depth=job.previous_depth, next_depth=job.next_depth)
    if job.spec.lidar is not None:
        sample.lidar = lidar_sweep(job.spec, job.clip, frame, stream_generator(stages.seed, job.index, LIDAR_STREAM))
    return sample


def _checked(jobs: list[FrameJob], stages: Stages, seconds: collections.Counter) -> list[tuple[Sample, list[str]]]:
    """Derive, (generate,) augment and check a batch: each sample with its problems (none: commit it).
    Adds this thread's CPU seconds per stage to ``seconds`` (wall seconds for diffusion, which may run on a GPU)."""
    scene_problems = {job.index: list(job.spec.problems) if job.spec is not None else [] for job in jobs}
    if not stages.renders:  # copy-paste alone: the sample is composed, not rendered
        samples = []
        for job in jobs:
            samples.append(stages.generator.compose(job.index, stages.generator_seed(job.index)))
            seconds[stages.generator.stage] += stages.generator.last_call_seconds()
    else:
        start = time.thread_time()
        samples = [_label(job, stages) for job in jobs]
        seconds["labels+checks (cpu)"] += time.thread_time() - start
        if stages.generator is not None:
            samples = stages.generator(samples, [stages.generator_seed(s.index) for s in samples])
            seconds[stages.generator.stage] += stages.generator.last_call_seconds()
    checked = []
    for sample in samples:
        start = time.thread_time()
        if stages.augmenter is not None:
            sample = stages.augmenter(sample, stream_seed(stages.seed, sample.index, AUGMENT_STREAM))
        augmented = time.thread_time()
        problems = scene_problems[sample.index] + check_sample(sample)
        problems += stages.generator.problems(sample) if stages.generator is not None else []
        seconds["labels+checks (cpu)"] += time.thread_time() - augmented
        if stages.augmenter is not None:
            seconds["augment (cpu)"] += augmented - start
        checked.append((sample, problems))
    return checked


def _finish(jobs: list[FrameJob], stages: Stages) -> dict[str, float]:
    """Derive, (generate,) augment, check and commit (or quarantine) a batch of samples;
    this thread's CPU seconds per stage (wall seconds for diffusion, which may run on a GPU)."""
    seconds = collections.Counter()
    for sample, problems in _checked(jobs, stages, seconds):
        start = time.thread_time()
        if problems:
            log.warning("sample %d quarantined: %s", sample.index, "; ".join(problems))
            stages.writer.quarantine(sample, problems)
        else:
            stages.writer.add(sample)
        seconds["encode+write (cpu)"] += time.thread_time() - start
    return dict(seconds)


def iter_samples(groups: list[list[tuple[int, bool]]], frames: FrameSource, renderer: Renderer,
                 stages: Stages) -> Iterator[tuple[Sample, list[str]]]:
    """The render loop on the calling thread, with nothing written: each committed sample of the
    ``render_groups`` with its problems (none: ``generate`` would commit it; some: quarantine),
    in order. The samples are the ones ``render_and_commit`` commits for the same indices.

    Args:
        groups: Render groups (``synthgen.pipeline.sequence.render_groups``).
        frames: Draws each index's scene.
        renderer: This process's renderer.
        stages: Labels, augmentation, checks and generator (``writer`` unused).
    """
    seconds = collections.Counter()
    plan = [item for group in groups for item in group]
    for batch in _batches(finish_order(_renders(plan, frames, renderer, seconds, None, stages.renders)),
                          stages.batch_size):
        yield from _checked(batch, stages, seconds)


def _batches(jobs: Iterable, size: int) -> Iterator[list]:
    """Lists of up to ``size`` consecutive items (the last may be shorter)."""
    batch = []
    for job in jobs:
        batch.append(job)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _renders(plan: list[tuple[int, bool]], frames: FrameSource, renderer: Renderer, seconds: collections.Counter,
             stop: threading.Event | None, renders: bool = True) -> Iterator[tuple]:
    """Render the (index, commit) plan in order; each next scene is drawn while this one renders,
    on one thread of its own (which keeps the sampler's caches single-threaded). Without
    ``renders``, the plan's indices pass through with no scene and no render."""

    if not renders:  # nothing to draw or render (copy-paste alone)
        for index, commit in plan:
            if stop is not None and stop.is_set():
                return
            yield index, commit, None, None, None
        return

    def draw_scene(index: int):
        start = time.thread_time()
        spec, clip = frames.scene(index)
        return spec, clip, time.thread_time() - start

    with ThreadPoolExecutor(1, "synthgen-scene") as scenes:
        upcoming = scenes.submit(draw_scene, plan[0][0]) if plan else None
        for position, (index, commit) in enumerate(plan):
            if stop is not None and stop.is_set():
                return
            began = time.perf_counter()
            spec, clip, sample_cpu = upcoming.result()
            if position + 1 < len(plan):
                upcoming = scenes.submit(draw_scene, plan[position + 1][0])
            sampled = time.perf_counter()
            render = renderer.render(spec, amodal=commit)  # neighbours only lend their depth
            seconds["sample (cpu)"] += sample_cpu
            seconds["wait for scene"] += sampled - began
            seconds["render"] += time.perf_counter() - sampled
            yield index, commit, spec, render, clip


def render_and_commit(groups: list[list[tuple[int, bool]]], frames: FrameSource, renderer: Renderer, stages: Stages,
                      threads: int, stop: threading.Event | None = None,
                      committed: Callable[[int], None] = lambda count: None) -> dict[str, float]:
    """Render the ``render_groups`` and commit each committed sample: the one render loop.

    Args:
        groups: Render groups (a still image, or a clip's frames with neighbours).
        frames: Draws each index's scene.
        renderer: This process's renderer.
        stages: Labels, checks and the writer.
        threads: Threads for labels, checks and encoding; at most two batches per thread
            are in flight, which bounds memory.
        stop: Set by an interrupt: the loop ends after the samples in flight are committed.
        committed: Called with the number of samples of each batch once it is committed.

    Returns:
        Seconds per stage: wall time of rendering and of waiting for the next scene, CPU
        time of the stages on threads, wall time of diffusion calls.
    """
    seconds = collections.Counter()
    plan = [item for group in groups for item in group]
    pending: collections.deque[Future] = collections.deque()

    def collect_oldest() -> None:
        future = pending.popleft()
        seconds.update(future.result())
        committed(future.samples)

    with ThreadPoolExecutor(threads, "synthgen-write") as pool:
        for batch in _batches(finish_order(_renders(plan, frames, renderer, seconds, stop, stages.renders)), stages.batch_size):
            future = pool.submit(_finish, batch, stages)
            future.samples = len(batch)
            pending.append(future)
            while len(pending) > 2 * threads or (pending and pending[0].done()):
                collect_oldest()
        while pending:
            collect_oldest()
    return dict(seconds)
