"""Generation on a pool of processes (``workers=N``).

Each worker process builds every component from the settings once (its own renderer and
OpenGL context; processes are spawned, never forked, so no GL state is shared) and then
runs the same render loop as a single-process run (``render_and_commit``) on the render
groups it is given (one still image, or the frames of one clip, which must be rendered in
order for their flow). A sample depends only on (seed, index), and each is committed by
its index, so the dataset is byte-identical for any worker count and any completion
order. ``recycle_after=K`` replaces a worker after K groups.
"""

from __future__ import annotations

import collections
import multiprocessing
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from synthgen.pipeline.render_loop import Stages, build_components, render_and_commit

__all__ = ["render_in_processes"]

_WORKER: dict = {}


def _start_worker(settings) -> None:
    # The parent decides when to stop (Ctrl-C/SIGTERM finish the samples in flight).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parts = build_components(settings)
    sequence = settings.sequence_settings
    writer = parts.make_writer(root=Path(settings.out).expanduser(), flow_format=sequence.flow_format)
    _WORKER.update(parts=parts, threads=settings.threads,
                   stages=Stages(parts.deriver, parts.augmenter, writer, settings.seed, sequence, parts.generator))


def _produce(group: list[tuple[int, bool]]) -> tuple[int, dict[str, float]]:
    """Draw, render, label, check and commit one render group; the number of samples
    committed and seconds per stage."""
    parts, count = _WORKER["parts"], []
    seconds = render_and_commit([group], parts.frames, parts.renderer, _WORKER["stages"], _WORKER["threads"],
                                committed=count.append)
    return sum(count), seconds


def render_in_processes(groups: list[list[tuple[int, bool]]], settings, stop: threading.Event,
                        committed: Callable[[int], None]) -> dict[str, float]:
    """Commit the samples of ``groups`` (see ``render_groups``) on ``settings.workers`` processes.

    Args:
        groups: The render groups, submitted in order.
        settings: The run's ``GenerateSettings`` (each worker builds its components from them).
        stop: Set by an interrupt: no further group is submitted; those in flight finish.
        committed: Called with the number of samples of each finished group.

    Returns:
        Seconds per stage, summed over workers (so they add up to more than the wall time).
    """
    workers = settings.workers
    options = {"max_tasks_per_child": settings.recycle_after} if settings.recycle_after else {}
    pending: collections.deque[Future] = collections.deque()
    stage_totals = collections.Counter()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(settings,),
                             **options) as pool:

        def collect_oldest() -> None:
            count, seconds = pending.popleft().result()
            stage_totals.update(seconds)
            committed(count)

        for group in groups:
            if stop.is_set():
                break
            pending.append(pool.submit(_produce, group))
            # Two groups per worker in flight keep every worker busy and memory bounded.
            while len(pending) >= 2 * workers or (pending and pending[0].done()):
                collect_oldest()
        while pending:
            collect_oldest()
    return dict(stage_totals)
