"""``synthgen export``: write a dataset (synthgen, or any readable real one) in another format."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from synthgen.errors import ConfigError, InputError
from synthgen.paths import conf_dir
from synthgen.registry import instantiate

__all__ = ["FORMATS", "export_dataset"]

FORMATS = ("coco", "yolo", "voc", "kitti", "labelstudio", "gold", "mot", "cvat")
_OPTIONS = ("task", "segmentation", "rate", "queue", "seed", "shapes")
_KEYS = ("format", "in", "out", "overwrite", *_OPTIONS)


def export_dataset(cfg: DictConfig | Mapping) -> Path:
    """Export the dataset ``cfg.in`` as ``cfg.format`` into the empty folder ``cfg.out``.

    ``in`` is a synthgen dataset (every label) or any dataset ``read_dataset`` reads
    (COCO, YOLO, VOC, Label Studio), which converts it between formats.

    Format options left null take the format's defaults (conf/export/<format>.yaml); an
    option the format does not take is an error naming it.

    Returns:
        The main file or folder written (printed by the command).

    Raises:
        ConfigError: Unknown format or option.
        InputError: ``in`` is not a synthgen dataset, or ``out`` cannot be used.
    """
    from synthgen.io.export_files import prepare_export_folder
    from synthgen.io.readers import detect_format, read_dataset

    settings = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    unknown = sorted(set(settings) - set(_KEYS))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown key; allowed keys: {list(_KEYS)}")
    name = settings["format"]
    if name not in FORMATS:
        raise ConfigError(f"format: must be one of {list(FORMATS)}, got {name!r}")
    node = OmegaConf.to_container(OmegaConf.load(conf_dir() / "export" / f"{name}.yaml"))[name]
    node.update({key: settings[key] for key in _OPTIONS if settings.get(key) is not None})
    exporter = instantiate(node, f"export.{name}")
    source = Path(str(settings["in"])).expanduser()
    if not source.exists():
        raise InputError(f"in={source}: not found")
    if Path(str(settings["out"])).expanduser().resolve() == source.resolve():
        raise InputError(f"out={settings['out']}: is the input dataset; choose another folder")
    if detect_format(source) == "synthgen":
        out = prepare_export_folder(settings["out"], bool(settings["overwrite"]))
        return exporter.export_to(source, out)
    dataset = read_dataset(source)  # validated before anything is written
    out = prepare_export_folder(settings["out"], bool(settings["overwrite"]))
    return exporter.write(dataset, out)
