"""SemanticKITTI export of a LiDAR dataset: per-point semantic and instance labels per sweep, with
KITTI odometry's poses, times and calibration, so each clip is a sequence odometry and
segmentation tools read.

Layout (``<out>/``)::

    sequences/<SS>/velodyne/<FFFFFF>.bin  float32 x y z intensity per point (LiDAR frame)
    sequences/<SS>/labels/<FFFFFF>.label  uint32 per point: instance id << 16 | semantic id
    sequences/<SS>/poses.txt              3x4 rows: camera at frame f -> camera at frame 0
    sequences/<SS>/times.txt              seconds of each frame from the clip's start
    sequences/<SS>/calib.txt              P0-P3 ([K | 0]) and Tr (LiDAR -> camera)
    poses/<SS>.txt                        the same poses where KITTI odometry (pykitti) looks
    labels.yaml                           semantic id -> name of every id used

Sequence ``SS`` is the clip number (a still image is a one-frame sequence of its own index).
Semantic ids are SemanticKITTI's for the classes it names (car 10, truck 18, person 30,
road 40, sidewalk 48, building 50, vegetation 70, terrain 72, pole 80, traffic-sign 81, ...),
and 300 + n for other categories (``labels.yaml`` names them); 0 is unlabeled. Instance ids
are synthgen's (track ids in a clip), 0 on unlabeled surfaces. The points are as measured
(each at its firing time, like KITTI odometry's scans: tools such as kiss-icp deskew them
with the per-point times in the store) or deskewed (``points=deskewed``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from synthgen.core.errors import InputError
from synthgen.core.lidar import SURFACE_CLASSES, surface_class_id
from synthgen.core.validation import check_choice
from synthgen.io.dataset import LabeledDataset, LabeledImage
from synthgen.io.export_files import StoreExporter
from synthgen.io.format_spec import Format
from synthgen.io.kitti import kitti_calibration, velodyne_bytes
from synthgen.io.point_files import read_points

__all__ = ["SEMANTIC_KITTI_IDS", "SemanticKittiExporter", "export_semantic_kitti", "semantic_ids", "FORMAT"]

# SemanticKITTI's raw label ids (semantic-kitti.yaml), by synthgen category or surface name.
SEMANTIC_KITTI_IDS = {
    "car": 10, "bicycle": 11, "bus": 13, "motorcycle": 15, "truck": 18, "van": 20, "other_vehicle": 20,
    "person": 30, "pedestrian": 30, "bicyclist": 31, "motorcyclist": 32, "road": 40, "parking": 44,
    "sidewalk": 48, "other_ground": 49, "building": 50, "fence": 51, "other_structure": 52,
    "lane_marking": 60, "vegetation": 70, "trunk": 71, "terrain": 72, "pole": 80, "traffic_sign": 81, "other": 99,
}
_OTHER_BASE = 300


def semantic_ids(dataset: LabeledDataset) -> tuple[np.ndarray, dict[int, str]]:
    """A lookup from synthgen class ids (categories and surface classes) to SemanticKITTI ids,
    and the name of every SemanticKITTI id it gives (``labels.yaml``)."""
    names = {c.id: c.name for c in dataset.categories}
    names.update({surface_class_id(s): s for s in SURFACE_CLASSES})
    lookup = np.zeros(max(names) + 1, dtype=np.uint32)
    used = {0: "unlabeled"}
    extra = 0
    for class_id, name in sorted(names.items()):
        key = name.lower().replace("-", "_").replace(" ", "_")
        if key in SEMANTIC_KITTI_IDS:
            lookup[class_id] = SEMANTIC_KITTI_IDS[key]
        else:
            lookup[class_id] = _OTHER_BASE + extra
            extra += 1
        used[int(lookup[class_id])] = name if key not in SEMANTIC_KITTI_IDS else key.replace("_", "-")
    return lookup, dict(sorted(used.items()))


def _semantic(lookup: np.ndarray, labels: np.ndarray, where) -> np.ndarray:
    """SemanticKITTI ids of a sweep's class ids; an id no category or surface class has is an error."""
    known = lookup > 0
    known[0] = True  # 0: unlabeled
    unknown = ~known[np.minimum(labels, len(lookup) - 1)] | (labels >= len(lookup))
    if unknown.any():
        raise InputError(f"{where}: class id {int(labels[unknown][0])} is neither a category of the dataset nor a "
                         "surface class; the store is damaged, re-run generate")
    return lookup[labels]


