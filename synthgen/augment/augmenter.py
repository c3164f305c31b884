"""2D augmentation with albumentations, keeping every label consistent with the image.

The augmenter runs one albumentations ``Compose`` over the image and, as targets of
the same draw: the instance id map, the depth map and every amodal mask (as masks,
nearest-neighbour), and every 2D point (keypoints, polyline vertices, cuboid corners)
as keypoints. Labels are then re-derived from the transformed maps exactly as the
renderer's labels are: visible mask = id map region, boxes = mask extents, areas =
pixel counts, occlusion = 1 - visible / amodal. So the self-checks hold after any
transform, and image-only transforms (noise, blur, JPEG, colour) leave labels as
they were.

Conventions: albumentations places pixel centres at integer coordinates; synthgen at
``c + 0.5`` (continuous coordinates), converted on the way in and out. A transform
that mirrors the image (found by how it maps a small probe triangle) swaps the
keypoints named ``left_*`` / ``right_*`` (and any names differing only by
left/right), so "left_wrist" still names the figure's left wrist. Keypoints moved
outside the image get visibility 0. 3D labels (pose, cuboid in the camera frame) and
the camera's intrinsics describe the image *before* geometric transforms; the
sample's ``augmentations`` lists what was applied.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import threading
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from synthgen.core import PolylineLabel, Sample, mask_box, mirror_permutation
from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_number
from synthgen.labels.geometry import NOT_LABELED
from synthgen.labels.polylines import clip_polyline_2d

__all__ = ["Augmenter", "mirror_permutation", "relabel", "sample_points"]

_PROBE = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])


def _import_albumentations():
    # albumentations checks PyPI for a newer version at import unless told not to (offline machines).
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    try:
        import albumentations
    except ImportError as error:  # a dependency, but say what to do if it was removed
        raise ConfigError("augment: needs albumentations==2.0.8 (pip install 'albumentations==2.0.8')") from error
    return albumentations


def _build_transform(A, spec: Mapping, path: str):
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise ConfigError(f"{path}: must be a mapping with a 'type' (an albumentations transform name), got {spec!r}")
    params = dict(spec)
    name = params.pop("type")
    cls = getattr(A, str(name), None)
    if not (isinstance(cls, type) and issubclass(cls, (A.BasicTransform, A.BaseCompose))):
        raise ConfigError(f"{path}.type: {name!r} is not an albumentations 2.0.8 transform")
    if "transforms" in params:  # OneOf, SomeOf, Sequential: nested lists of transforms
        params["transforms"] = [
            _build_transform(A, child, f"{path}.transforms[{i}]") for i, child in enumerate(params["transforms"])
        ]
    accepted = inspect.signature(cls).parameters
    if "strict" in accepted:
        params.setdefault("strict", True)  # unknown parameters are errors, not warnings
    elif not any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            raise ConfigError(f"{path} ({name}): unknown parameters {unknown}; it takes {sorted(accepted)}")
    try:
        return cls(**params)
    except Exception as error:  # pydantic ValidationError, ValueError, TypeError
        lines = [line.strip() for line in str(error).splitlines() if line.strip() and "pydantic.dev" not in line]
        raise ConfigError(f"{path} ({name}): {'; '.join(lines)}") from error


def _image_only(name: str) -> bool:
    A = _import_albumentations()
    return issubclass(getattr(A, name, type(None)), A.ImageOnlyTransform)


def _signed_area(points: np.ndarray) -> float:
    (x0, y0), (x1, y1), (x2, y2) = points
    return 0.5 * ((x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0))


class Augmenter:
    """Label-consistent 2D augmentation from a list of albumentations transforms.

    Args:
        transforms: Transforms in order, each ``{type: <albumentations class name>,
            <its parameters>}`` (albumentations 2.0.8 names and parameters; unknown
            parameters are errors). ``OneOf``/``SomeOf``/``Sequential`` take nested
            ``transforms``. Transforms must keep the image size (use crops that
            resize back, e.g. ``RandomResizedCrop`` with ``size: [H, W]``).
        min_visible_pixels: Instances left with fewer visible pixels are no longer
            labeled (listed as dropped, like small instances at render time).
    """

    def __init__(self, transforms: Sequence[Mapping], min_visible_pixels: int = 20):
        A = _import_albumentations()
        if isinstance(transforms, (str, Mapping)) or not isinstance(transforms, Sequence):
            raise ConfigError(f"transforms: must be a list of {{type: ..., ...}} entries, got {transforms!r}")
        self.transforms = [dict(spec) if isinstance(spec, Mapping) else spec for spec in transforms]
        for i, spec in enumerate(self.transforms):
            _build_transform(A, spec, f"transforms[{i}]")  # validate now, build per thread later
        self.min_visible_pixels = check_number("min_visible_pixels", min_visible_pixels, minimum=1, integer=True)
        self._local = threading.local()

    def _compose(self):
        # One Compose per thread: reseeding a shared one from several threads would race.
        if not hasattr(self._local, "compose"):
            A = _import_albumentations()
            with warnings.catch_warnings():
                # Image-only pipelines warn that nothing processes keypoints; that is fine.
                warnings.filterwarnings("ignore", message="Got processor for keypoints")
                self._local.compose = A.Compose(
                    [_build_transform(A, spec, f"transforms[{i}]") for i, spec in enumerate(self.transforms)],
                    keypoint_params=A.KeypointParams(format="xy", remove_invisible=False),
                    save_applied_params=True,
                    seed=0,
                )
        return self._local.compose

    def __call__(self, sample: Sample, seed: int) -> Sample:
        """Augment a sample; the same ``seed`` gives the same result.

        Args:
            sample: A labeled sample (not modified).
            seed: Seed of this sample's augmentation draws.

        Raises:
            ConfigError: A transform changed the image size.
        """
        compose = self._compose()
        compose.set_random_seed(seed)
        height, width = sample.instance_ids.shape
        masks = [sample.instance_ids.astype(np.float32), sample.depth.astype(np.float32)]
        masks += [instance.amodal_mask.astype(np.float32) for instance in sample.instances]
        points, slices = sample_points(sample)
        probe = _PROBE + [width / 2.0, height / 2.0]
        all_points = np.concatenate([points, probe])
        finite = np.isfinite(all_points).all(axis=1)
        result = compose(image=sample.image, masks=np.stack(masks),
                         keypoints=np.where(finite[:, None], all_points, 0.0) - 0.5)
        applied = tuple(name for name, _ in result["applied_transforms"])
        if not applied:
            return sample
        if all(_image_only(name) for name in applied):
            # Labels are untouched by definition; keep them exactly (albumentations
            # would round the points to float32 on the way through).
            return dataclasses.replace(sample, image=np.ascontiguousarray(result["image"]),
                                       augmentations=sample.augmentations + applied)
        if result["image"].shape != sample.image.shape:
            raise ConfigError(
                f"augment: {', '.join(applied)} changed the image size from {sample.image.shape[:2]} to "
                f"{result['image'].shape[:2]}; use size-preserving transforms (crops that resize back)"
            )
        moved = np.asarray(result["keypoints"], dtype=np.float64)[:, :2] + 0.5
        moved[~finite] = np.nan
        # The probe triangle tells how the transform turns and scales the image locally.
        area_ratio = _signed_area(moved[-3:]) / _signed_area(probe)
        return relabel(sample, np.ascontiguousarray(result["image"]), np.asarray(result["masks"]), moved[:-3], slices,
                       area_ratio, applied, self.min_visible_pixels)


def sample_points(sample: Sample) -> tuple[np.ndarray, dict]:
    """All 2D points of a sample in one (N, 2) array, and where each label's points are.

    Returns:
        points: (N, 2) float64 continuous pixel coordinates: keypoints, cuboid corners
            and polyline vertices of every label.
        slices: ``("keypoints" | "corners" | "polyline", i)`` -> slice of ``points``.
    """
    chunks, slices, start = [], {}, 0
    for key, array in (
        *((("keypoints", i), inst.keypoints[:, :2]) for i, inst in enumerate(sample.instances)),
        *((("corners", i), inst.cuboid.corners_2d) for i, inst in enumerate(sample.instances)),
        *((("polyline", i), line.points[:, :2]) for i, line in enumerate(sample.polylines)),
    ):
        chunks.append(array)
        slices[key] = slice(start, start + len(array))
        start += len(array)
    return (np.concatenate(chunks) if chunks else np.zeros((0, 2))), slices


def relabel(sample: Sample, image: np.ndarray, maps: np.ndarray, moved: np.ndarray, slices: dict,
            area_ratio: float, applied: tuple[str, ...], min_visible_pixels: int) -> Sample:
    """A sample's labels re-derived after a geometric warp of its image and maps.

    Args:
        sample: The sample before the warp.
        image: (H, W, 3) uint8 warped image.
        maps: (2 + I, H, W) float warped instance-id map, depth and the I amodal masks
            (in ``sample.instances`` order), nearest-neighbour.
        moved: (N, 2) float64 warped ``sample_points`` (NaN: not defined).
        slices: ``sample_points``' slices.
        area_ratio: Local area scale of the warp (negative: the image was mirrored).
        applied: Names of the warps, appended to ``sample.augmentations``.
        min_visible_pixels: Instances left with fewer visible pixels are dropped.
    """
    height, width = sample.instance_ids.shape
    ids = np.rint(maps[0]).astype(np.int32)
    depth = np.ascontiguousarray(maps[1], dtype=np.float32)
    mirrored = area_ratio < 0
    counts = np.bincount(ids.ravel(), minlength=1)
    instances, dropped = [], list(sample.dropped_instance_ids)
    categories = {c.id: c for c in sample.categories}
    for i, old in enumerate(sample.instances):
        area = int(counts[old.instance_id]) if old.instance_id < len(counts) else 0
        if area < min_visible_pixels:
            if area:
                dropped.append(old.instance_id)
            continue
        mask = np.asfortranarray(ids == old.instance_id)
        amodal = np.asfortranarray(maps[2 + i] > 0.5)
        amodal_area = int(np.count_nonzero(amodal))
        keypoints = _moved_keypoints(old.keypoints, moved[slices[("keypoints", i)]], width, height)
        if mirrored and len(keypoints):
            keypoints = keypoints[mirror_permutation(categories[old.category_id])]
        cuboid = dataclasses.replace(old.cuboid, corners_2d=moved[slices[("corners", i)]])
        # Share of the object still in the image: amodal area now vs before, at the new scale.
        expected = old.amodal_area * abs(area_ratio)
        kept_share = min(amodal_area / expected, 1.0) if expected > 0 else 1.0
        instances.append(dataclasses.replace(
            old, mask=mask, amodal_mask=amodal, bbox=mask_box(mask), amodal_bbox=mask_box(amodal),
            area=area, amodal_area=amodal_area, occlusion=1.0 - area / max(amodal_area, area),
            truncation=float(np.clip(1.0 - (1.0 - old.truncation) * kept_share, 0.0, 1.0)),
            keypoints=keypoints, cuboid=cuboid,
        ))
    polylines = []
    for i, line in enumerate(sample.polylines):
        points = np.column_stack([moved[slices[("polyline", i)]], line.points[:, 2]])
        polylines += [PolylineLabel(line.category_id, line.category, piece)
                      for piece in clip_polyline_2d(points, width, height)]
    return dataclasses.replace(
        sample, image=image, depth=depth, instance_ids=ids,
        instances=instances, dropped_instance_ids=tuple(dropped), polylines=polylines,
        augmentations=sample.augmentations + tuple(applied),
    )


def _moved_keypoints(old: np.ndarray, moved: np.ndarray, width: int, height: int) -> np.ndarray:
    keypoints = np.column_stack([moved, old[:, 2]]) if len(old) else np.zeros((0, 3))
    outside = ~((keypoints[:, 0] >= 0) & (keypoints[:, 0] < width) & (keypoints[:, 1] >= 0) & (keypoints[:, 1] < height))
    keypoints[outside, 2] = NOT_LABELED
    return keypoints
