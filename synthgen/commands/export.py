"""``synthgen export``: write a dataset (synthgen, or any readable real one) in another format.

The formats and their options come from the format registry (``synthgen.io.formats``) and
each format's writer node (conf/export/<format>.yaml)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from omegaconf import DictConfig

from synthgen.core.errors import ConfigError, InputError
from synthgen.io.export_files import prepare_export_folder
from synthgen.io.formats import WRITE_FORMATS, detect_format, read_dataset
from synthgen.paths import export_node
from synthgen.registry import build_settings, instantiate

__all__ = ["ExportSettings", "export_dataset"]


class ExportSettings:
    """The settings of ``synthgen export`` (conf/export_command.yaml); ``in`` is ``source`` here.

    Args:
        format: A registered format that writes (``synthgen.io.formats.WRITE_FORMATS``).
        source: A synthgen dataset (every label) or any dataset ``read_dataset`` reads.
        out: An empty folder (``overwrite`` replaces an earlier export there).
        overwrite: Replace an earlier synthgen export in ``out``.
        options: The format's options: arguments of its writer's node
            (conf/export/<format>.yaml), which checks them; others are refused by name.
    """

    def __init__(self, format: str, source: str, out: str, overwrite: bool = False, options: dict | None = None):
        if format not in WRITE_FORMATS:
            raise ConfigError(f"format: must be one of {list(WRITE_FORMATS)}, got {format!r}")
        for key, value in (("in", source), ("out", out)):
            if value is None or str(value) in ("", "???"):
                raise ConfigError(f"{key}: required: give a folder, e.g. synthgen export format={format} in=DATASET "
                                  "out=EXPORT")
        self.format, self.overwrite = format, bool(overwrite)
        self.source, self.out = Path(str(source)).expanduser(), Path(str(out)).expanduser()
        self.options = dict(options or {})

    def exporter(self):
        """The format's writer: its conf/export node with the options given here."""
        return instantiate({**export_node(self.format), **self.options}, f"export.{self.format}")


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
