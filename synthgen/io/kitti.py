"""KITTI object export: 2D boxes with 3D dimensions, location and yaw, plus calibration and, with a
LiDAR, the velodyne sweeps.

Layout (KITTI's object benchmark)::

    image_2/<stem>.png
    label_2/<stem>.txt    type truncated occluded alpha left top right bottom h w l x y z rotation_y
    calib/<stem>.txt      P0-P3 (P2 = [K | 0]), R0_rect (identity), Tr_velo_to_cam, Tr_imu_to_velo
    velodyne/<stem>.bin   with a LiDAR: float32 x y z intensity per point (LiDAR frame)

``Tr_velo_to_cam`` is the sweep's LiDAR -> camera transform (identity without a LiDAR).
The velodyne points are the deskewed ones (``points=deskewed``: the LiDAR frame at the
image's time, so they agree with label_2's boxes) or as measured (``points=measured``).

KITTI's frame is the camera's (x right, y down, z forward), as synthgen's. Objects are
expected to be modelled with x forward, y left and z up (vehicles, people): ``l, w, h``
are the cuboid's x, y, z extents; ``location`` is the bottom centre of the cuboid (the
centre moved down by h/2 along the object's up axis); ``rotation_y`` is the yaw of the
object's forward axis about the camera's y axis (0: facing the camera's x axis) and
``alpha = rotation_y - atan2(x, z)``. ``occluded`` is KITTI's level from synthgen's
occlusion ratio (0: < 10% hidden, 1: < 50%, 2: more); ``truncated`` is the ratio itself.
KITTI boxes turn about the camera's y axis only: with a level camera (as KITTI's) they
are exact; a camera pitched or rolled by t tilts the true box by t relative to them.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from synthgen.core import Cuboid
from synthgen.core.errors import InputError
from synthgen.core.validation import check_choice
from synthgen.io.dataset import LabeledDataset, LabeledImage, LabeledObject
from synthgen.io.export_files import StoreExporter, place_image
from synthgen.io.format_spec import Format
from synthgen.io.point_files import read_points

__all__ = ["KittiExporter", "export_kitti", "kitti_box_3d", "kitti_calibration", "velodyne_bytes", "FORMAT"]


def kitti_box_3d(cuboid: Cuboid) -> tuple[np.ndarray, np.ndarray, float]:
    """KITTI's (h, w, l), bottom-centre location (3,) and rotation_y of a cuboid (camera frame)."""
    length, width, height = (float(v) for v in cuboid.dimensions)
    rotation = np.asarray(cuboid.rotation, dtype=np.float64)
    up = rotation[:, 2]  # the object's z axis in the camera frame
    location = np.asarray(cuboid.center, dtype=np.float64) - up * height / 2.0
    forward = rotation[:, 0]
    rotation_y = -math.atan2(forward[2], forward[0])
    return np.array([height, width, length]), location, rotation_y


def _occlusion_level(occlusion: float) -> int:
    return 0 if occlusion < 0.1 else 1 if occlusion < 0.5 else 2


def _label_line(obj: LabeledObject, name: str) -> str:
    if obj.cuboid is None:
        raise InputError(f"object of category {name!r} has no 3D cuboid; KITTI export needs synthetic 3D labels")
    dimensions, location, rotation_y = kitti_box_3d(obj.cuboid)
    alpha = rotation_y - math.atan2(location[0], location[2])
    alpha = (alpha + math.pi) % (2 * math.pi) - math.pi
    values = [
        name.replace(" ", "_"), f"{obj.truncation or 0.0:.2f}",
        str(_occlusion_level(obj.occlusion or 0.0)), f"{alpha:.2f}",
        *(f"{v:.2f}" for v in obj.bbox), *(f"{v:.2f}" for v in dimensions), *(f"{v:.2f}" for v in location),
        f"{rotation_y:.2f}",
    ]
    return " ".join(values)


def _numbers(matrix: np.ndarray) -> str:
    return " ".join(f"{v:.12e}" for v in np.asarray(matrix, dtype=np.float64).ravel())


