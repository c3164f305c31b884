"""Sequences: clips of frames in motion, which frames to render, and their neighbours.

With ``sequence.frames = F > 1`` a run of ``n`` clips has ``n * F`` samples; sample
``index = clip * F + frame``. A clip's scene is drawn once from ``sample_rng(seed, clip)``
(so a one-frame clip is exactly the still image of that index) and its trajectory from an
independent stream of the same clip; frame ``f`` is that scene moved to ``f / fps``
seconds. Every frame is therefore a function of (seed, clip, frame) only, and a dataset
is byte-identical for any worker count, shard or resume.

Flow occlusion flags need the depth of the neighbouring frames, so frames are rendered
clip by clip, in order, with one extra (uncommitted) neighbour on each side of the frames
a run still has to commit (resume and shards stay exact).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from synthgen.core import (
    MOTION_STREAM,
    RENDER_STREAM,
    FrameInfo,
    RenderOutput,
    SceneSpec,
    sample_rng,
    stream_generator,
    stream_seed,
)
from synthgen.core.errors import ConfigError
from synthgen.core.lidar import LidarSensor
from synthgen.core.validation import check_choice, check_number
from synthgen.pipeline.motion import MotionModel, Trajectory

__all__ = ["Clip", "FrameJob", "FrameSource", "SequenceSettings", "finish_order", "render_groups"]

_KEYS = ("frames", "fps", "flow", "flow_format")


@dataclass(frozen=True)
class SequenceSettings:
    """The ``sequence`` config node.

    Attributes:
        frames: Frames per clip; 1 makes still images (``n`` samples), more makes
            ``n`` clips of ``frames`` frames.
        fps: Frames per second (motion is in metres and degrees per second).
        flow: Write forward and backward optical flow with occlusion masks.
        flow_format: ``npy`` ((H, W, 2) float32 pixels, NaN where no surface) or
            ``kitti_png`` (KITTI 16-bit flow PNG, 1/64 px steps).
    """

    frames: int = 1
    fps: float = 12.0
    flow: bool = True
    flow_format: str = "npy"

    @classmethod
    def from_config(cls, node: Mapping | None) -> SequenceSettings:
        """Validated settings of a ``sequence`` node (None: still images).

        Raises:
            ConfigError: An unknown key or a value out of range (named as ``sequence.<key>``).
        """
        node = dict(node or {})
        unknown = sorted(set(node) - set(_KEYS))
        if unknown:
            raise ConfigError(f"sequence.{unknown[0]}: unknown key; allowed: {list(_KEYS)}")
        settings = cls(**node)
        check_number("sequence.frames", settings.frames, minimum=1, maximum=100_000, integer=True)
        check_number("sequence.fps", settings.fps, minimum=1e-3, maximum=10_000.0)
        if not isinstance(settings.flow, bool):
            raise ConfigError(f"sequence.flow: must be true or false, got {settings.flow!r}")
        check_choice("sequence.flow_format", settings.flow_format, ["npy", "kitti_png"])
        return settings

    @property
    def is_video(self) -> bool:
        return self.frames > 1

    @property
    def duration(self) -> float:
        """Seconds from a clip's first frame to its last."""
        return (self.frames - 1) / self.fps

    def locate(self, index: int) -> tuple[int, int]:
        """(clip, frame) of sample ``index``."""
        return divmod(index, self.frames)


@dataclass(frozen=True)
class Clip:
    """One clip: its sampled scene (frame 0) and its trajectory."""

    number: int
    spec: SceneSpec
    trajectory: Trajectory
    settings: SequenceSettings

    def info(self, frame: int) -> FrameInfo:
        return FrameInfo(self.number, frame, self.settings.frames, float(self.settings.fps))

    def time(self, frame: int) -> float:
        return frame / self.settings.fps

    def frame_spec(self, frame: int) -> SceneSpec:
        return self.trajectory.at(self.spec, self.time(frame))


