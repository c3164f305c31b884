"""Point cloud export: one file per LiDAR sweep with every per-point field, PCD or PLY.

Layout (``<out>/``)::

    <stem>.pcd (or .ply)   x y z intensity ring t instance label xd yd zd (synthgen.io.point_files)
    boxes/<stem>.json      the record's ``lidar`` entry: 3D boxes (LiDAR frame), point counts,
                           visibility, extrinsics, ego pose, timing

Open3D (``open3d.t.io.read_point_cloud``) and ``pypcd4`` read the PCD files with all fields,
Open3D and PCL the PLY ones.
"""

from __future__ import annotations

import json
from pathlib import Path

from synthgen.core.errors import InputError
from synthgen.core.validation import check_choice
from synthgen.io.dataset import LabeledDataset
from synthgen.io.export_files import StoreExporter
from synthgen.io.format_spec import Format
from synthgen.io.point_files import pcd_bytes, ply_bytes, read_points
from synthgen.io.record import lidar_record

__all__ = ["PointCloudExporter", "export_pointcloud", "FORMAT"]


def export_pointcloud(dataset: LabeledDataset, out: str | Path, file_format: str = "pcd") -> Path:
    """Write each sweep as ``<stem>.pcd`` or ``.ply`` plus ``boxes/<stem>.json``; returns ``out``.

    Raises:
        InputError: An image without a LiDAR sweep.
    """
    out = Path(out)
    encode = pcd_bytes if file_format == "pcd" else ply_bytes
    for image in dataset.images:
        if image.lidar is None:
            raise InputError(f"{image.path}: no LiDAR sweep; the pointcloud export needs generate lidar=<preset>")
        stem = f"{image.index:06d}"
        (out / "boxes").mkdir(parents=True, exist_ok=True)
        (out / f"{stem}.{file_format}").write_bytes(encode(read_points(image.lidar)))
        labels = lidar_record(image.lidar, image.lidar.points)
        (out / "boxes" / f"{stem}.json").write_text(json.dumps(labels, sort_keys=True) + "\n")
    return out


class PointCloudExporter(StoreExporter):
    """Config node for the point cloud export (``export=[pointcloud]``; ``<out>/exports/pointcloud``).

    Args:
        file_format: ``pcd`` (binary PCD v0.7) or ``ply`` (binary little-endian PLY).
    """

    folder = "pointcloud"

    def __init__(self, file_format: str = "pcd"):
        self.file_format = check_choice("file_format", file_format, ["pcd", "ply"])

    def write(self, dataset: LabeledDataset, out: Path) -> Path:
        return export_pointcloud(dataset, out, self.file_format)


FORMAT = Format("pointcloud", "one PCD or PLY per LiDAR sweep with every per-point field, boxes as JSON",
                needs="lidar")
