"""CVAT for video 1.1 export: one task per clip, every object a track, every frame a keyframe.

Layout (``<out>/<clip_000000>/``): ``annotations.xml`` and ``images/frame_000000.png``;
in CVAT create a task from the images, then upload ``annotations.xml`` as "CVAT 1.1".
A track starts at the first frame its object is in view; in later frames where it is
out of view its box is marked ``outside="1"`` (CVAT hides it there), and boxes of
objects at least half hidden (or fully hidden) are marked ``occluded="1"``. Boxes are the
objects' full (amodal) extent inside the image, so a human can correct them in CVAT.
With ``shapes=polygon`` (or ``both``) each object also gets a polygon track: the outline of
its visible mask's largest part, simplified to within ``polygon_tolerance`` pixels so it
is editable by hand (the exact masks are in the COCO export), ``outside="1"`` in frames
where it is not labeled (hidden, too small or out of view).
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import cv2
import numpy as np

from synthgen.core.errors import InputError
from synthgen.core.validation import check_choice, check_number
from synthgen.io.dataset import LabeledDataset, clips_of
from synthgen.io.export_files import StoreExporter, place_image
from synthgen.io.format_spec import Format
from synthgen.io.polygons import largest_polygon

__all__ = ["CvatVideoExporter", "cvat_video_xml", "export_cvat_video", "FORMAT"]

_OCCLUDED_BELOW_VISIBILITY = 0.5


def _task_meta(root, name: str, images, dataset: LabeledDataset) -> None:
    task = ElementTree.SubElement(ElementTree.SubElement(root, "meta"), "task")
    first = images[0]
    for key, value in (("id", first.frame.clip + 1), ("name", name), ("size", len(images)),
                       ("mode", "interpolation"), ("overlap", 0), ("start_frame", 0),
                       ("stop_frame", first.frame.frames - 1)):
        ElementTree.SubElement(task, key).text = str(value)
    labels = ElementTree.SubElement(task, "labels")
    for category in dataset.categories:
        label = ElementTree.SubElement(labels, "label")
        ElementTree.SubElement(label, "name").text = category.name
        ElementTree.SubElement(label, "type").text = "rectangle"
        ElementTree.SubElement(label, "attributes")
    size = ElementTree.SubElement(task, "original_size")
    ElementTree.SubElement(size, "width").text = str(first.width)
    ElementTree.SubElement(size, "height").text = str(first.height)


def _box_track(root, position: int, label: str, states) -> None:
    element, last_box = None, None
    for frame, track, _ in states:
        outside = track.state == "out_of_view"
        if outside and element is None:
            continue  # the track starts where its object first comes into view
        if element is None:
            element = ElementTree.SubElement(root, "track", id=str(position), label=label, source="manual")
        box = last_box if outside else track.amodal_bbox
        last_box = box
        occluded = track.state == "occluded" or track.visibility < _OCCLUDED_BELOW_VISIBILITY
        ElementTree.SubElement(element, "box", frame=str(frame), outside=str(int(outside)),
                               occluded=str(int(occluded and not outside)), keyframe="1",
                               xtl=f"{box[0]:.2f}", ytl=f"{box[1]:.2f}", xbr=f"{box[2]:.2f}",
                               ybr=f"{box[3]:.2f}", z_order="0")


def _editable_polygon(rle: dict, tolerance: float) -> list[float] | None:
    """The largest part's outline, Douglas-Peucker simplified (at least 3 vertices), or None."""
    outline = largest_polygon(rle)
    if outline is None:
        return None
    points = np.asarray(outline, dtype=np.float32).reshape(-1, 1, 2)
    simplified = cv2.approxPolyDP(points, tolerance, True).reshape(-1, 2)
    return (simplified if len(simplified) >= 3 else points.reshape(-1, 2)).ravel().tolist()


