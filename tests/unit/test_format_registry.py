"""The format registry is the one list of formats: export configs, CLI options and reading follow it."""

from __future__ import annotations

import pytest

from synthgen.cli import _format_options
from synthgen.commands.export import ExportSettings
from synthgen.core.errors import ConfigError, InputError
from synthgen.io.export_files import StoreExporter
from synthgen.io.formats import FORMATS, READ_FORMATS, WRITE_FORMATS, dataset_format, detect_format
from synthgen.paths import conf_dir, export_node
from synthgen.registry import resolve_target


def test_every_written_format_has_its_writer_node_and_nothing_else_does():
    shipped = {path.stem for path in (conf_dir() / "export").glob("*.yaml")}
    assert shipped == set(WRITE_FORMATS)
    for name in WRITE_FORMATS:
        node = export_node(name)
        assert issubclass(resolve_target(node["_target_"], f"export.{name}"), StoreExporter), name


def test_names_are_unique_and_readers_detect():
    names = [f.name for f in FORMATS]
    assert len(names) == len(set(names))
    assert {"synthgen", "coco", "yolo", "voc", "labelstudio", "bop"} <= set(READ_FORMATS)
    assert all(dataset_format(name).detect is not None for name in READ_FORMATS)
    with pytest.raises(InputError, match="must be one of"):
        dataset_format("parquet")


def test_detection_follows_the_registry(tmp_path):
    (tmp_path / "Annotations").mkdir()
    assert detect_format(tmp_path) == "voc"
    (tmp_path / "data.yaml").write_text("names: [a]\n")
    assert detect_format(tmp_path) == "yolo"  # earlier in the registry's order
    with pytest.raises(InputError, match="not a dataset synthgen can read"):
        detect_format(tmp_path / "Annotations")


def test_an_option_goes_to_its_format_and_another_formats_option_is_refused(tmp_path):
    settings = ExportSettings("yolo", str(tmp_path), str(tmp_path / "out"), options={"task": "segment"})
    assert settings.exporter().task == "segment"
    with pytest.raises(ConfigError, match="shapes"):
        ExportSettings("yolo", str(tmp_path), str(tmp_path / "out"), options={"shapes": "both"}).exporter()
    with pytest.raises(ConfigError, match="format: must be one of"):
        ExportSettings("synthgen", str(tmp_path), str(tmp_path / "out"))


def test_the_cli_passes_plain_keys_as_the_formats_options():
    assert _format_options(["format=yolo", "in=a", "out=b", "task=segment", "overwrite=true", "hydra.verbose=true"]) == [
        "format=yolo", "in=a", "out=b", "+options.task=segment", "overwrite=true", "hydra.verbose=true"]
