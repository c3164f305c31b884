"""Generation on a pool of processes (``workers=N``).

Each worker process builds every component from the config once (its own renderer and
OpenGL context; processes are spawned, never forked, so no GL state is shared) and then
turns render groups (one still image, or the frames of one clip, which must be rendered in
order for their flow) into committed samples. A sample depends only on (seed, index), and
each is committed by its index, so the dataset is byte-identical for any worker count
and any completion order. ``recycle_after=K`` replaces a worker after K groups.
"""

from __future__ import annotations

import collections
import multiprocessing
import signal
import time
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from tqdm import tqdm

from synthgen.pipeline import _build, _finish, _Stages, batches, stop_on_interrupt
from synthgen.sequence import finish_order

__all__ = ["render_in_processes"]

_WORKER: dict = {}


def _start_worker(settings: dict) -> None:
    # The parent decides when to stop (Ctrl-C/SIGTERM finish the samples in flight).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    frames, renderer, deriver, augmenter, make_writer, _, generator = _build(settings)
    writer = make_writer(root=Path(settings["out"]).expanduser(), flow_format=frames.settings.flow_format)
    _WORKER.update(frames=frames, renderer=renderer,
                   stages=_Stages(deriver, augmenter, writer, settings["seed"], frames.settings, generator))


def _produce(group: list[tuple[int, bool]]) -> tuple[int, dict[str, float]]:
    """Draw, render, label, check and commit one render group (a still image or a clip's
    frames); the number of samples committed and seconds per stage."""
    renderer, seconds = _WORKER["renderer"], collections.Counter()

    def renders():
        for index, commit in group:
            start = time.perf_counter()
            spec, clip = _WORKER["frames"].scene(index)
            sampled = time.perf_counter()
            render = renderer.render(spec, amodal=commit)
            seconds.update({"sample": sampled - start, "render": time.perf_counter() - sampled})
            yield index, commit, spec, render, clip

    committed = 0
    stages = _WORKER["stages"]
    for batch in batches(finish_order(renders()), stages.batch_size):
        seconds.update(_finish(batch, stages))
        committed += len(batch)
    return committed, dict(seconds)


def render_in_processes(groups: list[list[tuple[int, bool]]], settings: dict,
                        stage_totals: collections.Counter) -> None:
    """Commit the samples of ``groups`` (see ``render_groups``) on ``settings["workers"]`` processes.

    Stage times are summed over workers (so they add up to more than the wall time).

    Raises:
        KeyboardInterrupt: After Ctrl-C or SIGTERM, once the samples in flight are committed.
    """
    workers = settings["workers"]
    options = {"max_tasks_per_child": settings["recycle_after"]} if settings["recycle_after"] else {}
    pending: collections.deque[Future] = collections.deque()
    bar = tqdm(total=sum(commit for group in groups for _, commit in group), unit="img", desc=f"generate ({workers} workers)", disable=not settings["progress"])
    context = multiprocessing.get_context("spawn")
    with stop_on_interrupt() as stop, bar, ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(settings,), **options
    ) as pool:
        def collect_oldest() -> None:
            committed, seconds = pending.popleft().result()
            stage_totals.update(seconds)
            bar.update(committed)

        for group in groups:
            if stop.is_set():
                break
            pending.append(pool.submit(_produce, group))
            # Two groups per worker in flight keep every worker busy and memory bounded.
            while len(pending) >= 2 * workers or (pending and pending[0].done()):
                collect_oldest()
        while pending:
            collect_oldest()
    if stop.is_set():
        raise KeyboardInterrupt