def _polygon_track(root, position: int, label: str, states, tolerance: float) -> None:
    element, last_points = None, None
    for frame, track, obj in states:
        polygon = _editable_polygon(obj.segmentation, tolerance) if obj is not None and obj.segmentation else None
        if polygon is None and element is None:
            continue
        if element is None:
            element = ElementTree.SubElement(root, "track", id=str(position), label=label, source="manual")
        points = polygon if polygon is not None else last_points
        last_points = points
        text = ";".join(f"{x:.2f},{y:.2f}" for x, y in zip(points[::2], points[1::2]))
        occluded = track.visibility < _OCCLUDED_BELOW_VISIBILITY
        ElementTree.SubElement(element, "polygon", frame=str(frame), outside=str(int(polygon is None)),
                               occluded=str(int(occluded and polygon is not None)), keyframe="1", points=text,
                               z_order="0")


def cvat_video_xml(name: str, images, dataset: LabeledDataset, shapes: str = "box",
                   polygon_tolerance: float = 0.75) -> bytes:
    """CVAT for video 1.1 XML of one clip's images (in frame order).

    Args:
        name: Task name.
        images: The clip's ``LabeledImage`` frames in order.
        dataset: Their dataset (categories).
        shapes: ``box``, ``polygon`` or ``both`` (a box and a polygon track per object).
        polygon_tolerance: Pixels a simplified polygon may deviate from the mask outline.
    """
    root = ElementTree.Element("annotations")
    ElementTree.SubElement(root, "version").text = "1.1"
    _task_meta(root, name, images, dataset)
    per_track: dict[int, list] = {}
    for image in images:
        labeled = {obj.track_id: obj for obj in image.objects}
        for track in image.tracks:
            per_track.setdefault(track.track_id, []).append(
                (image.frame.frame, track, labeled.get(track.track_id)))
    position = 0
    for kind in ("box", "polygon"):
        if shapes not in (kind, "both"):
            continue
        for states in (per_track[key] for key in sorted(per_track)):
            label = dataset.category(states[0][1].category_id).name
            if kind == "box":
                _box_track(root, position, label, states)
            else:
                _polygon_track(root, position, label, states, polygon_tolerance)
            position += 1
    ElementTree.indent(root)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(root, encoding="utf-8") + b"\n"


def export_cvat_video(dataset: LabeledDataset, out: str | Path, shapes: str = "box",
                      polygon_tolerance: float = 0.75) -> Path:
    """Write one CVAT video task per clip of a sequence dataset; returns ``out``.

    Raises:
        InputError: The dataset has no clips (it was not generated with sequence.frames > 1).
    """
    clips = clips_of(dataset)
    if not clips:
        raise InputError(f"{dataset.name}: CVAT video export needs a sequence dataset; "
                         "generate with sequence.frames > 1")
    out = Path(out)
    for clip, images in clips.items():
        name = f"clip_{clip:06d}"
        folder = out / name
        for image in images:
            place_image(image.path, folder / "images" / f"frame_{image.frame.frame:06d}{image.path.suffix}")
        (folder / "annotations.xml").write_bytes(cvat_video_xml(name, images, dataset, shapes, polygon_tolerance))
    return out


class CvatVideoExporter(StoreExporter):
    """Config node for the CVAT video export (``export=[coco,cvat]``; writes ``<out>/exports/cvat``).

    Args:
        shapes: ``box`` (box tracks), ``polygon`` (visible-outline tracks) or ``both``.
        polygon_tolerance: Pixels a polygon may deviate from the mask outline (simplified
            for hand editing; 0 keeps every pixel-edge vertex).
    """

    folder = "cvat"

    def __init__(self, shapes: str = "box", polygon_tolerance: float = 0.75):
        self.shapes = check_choice("shapes", shapes, ["box", "polygon", "both"])
        self.polygon_tolerance = check_number("polygon_tolerance", polygon_tolerance, minimum=0.0, maximum=100.0)

    def write(self, dataset: LabeledDataset, out: Path) -> Path:
        return export_cvat_video(dataset, out, self.shapes, self.polygon_tolerance)


FORMAT = Format("cvat", "CVAT for video 1.1 XML per clip (shapes=box|polygon|both)", needs="sequences")
