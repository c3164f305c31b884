"""``synthgen preview``: a labeled gallery (PNG + self-contained HTML) of any readable dataset,
and an animation per clip of a sequence dataset."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import cv2
import numpy as np

from synthgen.core.errors import ConfigError, InputError
from synthgen.core.validation import check_choice, check_number
from synthgen.io.dataset import clips_of
from synthgen.io.export_files import prepare_export_folder
from synthgen.io.formats import READ_FORMATS, read_dataset
from synthgen.io.input_checks import read_color_image
from synthgen.io.point_files import read_sweep
from synthgen.visualize.drawing import draw_labeled_image, write_clip_animation
from synthgen.visualize.lidar_view import draw_lidar_views

__all__ = ["PreviewSettings", "write_preview"]


class PreviewSettings:
    """The settings of ``synthgen preview`` (conf/preview.yaml); ``in`` is ``source`` here.

    Args:
        source: A synthgen dataset, or COCO / YOLO / VOC / Label Studio.
        out: An empty folder (``overwrite`` replaces an earlier preview there).
        format: auto or one of the readable formats.
        n: Images in the gallery, from the first.
        columns: Tiles per row.
        size: Pixels per tile.
        masks: Draw masks.
        cuboids: Draw cuboids.
        overwrite: Replace an earlier preview in ``out``.
        clips: Sequence datasets: animate the first ``clips`` clips.
        animation: gif | mp4.
    """

    def __init__(self, source: str, out: str, format: str = "auto", n: int = 16, columns: int = 4, size: int = 320,
                 masks: bool = True, cuboids: bool = True, overwrite: bool = False, clips: int = 2,
                 animation: str = "gif"):
        self.source, self.out = str(source), out
        self.format = check_choice("format", format, ["auto", *READ_FORMATS])
        self.count = check_number("n", n, minimum=1, maximum=10000, integer=True)
        self.columns = check_number("columns", columns, minimum=1, maximum=64, integer=True)
        self.size = check_number("size", size, minimum=32, maximum=4096, integer=True)
        self.clips = check_number("clips", clips, minimum=0, maximum=10000, integer=True)
        self.animation = check_choice("animation", animation, ["gif", "mp4"])
        for key, value in (("masks", masks), ("cuboids", cuboids), ("overwrite", overwrite)):
            if not isinstance(value, bool):
                raise ConfigError(f"{key}: must be true or false, got {value!r}")
        self.masks, self.cuboids, self.overwrite = masks, cuboids, overwrite


def _thumbnail(image: np.ndarray, size: int) -> np.ndarray:
    scale = size / max(image.shape[:2])
    thumb = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((size, size, 3), 32, np.uint8)
    y, x = (size - thumb.shape[0]) // 2, (size - thumb.shape[1]) // 2
    canvas[y:y + thumb.shape[0], x:x + thumb.shape[1]] = thumb
    return canvas


def _write_lidar_views(images, out: Path) -> None:
    """``lidar_<stem>.png`` per image with a LiDAR sweep: points over the image, and the bird's-eye view."""
    for image in images:
        if image.lidar is None:
            continue
        sweep = read_sweep(image.lidar)
        pixels = read_color_image(image.path)[..., ::-1]
        views = draw_lidar_views(pixels, sweep, np.asarray(image.camera["K"]))
        cv2.imwrite(str(out / f"lidar_{image.path.stem}.png"), views[..., ::-1])


def write_preview(settings: PreviewSettings) -> Path:
    """Write ``gallery.png`` (a grid) and ``index.html`` (self-contained) for the first ``n`` images,
    ``lidar_<stem>.png`` (points over the image and a bird's-eye view) for those with a LiDAR sweep,
    and for a sequence dataset ``clip_XXXXXX.gif`` (or ``.mp4``) for each of the first ``clips`` clips.

    Returns:
        The output folder.
    """
    dataset = read_dataset(settings.source, settings.format)
    if not dataset.images:
        raise InputError(f"in={settings.source}: the dataset has no images")
    out = prepare_export_folder(settings.out, settings.overwrite)
    size, columns = settings.size, settings.columns
    tiles, cards = [], []
    for image in dataset.images[:settings.count]:
        drawn = draw_labeled_image(image, dataset, settings.masks, settings.cuboids)
        tile = _thumbnail(drawn, size)
        tiles.append(tile)
        ok, png = cv2.imencode(".png", tile[..., ::-1])
        names = sorted({dataset.category(o.category_id).name for o in image.objects})
        caption = f"{image.path.name}: {len(image.objects)} objects ({', '.join(names)})"
        cards.append(f'<figure><img src="data:image/png;base64,{base64.b64encode(png.tobytes()).decode()}" '
                     f'alt="{html.escape(image.path.name)}"><figcaption>{html.escape(caption)}</figcaption></figure>')
    rows = [np.concatenate(tiles[i:i + columns] + [np.full_like(tiles[0], 32)] * (columns - len(tiles[i:i + columns])),
                           axis=1) for i in range(0, len(tiles), columns)]
    cv2.imwrite(str(out / "gallery.png"), np.concatenate(rows, axis=0)[..., ::-1])
    legend = ", ".join(html.escape(c.name) for c in dataset.categories)
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>synthgen preview</title><style>"
        "body{font-family:sans-serif;background:#202020;color:#ddd}figure{display:inline-block;margin:6px}"
        "figcaption{font-size:12px;max-width:" + str(size) + "px}</style></head><body>"
        f"<h1>{html.escape(dataset.name)}</h1><p>{len(dataset.images)} images; categories: {legend}. "
        "Solid boxes: visible extent; dashed: amodal; white dots: visible keypoints; red rings: occluded.</p>"
        + "".join(cards) + "</body></html>\n"
    )
    (out / "index.html").write_text(page)
    _write_lidar_views(dataset.images[:settings.count], out)
    for clip, images in list(clips_of(dataset).items())[:settings.clips]:
        write_clip_animation(images, dataset, out / f"clip_{clip:06d}.{settings.animation}", settings.masks,
                             settings.cuboids)
    return out