def _sequences(dataset: LabeledDataset) -> dict[int, list[LabeledImage]]:
    sequences: dict[int, list[LabeledImage]] = {}
    for image in dataset.images:
        if image.lidar is None:
            raise InputError(f"{image.path}: no LiDAR sweep; SemanticKITTI export needs generate lidar=<preset>")
        sequences.setdefault(image.frame.clip if image.frame is not None else image.index, []).append(image)
    return {k: sorted(v, key=lambda im: im.frame.frame if im.frame is not None else 0)
            for k, v in sorted(sequences.items())}


def _pose_line(first: np.ndarray, current: np.ndarray) -> str:
    """KITTI odometry's pose row: camera at this frame -> camera at the first frame (3x4)."""
    pose = first @ np.linalg.inv(current)
    return " ".join(f"{v:.12e}" for v in pose[:3, :4].ravel())


def export_semantic_kitti(dataset: LabeledDataset, out: str | Path, points: str = "measured") -> Path:
    """Write a LiDAR dataset as SemanticKITTI sequences; returns the ``sequences`` folder.

    Raises:
        InputError: An image without a LiDAR sweep.
    """
    out = Path(out)
    lookup, used = semantic_ids(dataset)
    sequences = _sequences(dataset)
    for number, images in sequences.items():
        folder = out / "sequences" / f"{number:02d}"
        for name in ("velodyne", "labels"):
            (folder / name).mkdir(parents=True, exist_ok=True)
        first = np.asarray(images[0].camera["world_to_camera"])
        poses, times = [], []
        for position, image in enumerate(images):
            array = read_points(image.lidar)
            (folder / "velodyne" / f"{position:06d}.bin").write_bytes(velodyne_bytes(array, points))
            semantic = _semantic(lookup, array["label"], image.lidar.path)
            labels = (array["instance"].astype(np.uint32) << 16) | semantic
            (folder / "labels" / f"{position:06d}.label").write_bytes(labels.astype("<u4").tobytes())
            poses.append(_pose_line(first, np.asarray(image.camera["world_to_camera"])))
            times.append(f"{image.frame.time if image.frame is not None else 0.0:.6e}")
        (folder / "poses.txt").write_text("\n".join(poses) + "\n")
        (folder / "times.txt").write_text("\n".join(times) + "\n")
        (folder / "calib.txt").write_text(kitti_calibration(images[0].camera["K"], images[0].lidar.lidar_to_camera,
                                                            odometry=True))
        (out / "poses").mkdir(exist_ok=True)
        (out / "poses" / f"{number:02d}.txt").write_text("\n".join(poses) + "\n")
    (out / "labels.yaml").write_text(yaml.safe_dump({"labels": used}, sort_keys=True))
    return out / "sequences"


class SemanticKittiExporter(StoreExporter):
    """Config node for the SemanticKITTI export (``export=[semantic_kitti]``; ``<out>/exports/semantic_kitti``).

    Args:
        points: ``measured`` (each point at its firing time, as KITTI's scans) or ``deskewed``.
    """

    folder = "semantic_kitti"

    def __init__(self, points: str = "measured"):
        self.points = check_choice("points", points, ["measured", "deskewed"])

    def write(self, dataset: LabeledDataset, out: Path) -> Path:
        return export_semantic_kitti(dataset, out, self.points)


FORMAT = Format("semantic_kitti", "SemanticKITTI sequences: velodyne .bin, .label, poses, times, calib",
                needs="lidar")
