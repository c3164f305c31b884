"""Derive every label of a sample from its render and scene. Pure numpy."""

from __future__ import annotations

import numpy as np

from synthgen.core import (
    Instance,
    PolylineLabel,
    RenderOutput,
    Sample,
    SceneObject,
    SceneSpec,
    footprint_box,
    mask_box,
    model_name,
)
from synthgen.core.validation import check_number, check_vector
from synthgen.labels.geometry import cuboid_of, keypoint_labels, object_to_camera, truncation_ratio
from synthgen.labels.polylines import polyline_labels

__all__ = ["LabelDeriver"]


class LabelDeriver:
    """Turns a ``RenderOutput`` and its ``SceneSpec`` into a labeled ``Sample``.

    Args:
        min_visible_pixels: Instances with fewer visible pixels are not labeled (their
            ids stay in the id map and are listed as dropped).
        keypoint_depth_tolerance: Metres a keypoint may lie behind the visible surface
            and still count as visible.
        keypoint_max_grazing_deg: Steepest surface tilt (from the view direction)
            treated as continuous when a keypoint sits on a boundary.
        polyline_spacing: Metres between the vertices of a projected 3D polyline
            (lines are resampled so per-vertex visibility follows occluders).
        polyline_depth_tolerance: [metres, metres per metre of depth] a polyline vertex
            may lie behind the surface seen there and still count as visible.
    """

    def __init__(
        self,
        min_visible_pixels: int = 20,
        keypoint_depth_tolerance: float = 0.01,
        keypoint_max_grazing_deg: float = 80.0,
        polyline_spacing: float = 1.0,
        polyline_depth_tolerance: tuple[float, float] = (0.02, 0.01),
    ):
        self.min_visible_pixels = check_number("min_visible_pixels", min_visible_pixels, minimum=1, integer=True)
        self.keypoint_depth_tolerance = check_number("keypoint_depth_tolerance", keypoint_depth_tolerance, minimum=0.0)
        self.keypoint_max_grazing_deg = check_number(
            "keypoint_max_grazing_deg", keypoint_max_grazing_deg, minimum=0.0, maximum=89.0
        )
        self.polyline_spacing = check_number("polyline_spacing", polyline_spacing, minimum=1e-3)
        self.polyline_depth_tolerance = check_vector("polyline_depth_tolerance", polyline_depth_tolerance, 2, minimum=0.0)

    def __call__(self, render: RenderOutput, spec: SceneSpec, index: int) -> Sample:
        """Derive the labels of sample ``index``.

        Raises:
            ValueError: The render has no amodal mask for an instance.
        """
        instances, dropped = [], []
        for obj in spec.instances:
            instance = self._instance(obj, spec, render)
            if instance is None:
                dropped.append(obj.instance_id)
            else:
                instances.append(instance)
        return Sample(
            index=index,
            image=render.image,
            depth=render.depth,
            instance_ids=render.instance_ids,
            camera=spec.camera,
            instances=instances,
            categories=spec.categories,
            dropped_instance_ids=tuple(dropped),
            polylines=self._polylines(spec, render),
            models={model_name(obj.mesh): obj.mesh for obj in spec.instances if obj.mesh.cacheable},
        )

    def _polylines(self, spec: SceneSpec, render: RenderOutput) -> list[PolylineLabel]:
        labels = []
        for line in spec.polylines:
            name = spec.category(line.category_id).name
            for piece in polyline_labels(line.points, spec.camera, render.depth, self.polyline_spacing,
                                         *self.polyline_depth_tolerance):
                labels.append(PolylineLabel(line.category_id, name, piece))
        return labels

    def _instance(self, obj: SceneObject, spec: SceneSpec, render: RenderOutput) -> Instance | None:
        """The instance's labels, or None when too little of it is visible."""
        camera = spec.camera
        uv, z = camera.project(obj.world_vertices())
        # Work inside the object's footprint: every pixel it covers lies there.
        x0, y0, x1, y1 = footprint_box(uv, z, camera).astype(int)
        window = np.s_[y0:y1, x0:x1]
        visible = render.instance_ids[window] == obj.instance_id
        area = int(np.count_nonzero(visible))
        if area < self.min_visible_pixels:
            return None
        if obj.instance_id not in render.amodal_masks:
            raise ValueError(f"render has no amodal mask for instance {obj.instance_id}; render with amodal=True")
        mask = np.zeros(render.instance_ids.shape, dtype=bool, order="F")  # F order: RLE without a copy
        mask[window] = visible
        amodal = render.amodal_masks[obj.instance_id]
        amodal_area = int(np.count_nonzero(amodal))
        offset = np.array([x0, y0, x0, y0], dtype=np.float64)
        return Instance(
            instance_id=obj.instance_id,
            category_id=obj.category_id,
            category=spec.category(obj.category_id).name,
            mask=mask,
            amodal_mask=amodal,
            bbox=mask_box(visible) + offset,
            amodal_bbox=mask_box(amodal[window]) + offset if amodal_area else np.zeros(4),
            area=area,
            amodal_area=amodal_area,
            occlusion=1.0 - area / amodal_area if amodal_area else 0.0,
            truncation=truncation_ratio(uv, z, camera),
            keypoints=keypoint_labels(
                obj, camera, render.instance_ids, render.depth,
                self.keypoint_depth_tolerance + obj.keypoint_slack, self.keypoint_max_grazing_deg,
            ),
            cuboid=cuboid_of(obj, camera),
            pose=object_to_camera(obj, camera),
            model=model_name(obj.mesh) if obj.mesh.cacheable else "",
            scale=float(obj.scale),
        )
