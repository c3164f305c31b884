"""File handling shared by the exporters: a safe output folder and image placement."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from synthgen.core.errors import InputError
from synthgen.io.dataset import LabeledDataset
from synthgen.io.store import open_store

__all__ = ["StoreExporter", "place_image", "prepare_export_folder"]

EXPORT_MARKER = ".synthgen-export"


def prepare_export_folder(out: str | Path, overwrite: bool) -> Path:
    """An empty folder for an export.

    A non-empty folder is refused unless ``overwrite`` and it holds a previous synthgen
    export (marked by ``.synthgen-export``), which is then replaced; nothing else is
    ever deleted.

    Raises:
        InputError: The folder is not usable; the message says why and what to do.
    """
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise InputError(f"out={out}: exists and is not a folder; choose another out=")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise InputError(f"out={out}: folder is not empty; pass overwrite=true to replace an earlier export there, "
                             "or choose another out=")
        if not (out / EXPORT_MARKER).is_file():
            raise InputError(f"out={out}: refusing to overwrite a folder that is not a synthgen export "
                             f"(no {EXPORT_MARKER}); choose another out=")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / EXPORT_MARKER).write_text("written by synthgen export; overwrite=true may replace this folder\n")
    return out


def place_image(source: Path, destination: Path) -> None:
    """Put an image file at ``destination``: a hard link when possible, else a copy."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


class StoreExporter:
    """Base of exporter config nodes: ``write`` a dataset; called with a store, export it.

    ``generate`` calls exporters with its dataset folder at the end of a run; each writes
    to ``<dataset>/exports/<folder>``, rebuilt from the store every time.
    """

    folder = "export"

    def write(self, dataset: LabeledDataset, out: Path) -> Path:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, root: str | Path) -> Path:
        out = Path(root) / "exports" / self.folder
        if out.exists():
            shutil.rmtree(out)  # derived data: always rebuilt from the store
        out.mkdir(parents=True)
        return self.export_to(root, out)

    def export_to(self, root: str | Path, out: Path) -> Path:
        """Export the store at ``root`` into the (empty) folder ``out``."""
        return self.write(open_store(root), out)
