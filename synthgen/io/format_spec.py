"""What a dataset format declares about itself: its name, how a path is recognised as it,
how it is read, and whether it is written (its writer's config node is
``conf/export/<name>.yaml``, whose constructor is the format's options schema).

Each format module defines one ``FORMAT``; ``synthgen.io.formats`` lists them in one
place, and detection, ``read_dataset``, ``synthgen export``'s choices and options and the
CLI help are derived from that list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from synthgen.io.dataset import LabeledDataset

__all__ = ["Format"]


@dataclass(frozen=True)
class Format:
    """A dataset format.

    Attributes:
        name: The name users give (``format=NAME``, ``export=[NAME]``).
        summary: One line for the CLI help and the docs.
        read: ``read(path, name)`` -> the dataset at a file or folder path, or None when
            synthgen does not read the format.
        detect: ``detect(path)`` -> whether a path looks like this format (checked in the
            registry's order, so a more specific layout comes first), or None.
        writes: Whether ``synthgen export`` and ``generate``'s ``export`` write it
            (``conf/export/<name>.yaml`` is its writer's node).
        needs: What a dataset must have to be written in it: None (any labeled dataset,
            real ones included), ``3d`` (cameras and cuboids), ``store`` (a synthgen store:
            depth, poses, models) or ``sequences`` (clips with tracks).
    """

    name: str
    summary: str
    read: Callable[[Path, str | None], LabeledDataset] | None = None
    detect: Callable[[Path], bool] | None = None
    writes: bool = True
    needs: str | None = None
