"""Sequence labels of one frame: track states, camera-frame velocities and optical flow (numpy only).

Every labeled object of a clip is a track (its instance id) in every frame, also while
it is hidden or out of view, so a tracker's ground truth never loses an identity.
Velocities are derivatives of the exact trajectory (central differences of the poses,
error far below a millimetre per second); flow comes from depth and the known motion.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from synthgen.core import FlowField, RenderOutput, Sample, SceneObject, Track, mask_box
from synthgen.labels.flow import optical_flow

if TYPE_CHECKING:  # labels import only core at run time; a clip is used through its attributes
    from synthgen.pipeline.sequence import Clip

__all__ = ["add_sequence_labels", "flow_between", "track_labels"]

_VELOCITY_STEP_S = 1e-4


def _centre(obj: SceneObject) -> np.ndarray:
    """(3,) object-frame centre of the mesh's bounding box."""
    return obj.mesh.bounds.mean(axis=0)


def _camera_position(clip: Clip, obj: SceneObject, t: float) -> np.ndarray:
    """(3,) camera-frame position at time ``t`` of the box centre of ``obj`` (as sampled)."""
    pose = clip.trajectory.object_pose(obj.instance_id, obj.pose, t)
    world = dataclasses.replace(obj, pose=pose).to_world(_centre(obj))[0]
    camera = clip.trajectory.camera(clip.spec.camera, t)
    return camera.to_camera(world[None])[0]


def track_labels(sample: Sample, render: RenderOutput, clip: Clip, frame: int) -> list[Track]:
    """Every object's track state in one frame, ordered by track id.

    Args:
        sample: The frame's labeled sample (its ``instances`` are the labeled tracks).
        render: The frame's render (instance ids, amodal masks).
        clip: The frame's clip.
        frame: Frame number in the clip.
    """
    labeled = {instance.instance_id for instance in sample.instances}
    visible_pixels = np.bincount(render.instance_ids.ravel(),
                                 minlength=max((o.instance_id for o in clip.spec.instances), default=0) + 1)
    t = clip.time(frame)
    tracks = []
    for obj in sorted(clip.spec.instances, key=lambda o: o.instance_id):
        amodal = render.amodal_masks.get(obj.instance_id)
        amodal_area = int(np.count_nonzero(amodal)) if amodal is not None else 0
        visible = int(visible_pixels[obj.instance_id])
        if obj.instance_id in labeled:
            state = "visible"
        elif visible:
            state = "too_small"
        elif amodal_area:
            state = "occluded"
        else:
            state = "out_of_view"
        step = _VELOCITY_STEP_S
        velocity = (_camera_position(clip, obj, t + step) - _camera_position(clip, obj, t - step)) / (2 * step)
        tracks.append(Track(
            track_id=obj.instance_id,
            category_id=obj.category_id,
            category=clip.spec.category(obj.category_id).name,
            state=state,
            visibility=visible / amodal_area if amodal_area else 0.0,
            amodal_bbox=mask_box(amodal) if amodal_area else np.zeros(4),
            position=_camera_position(clip, obj, t),
            velocity=velocity,
        ))
    return tracks


def flow_between(render: RenderOutput, clip: Clip, frame: int, other: int,
                 other_depth: np.ndarray | None) -> FlowField:
    """Flow from ``frame`` to ``other`` of the same clip.

    Args:
        render: Render of ``frame``.
        clip: The clip.
        frame: Source frame number.
        other: Target frame number (usually ``frame ± 1``).
        other_depth: (H, W) depth of the target frame; None marks only the pixels that
            leave the image as occluded.
    """
    t0, t1 = clip.time(frame), clip.time(other)
    camera = clip.trajectory.camera(clip.spec.camera, t0)
    other_camera = clip.trajectory.camera(clip.spec.camera, t1)
    motions = clip.trajectory.motions(clip.spec, t0, t1)
    flow, _, occluded = optical_flow(render.depth, render.instance_ids, camera, other_camera, motions, other_depth,
                                     count_leaving=True)
    return FlowField(flow, occluded)


def add_sequence_labels(sample: Sample, render: RenderOutput, clip: Clip, frame: int, *, flow: bool,
                        previous_depth: np.ndarray | None, next_depth: np.ndarray | None) -> Sample:
    """``sample`` with its frame info, tracks and (when ``flow``) forward/backward flow."""
    forward = backward = None
    if flow and frame + 1 < clip.settings.frames:
        forward = flow_between(render, clip, frame, frame + 1, next_depth)
    if flow and frame > 0:
        backward = flow_between(render, clip, frame, frame - 1, previous_depth)
    return dataclasses.replace(sample, frame=clip.info(frame), tracks=track_labels(sample, render, clip, frame),
                               flow_forward=forward, flow_backward=backward)
