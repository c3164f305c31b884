"""``synthgen export``: write a dataset (synthgen, or any readable real one) in another format."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from synthgen.core.errors import ConfigError, InputError
from synthgen.io.export_files import prepare_export_folder
from synthgen.io.readers import detect_format, read_dataset
from synthgen.paths import conf_dir
from synthgen.registry import build_settings, instantiate

__all__ = ["FORMATS", "ExportSettings", "export_dataset"]

FORMATS = ("coco", "yolo", "voc", "kitti", "labelstudio", "gold", "mot", "cvat", "bop")


class ExportSettings:
    """The settings of ``synthgen export`` (conf/export_command.yaml); ``in`` is ``source`` here.

    Format options left null take the format's defaults (conf/export/<format>.yaml); an
    option given to a format that does not take it is an error naming it (checked when
    the format's exporter is built).

    Args:
        format: coco | yolo | voc | kitti | labelstudio | gold | mot | cvat | bop (synthgen stores only).
        source: A synthgen dataset (every label) or any dataset ``read_dataset`` reads.
        out: An empty folder (``overwrite`` replaces an earlier export there).
        overwrite: Replace an earlier synthgen export in ``out``.
        task: yolo: detect | segment | pose.
        segmentation: coco: rle | polygon.
        rate: gold: share of gold tasks.
        queue: gold: the human queue (Label Studio tasks JSON) to mix into.
        seed: gold: seed of the gold positions.
        shapes: cvat: box | polygon | both.
    """

    def __init__(self, format: str, source: str, out: str, overwrite: bool = False, task: str | None = None,
                 segmentation: str | None = None, rate: float | None = None, queue: str | None = None,
                 seed: int | None = None, shapes: str | None = None):
        if format not in FORMATS:
            raise ConfigError(f"format: must be one of {list(FORMATS)}, got {format!r}")
        for key, value in (("in", source), ("out", out)):
            if value is None or str(value) in ("", "???"):
                raise ConfigError(f"{key}: required: give a folder, e.g. synthgen export format={format} in=DATASET "
                                  "out=EXPORT")
        self.format, self.overwrite = format, bool(overwrite)
        self.source, self.out = Path(str(source)).expanduser(), Path(str(out)).expanduser()
        options = {"task": task, "segmentation": segmentation, "rate": rate, "queue": queue, "seed": seed,
                   "shapes": shapes}
        self.options = {key: value for key, value in options.items() if value is not None}

    def exporter(self):
        """The format's exporter: its conf/export node with the options given here."""
        node = OmegaConf.to_container(OmegaConf.load(conf_dir() / "export" / f"{self.format}.yaml"))[self.format]
        node.update(self.options)
        return instantiate(node, f"export.{self.format}")


def export_dataset(cfg: DictConfig | Mapping) -> Path:
    """Export the dataset ``cfg.in`` as ``cfg.format`` into the empty folder ``cfg.out``.

    ``in`` is a synthgen dataset (every label) or any dataset ``read_dataset`` reads
    (COCO, YOLO, VOC, Label Studio), which converts it between formats.

    Returns:
        The main file or folder written (printed by the command).

    Raises:
        ConfigError: Unknown format or option.
        InputError: ``in`` is not a readable dataset, or ``out`` cannot be used.
    """
    settings = build_settings(ExportSettings, cfg, "export_command", renames={"in": "source"})
    exporter = settings.exporter()
    if not settings.source.exists():
        raise InputError(f"in={settings.source}: not found")
    if settings.out.resolve() == settings.source.resolve():
        raise InputError(f"out={settings.out}: is the input dataset; choose another folder")
    if detect_format(settings.source) == "synthgen":
        return exporter.export_to(settings.source, prepare_export_folder(settings.out, settings.overwrite))
    dataset = read_dataset(settings.source)  # validated before anything is written
    return exporter.write(dataset, prepare_export_folder(settings.out, settings.overwrite))