def kitti_calibration(K: np.ndarray, velo_to_cam: np.ndarray | None, odometry: bool = False) -> str:
    """A KITTI calib file: P0-P3 (each ``[K | 0]``: one camera), and ``Tr`` (odometry) or R0_rect,
    Tr_velo_to_cam and Tr_imu_to_velo (object), from a (4, 4) LiDAR -> camera transform (None: identity)."""
    projection = np.zeros((3, 4))
    projection[:, :3] = np.asarray(K, dtype=np.float64)
    velo = np.eye(3, 4) if velo_to_cam is None else np.asarray(velo_to_cam)[:3, :4]
    lines = [f"P{i}: {_numbers(projection)}" for i in range(4)]
    if odometry:
        lines.append(f"Tr: {_numbers(velo)}")
    else:
        lines += [f"R0_rect: {_numbers(np.eye(3))}", f"Tr_velo_to_cam: {_numbers(velo)}",
                  f"Tr_imu_to_velo: {_numbers(np.eye(3, 4))}"]
    return "\n".join(lines) + "\n"


def velodyne_bytes(points: np.ndarray, points_field: str = "deskewed") -> bytes:
    """KITTI's velodyne ``.bin``: float32 x y z intensity per point, of a sweep's stored points
    (``synthgen.io.point_files.SWEEP_FIELDS``), deskewed or as measured."""
    names = ("xd", "yd", "zd") if points_field == "deskewed" else ("x", "y", "z")
    return np.stack([points[n] for n in names] + [points["intensity"]], axis=1).astype("<f4").tobytes()


def _calibration(image: LabeledImage) -> str:
    return kitti_calibration(image.camera["K"], image.lidar.lidar_to_camera if image.lidar is not None else None)


def export_kitti(dataset: LabeledDataset, out: str | Path, points: str = "deskewed") -> Path:
    """Write a synthetic dataset in KITTI's object layout; returns the ``label_2`` folder.

    Args:
        dataset: A synthetic dataset (cameras and cuboids).
        out: Output folder.
        points: ``deskewed`` or ``measured`` velodyne points (datasets with a LiDAR).

    Raises:
        InputError: An image has no camera or an object no cuboid (real datasets).
    """
    out = Path(out)
    for folder in ("image_2", "label_2", "calib"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    for image in dataset.images:
        if image.camera is None:
            raise InputError(f"{image.path}: no camera; KITTI export needs synthetic images with 3D labels")
        stem = f"{image.index:06d}"
        lines = [_label_line(obj, dataset.category(obj.category_id).name) for obj in image.objects
                 if dataset.category(obj.category_id).kind == "object"]
        (out / "label_2" / f"{stem}.txt").write_text("".join(line + "\n" for line in lines))
        (out / "calib" / f"{stem}.txt").write_text(_calibration(image))
        place_image(image.path, out / "image_2" / f"{stem}{image.path.suffix}")
        if image.lidar is not None:
            (out / "velodyne").mkdir(exist_ok=True)
            (out / "velodyne" / f"{stem}.bin").write_bytes(velodyne_bytes(read_points(image.lidar), points))
    return out / "label_2"


class KittiExporter(StoreExporter):
    """Config node for the KITTI export (``export=[kitti]``; writes ``<out>/exports/kitti``).

    Args:
        points: Velodyne points of a LiDAR dataset: ``deskewed`` (at the image's time, as
            label_2's boxes) or ``measured`` (each at its firing time, motion-distorted).
    """

    folder = "kitti"

    def __init__(self, points: str = "deskewed"):
        self.points = check_choice("points", points, ["deskewed", "measured"])

    def write(self, dataset: LabeledDataset, out: Path) -> Path:
        return export_kitti(dataset, out, self.points)


FORMAT = Format("kitti", "KITTI object: label_2 with 3D boxes, calib, velodyne sweeps (with a LiDAR)", needs="3d")
