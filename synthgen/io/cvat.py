"""CVAT for video 1.1 export: one task per clip, every object a box track, every frame a keyframe.

Layout (``<out>/<clip_000000>/``): ``annotations.xml`` and ``images/frame_000000.png``;
in CVAT create a task from the images, then upload ``annotations.xml`` as "CVAT 1.1".
A track starts at the first frame its object is in view; in later frames where it is
out of view its box is marked ``outside="1"`` (CVAT hides it there), and boxes of
objects at least half hidden (or fully hidden) are marked ``occluded="1"``. Boxes are the
objects' full (amodal) extent inside the image, so a human can correct them in CVAT.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

from synthgen.errors import InputError
from synthgen.io.dataset import LabeledDataset, clips_of
from synthgen.io.export_files import StoreExporter, place_image

__all__ = ["CvatVideoExporter", "cvat_video_xml", "export_cvat_video"]

_OCCLUDED_BELOW_VISIBILITY = 0.5


def _task_meta(root, name: str, images, dataset: LabeledDataset) -> None:
    task = ElementTree.SubElement(ElementTree.SubElement(root, "meta"), "task")
    first = images[0]
    for key, value in (("id", first.frame["clip"] + 1), ("name", name), ("size", len(images)),
                       ("mode", "interpolation"), ("overlap", 0), ("start_frame", 0),
                       ("stop_frame", first.frame["frames"] - 1)):
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


def cvat_video_xml(name: str, images, dataset: LabeledDataset) -> bytes:
    """CVAT for video 1.1 XML of one clip's images (in frame order)."""
    root = ElementTree.Element("annotations")
    ElementTree.SubElement(root, "version").text = "1.1"
    _task_meta(root, name, images, dataset)
    per_track: dict[int, list] = {}
    for image in images:
        for track in image.tracks:
            per_track.setdefault(track["track_id"], []).append((image.frame["frame"], track))
    for position, (track_id, states) in enumerate(sorted(per_track.items())):
        element = None
        last_box = None
        for frame, track in states:
            outside = track["state"] == "out_of_view"
            if outside and element is None:
                continue  # the track starts where its object first comes into view
            if element is None:
                element = ElementTree.SubElement(root, "track", id=str(position),
                                                 label=dataset.category(track["category_id"]).name, source="manual")
            box = last_box if outside else track["amodal_bbox"]
            last_box = box
            occluded = track["state"] == "occluded" or track["visibility"] < _OCCLUDED_BELOW_VISIBILITY
            ElementTree.SubElement(element, "box", frame=str(frame), outside=str(int(outside)),
                                   occluded=str(int(occluded and not outside)), keyframe="1",
                                   xtl=f"{box[0]:.2f}", ytl=f"{box[1]:.2f}", xbr=f"{box[2]:.2f}",
                                   ybr=f"{box[3]:.2f}", z_order="0")
    ElementTree.indent(root)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(root, encoding="utf-8") + b"\n"


def export_cvat_video(dataset: LabeledDataset, out: str | Path) -> Path:
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
            place_image(image.path, folder / "images" / f"frame_{image.frame['frame']:06d}{image.path.suffix}")
        (folder / "annotations.xml").write_bytes(cvat_video_xml(name, images, dataset))
    return out


class CvatVideoExporter(StoreExporter):
    """Config node for the CVAT video export (``export=[coco,cvat]``; writes ``<out>/exports/cvat``)."""

    folder = "cvat"

    def write(self, dataset: LabeledDataset, out: Path) -> Path:
        return export_cvat_video(dataset, out)
