"""Point cloud files: a LiDAR sweep's per-point fields as binary PCD (the store's ``lidar/NNNNNN.pcd``
and the ``pointcloud`` export) or binary PLY, and the PCD reader of the store.

Both formats are a short text header followed by packed little-endian records; Open3D
(``open3d.t.io.read_point_cloud``), ``pypcd4`` and PCL read them. The fields of a sweep
(``SWEEP_FIELDS``): ``x y z`` measured point (LiDAR frame at its firing time, metres),
``intensity`` 0..1, ``ring``, ``t`` seconds from the sweep's start, ``instance`` id,
``label`` class id (category or surface class), ``xd yd zd`` the deskewed point (LiDAR
frame at the frame's time).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synthgen.core import LidarSweep
from synthgen.core.errors import InputError
from synthgen.io.dataset import LidarFrame

__all__ = ["SWEEP_FIELDS", "pcd_bytes", "ply_bytes", "read_pcd", "read_points", "read_sweep", "sweep_array",
           "sweep_from_array"]

SWEEP_FIELDS = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("intensity", "<f4"), ("ring", "<u2"),
                         ("t", "<f4"), ("instance", "<i4"), ("label", "<u2"), ("xd", "<f4"), ("yd", "<f4"),
                         ("zd", "<f4")])
_PCD_TYPES = {"f": "F", "u": "U", "i": "I"}
_PLY_TYPES = {("f", 4): "float", ("f", 8): "double", ("u", 1): "uchar", ("u", 2): "ushort", ("u", 4): "uint",
              ("i", 1): "char", ("i", 2): "short", ("i", 4): "int"}


def sweep_array(sweep: LidarSweep) -> np.ndarray:
    """(N,) structured array of ``SWEEP_FIELDS`` of a sweep's points."""
    array = np.zeros(len(sweep.points), dtype=SWEEP_FIELDS)
    for axis, name in enumerate("xyz"):
        array[name] = sweep.points[:, axis]
        array[name + "d"] = sweep.deskewed[:, axis]
    array["intensity"], array["ring"], array["t"] = sweep.intensity, sweep.rings, sweep.times_s
    array["instance"], array["label"] = sweep.instance_ids, sweep.class_ids
    return array


def sweep_from_array(array: np.ndarray, **labels) -> LidarSweep:
    """A ``LidarSweep`` of ``SWEEP_FIELDS`` points and its other fields (``lidar_to_camera``, ...)."""
    return LidarSweep(
        points=np.stack([array["x"], array["y"], array["z"]], axis=1), deskewed=np.stack(
            [array["xd"], array["yd"], array["zd"]], axis=1), intensity=array["intensity"].copy(),
        rings=array["ring"].copy(), times_s=array["t"].copy(), instance_ids=array["instance"].copy(),
        class_ids=array["label"].copy(), **labels)


def pcd_bytes(array: np.ndarray) -> bytes:
    """Binary PCD v0.7 of a structured array (one field per column; unorganized: HEIGHT 1)."""
    fields = array.dtype.fields
    header = "\n".join([
        "# .PCD v0.7 - Point Cloud Data file format (synthgen)", "VERSION 0.7",
        "FIELDS " + " ".join(fields), "SIZE " + " ".join(str(fields[n][0].itemsize) for n in fields),
        "TYPE " + " ".join(_PCD_TYPES[fields[n][0].kind] for n in fields), "COUNT " + " ".join("1" for _ in fields),
        f"WIDTH {len(array)}", "HEIGHT 1", "VIEWPOINT 0 0 0 1 0 0 0", f"POINTS {len(array)}", "DATA binary",
    ]) + "\n"
    return header.encode("ascii") + np.ascontiguousarray(array).tobytes()


def ply_bytes(array: np.ndarray) -> bytes:
    """Binary little-endian PLY of a structured array: one ``vertex`` element, a property per field."""
    fields = array.dtype.fields
    properties = [f"property {_PLY_TYPES[(fields[n][0].kind, fields[n][0].itemsize)]} {n}" for n in fields]
    header = "\n".join(["ply", "format binary_little_endian 1.0", "comment synthgen LiDAR sweep",
                        f"element vertex {len(array)}", *properties, "end_header"]) + "\n"
    return header.encode("ascii") + np.ascontiguousarray(array).tobytes()


def read_pcd(path: str | Path, data: bytes | None = None) -> np.ndarray:
    """The points of a binary PCD written by ``pcd_bytes`` as a structured array.

    Args:
        path: The file (named in errors; read unless ``data`` is given).
        data: The file's bytes, when they come from elsewhere (a tar shard).

    Raises:
        InputError: A missing, truncated or foreign PCD file (named, with what is wrong).
    """
    try:
        data = Path(path).read_bytes() if data is None else data
    except OSError as error:
        raise InputError(f"{path}: cannot read the point cloud ({error.strerror}); re-run generate") from None
    header, marker, body = data.partition(b"DATA binary\n")
    if not marker:
        raise InputError(f"{path}: not a binary PCD file (no 'DATA binary' line)")
    lines = dict(line.split(" ", 1) for line in header.decode("ascii", "replace").splitlines()
                 if line and not line.startswith("#") and " " in line)
    try:
        names, sizes, kinds = lines["FIELDS"].split(), lines["SIZE"].split(), lines["TYPE"].split()
        dtype = np.dtype([(name, f"<{kind.lower()}{size}") for name, size, kind in zip(names, sizes, kinds, strict=True)])
        count = int(lines["POINTS"])
    except (KeyError, ValueError, TypeError) as error:
        raise InputError(f"{path}: malformed PCD header ({error})") from None
    if dtype != SWEEP_FIELDS:
        raise InputError(f"{path}: PCD fields {names} are not a synthgen sweep's {list(SWEEP_FIELDS.names)}")
    if count < 0 or len(body) != count * dtype.itemsize:
        raise InputError(f"{path}: PCD declares {count} points but holds {len(body)} bytes; the file is truncated")
    array = np.frombuffer(body, dtype=dtype).copy()
    for name in ("x", "y", "z", "intensity", "t", "xd", "yd", "zd"):
        if not np.isfinite(array[name]).all():
            raise InputError(f"{path}: field {name} holds a non-finite value; the file is damaged, re-run generate")
    return array


def read_points(frame: LidarFrame, data: bytes | None = None) -> np.ndarray:
    """The ``SWEEP_FIELDS`` points of a stored sweep, checked against its record's point count.

    Raises:
        InputError: A damaged file, or one that does not hold the record's sweep.
    """
    array = read_pcd(frame.path, data)
    if len(array) != frame.points:
        raise InputError(f"{frame.path}: holds {len(array)} points, its label record says {frame.points}; "
                         "the store is damaged, re-run generate")
    return array


def read_sweep(frame: LidarFrame, data: bytes | None = None) -> LidarSweep:
    """A stored sweep with its labels (``read_points`` plus the record's boxes, extrinsics and timing)."""
    return sweep_from_array(read_points(frame, data), lidar_to_camera=frame.lidar_to_camera,
                            lidar_to_world=frame.lidar_to_world, start_s=frame.start_s, duration_s=frame.duration_s,
                            boxes=frame.boxes)