class FrameSource:
    """Scenes for sample indices: stills drawn per index, clip frames from one draw per clip.

    Not thread-safe (it caches the last clip): use it from one thread.
    """

    def __init__(self, sampler, motion: MotionModel | None, settings: SequenceSettings, seed: int,
                 width: int, height: int, lidar: LidarSensor | None = None):
        self.sampler, self.motion, self.settings, self.lidar = sampler, motion, settings, lidar
        self.seed, self.width, self.height = seed, width, height
        self._clip: Clip | None = None

    def clip(self, number: int) -> Clip:
        """Clip ``number`` (drawn once and kept while its frames are asked for)."""
        if self._clip is None or self._clip.number != number:
            spec = self.sampler.sample(sample_rng(self.seed, number), self.width, self.height)
            trajectory = self.motion.draw(spec, stream_generator(self.seed, number, MOTION_STREAM),
                                          self.settings.duration)
            self._clip = Clip(number, spec, trajectory, self.settings)
        return self._clip

    def scene(self, index: int) -> tuple[SceneSpec, Clip | None]:
        """The scene of sample ``index`` (its ``render_seed`` the sample's render stream) and
        its clip (None for still images)."""
        render_seed = stream_seed(self.seed, index, RENDER_STREAM)
        if not self.settings.is_video:
            spec = self.sampler.sample(sample_rng(self.seed, index), self.width, self.height)
            return dataclasses.replace(spec, render_seed=render_seed, lidar=self.lidar), None
        number, frame = self.settings.locate(index)
        clip = self.clip(number)
        return dataclasses.replace(clip.frame_spec(frame), render_seed=render_seed, lidar=self.lidar), clip


def render_groups(todo: list[int], settings: SequenceSettings) -> list[list[tuple[int, bool]]]:
    """What to render, in order: groups of ``(index, commit)``, one group per clip.

    Still images: one group per index. Clips: the frames of ``todo`` in the clip plus,
    with flow on, the frame before the first and after the last (rendered for their
    depth only, so the committed frames' occlusion flags are exact).
    """
    if not settings.is_video:
        return [[(index, True)] for index in todo]
    groups = []
    for number, members in itertools.groupby(sorted(todo), key=lambda index: index // settings.frames):
        wanted = set(members)
        first_frame, last_frame = number * settings.frames, (number + 1) * settings.frames - 1
        margin = 1 if settings.flow else 0
        low, high = max(min(wanted) - margin, first_frame), min(max(wanted) + margin, last_frame)
        groups.append([(index, index in wanted) for index in range(low, high + 1)])
    return groups


@dataclass
class FrameJob:
    """A rendered sample ready to be labeled, with what sequence labels need.

    Attributes:
        index: Sample index.
        spec: Its scene.
        render: Its render.
        clip: Its clip (None for still images).
        previous_depth: (H, W) float32 depth of the previous frame, if rendered.
        next_depth: (H, W) float32 depth of the next frame, if rendered.
    """

    index: int
    spec: SceneSpec
    render: RenderOutput
    clip: Clip | None = None
    previous_depth: np.ndarray | None = None
    next_depth: np.ndarray | None = None


def finish_order(rendered: Iterator[tuple[int, bool, SceneSpec, RenderOutput, Clip | None]]) -> Iterator[FrameJob]:
    """Turn renders ``(index, commit, spec, render, clip)`` (in group order) into jobs for
    the committed samples, each as soon as its next frame's depth is known.

    At most three renders are held at a time.
    """
    held: list = []  # the latest renders of the current clip, consecutive frames

    def job(position: int) -> FrameJob:
        index, _, spec, render, clip = held[position]
        neighbour = lambda other: held[other][3].depth if 0 <= other < len(held) else None  # noqa: E731
        return FrameJob(index, spec, render, clip, neighbour(position - 1), neighbour(position + 1))

    for item in rendered:
        index, commit, _, _, clip = item
        if held and (clip is None or held[-1][4] is None or held[-1][4].number != clip.number
                     or held[-1][0] != index - 1):
            if held[-1][1]:
                yield job(len(held) - 1)
            held.clear()
        held.append(item)
        if clip is None:  # still images need no neighbours
            yield job(0)
            held.clear()
            continue
        if len(held) >= 2 and held[-2][1]:
            yield job(len(held) - 2)
        del held[:-2]
    if held and held[-1][1]:
        yield job(len(held) - 1)
