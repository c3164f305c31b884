"""Generation on a pool of processes (``workers=N``).

Each worker process builds every component from the config once (its own renderer and
OpenGL context; processes are spawned, never forked, so no GL state is shared) and then
turns sample indices into committed samples. A sample depends only on (seed, index), and
each is committed by its index, so the dataset is byte-identical for any worker count
and any completion order. ``recycle_after=K`` replaces a worker after K samples.
"""

from __future__ import annotations

import collections
import multiprocessing
import signal
import time
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from tqdm import tqdm

from synthgen.pipeline import _build, _finish, _Stages, stop_on_interrupt
from synthgen.rng import sample_rng

__all__ = ["render_in_processes"]

_WORKER: dict = {}


def _start_worker(settings: dict) -> None:
    # The parent decides when to stop (Ctrl-C/SIGTERM finish the samples in flight).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    sampler, renderer, deriver, augmenter, make_writer, _ = _build(settings)
    writer = make_writer(root=Path(settings["out"]).expanduser())
    _WORKER.update(settings=settings, sampler=sampler, renderer=renderer,
                   stages=_Stages(deriver, augmenter, writer, settings["seed"]))


def _produce(index: int) -> dict[str, float]:
    """Draw, render, label, check and commit sample ``index``; seconds per stage."""
    settings, renderer = _WORKER["settings"], _WORKER["renderer"]
    start = time.perf_counter()
    spec = _WORKER["sampler"].sample(sample_rng(settings["seed"], index), renderer.width, renderer.height)
    sampled = time.perf_counter()
    render = renderer.render(spec)
    rendered = time.perf_counter()
    seconds = _finish(index, spec, render, _WORKER["stages"])
    return {"sample": sampled - start, "render": rendered - sampled, **seconds}


def render_in_processes(todo: list[int], settings: dict, stage_totals: collections.Counter) -> None:
    """Commit the samples ``todo`` on ``settings["workers"]`` processes.

    Stage times are summed over workers (so they add up to more than the wall time).

    Raises:
        KeyboardInterrupt: After Ctrl-C or SIGTERM, once the samples in flight are committed.
    """
    workers = settings["workers"]
    options = {"max_tasks_per_child": settings["recycle_after"]} if settings["recycle_after"] else {}
    pending: collections.deque[Future] = collections.deque()
    bar = tqdm(total=len(todo), unit="img", desc=f"generate ({workers} workers)", disable=not settings["progress"])
    context = multiprocessing.get_context("spawn")
    with stop_on_interrupt() as stop, bar, ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(settings,), **options
    ) as pool:
        for index in todo:
            if stop.is_set():
                break
            pending.append(pool.submit(_produce, index))
            # Two samples per worker in flight keep every worker busy and memory bounded.
            while len(pending) >= 2 * workers or (pending and pending[0].done()):
                stage_totals.update(pending.popleft().result())
                bar.update(1)
        while pending:
            stage_totals.update(pending.popleft().result())
            bar.update(1)
    if stop.is_set():
        raise KeyboardInterrupt
