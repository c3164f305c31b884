"""MOTChallenge export of a sequence dataset: one folder per clip with ``gt/gt.txt``.

Layout (``<out>/<clip_000000>/``)::

    seqinfo.ini        name, frameRate, seqLength, imWidth, imHeight, imDir, imExt
    img1/000001.png    frames, numbered from 1
    gt/gt.txt          frame,id,bb_left,bb_top,bb_width,bb_height,conf,class,visibility

As in MOT17's ground truth, boxes are the full (amodal) extent inside the image, kept
while an object is partly or fully hidden, with ``visibility`` = visible / amodal pixels;
``conf`` is 1 (every box counts); ``class`` is the synthgen category id (``classes.txt``
maps ids to names); ``id`` is the track id, unique within a clip. Tracks out of view
have no line in that frame. ``bb_left``/``bb_top`` are 1-based as in MOTChallenge's
(Matlab) devkit: the COCO export's ``x, y`` plus 1 (readers such as py-motmetrics
subtract the 1 again).
"""

from __future__ import annotations

from pathlib import Path

from synthgen.core.errors import InputError
from synthgen.io.dataset import LabeledDataset, clips_of
from synthgen.io.export_files import StoreExporter, place_image
from synthgen.io.format_spec import Format

__all__ = ["MotExporter", "export_mot", "mot_lines", "read_mot", "FORMAT"]

_COLUMNS = ("frame", "id", "bb_left", "bb_top", "bb_width", "bb_height", "conf", "class", "visibility")


def mot_lines(images) -> list[str]:
    """gt.txt lines of one clip's images (in frame order), sorted by track id then frame."""
    rows = []
    for image in images:
        for track in image.tracks:
            if track.state == "out_of_view":
                continue
            x0, y0, x1, y1 = track.amodal_bbox
            rows.append((track.track_id, image.frame.frame + 1, x0 + 1, y0 + 1, x1 - x0, y1 - y0,
                         track.category_id, track.visibility))
    return [f"{frame},{track_id},{x:.2f},{y:.2f},{w:.2f},{h:.2f},1,{category},{visibility:.4f}"
            for track_id, frame, x, y, w, h, category, visibility in sorted(rows)]


def read_mot(path: str | Path) -> list[dict]:
    """Rows of a MOTChallenge ``gt.txt`` as dicts keyed by column name (ints and floats)."""
    rows = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        fields = line.split(",")
        if len(fields) != len(_COLUMNS):
            raise InputError(f"{path}:{number}: expected {len(_COLUMNS)} comma-separated fields, got {len(fields)}")
        values = [float(field) for field in fields]
        rows.append({name: int(value) if name in ("frame", "id", "conf", "class") else value
                     for name, value in zip(_COLUMNS, values)})
    return rows


def export_mot(dataset: LabeledDataset, out: str | Path) -> Path:
    """Write the clips of a sequence dataset in MOTChallenge layout; returns ``out``.

    Raises:
        InputError: The dataset has no clips (it was not generated with sequence.frames > 1).
    """
    clips = clips_of(dataset)
    if not clips:
        raise InputError(f"{dataset.name}: MOT export needs a sequence dataset; generate with sequence.frames > 1")
    out = Path(out)
    for clip, images in clips.items():
        folder = out / f"clip_{clip:06d}"
        (folder / "gt").mkdir(parents=True, exist_ok=True)
        suffix = images[0].path.suffix
        for image in images:
            place_image(image.path, folder / "img1" / f"{image.frame.frame + 1:06d}{suffix}")
        first = images[0]
        (folder / "seqinfo.ini").write_text(
            f"[Sequence]\nname=clip_{clip:06d}\nimDir=img1\nframeRate={first.frame.fps:g}\n"
            f"seqLength={first.frame.frames}\nimWidth={first.width}\nimHeight={first.height}\nimExt={suffix}\n")
        (folder / "gt" / "gt.txt").write_text("".join(line + "\n" for line in mot_lines(images)))
    (out / "classes.txt").write_text("".join(f"{c.id} {c.name}\n" for c in dataset.categories))
    return out


class MotExporter(StoreExporter):
    """Config node for the MOTChallenge export (``export=[coco,mot]``; writes ``<out>/exports/mot``)."""

    folder = "mot"

    def write(self, dataset: LabeledDataset, out: Path) -> Path:
        return export_mot(dataset, out)


FORMAT = Format("mot", "MOTChallenge gt.txt per clip", needs="sequences")
