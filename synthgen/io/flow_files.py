"""Optical flow files: KITTI's 16-bit PNG and plain ``.npy``.

KITTI flow PNG (the KITTI 2012/2015 devkit convention): an RGB image of uint16 with
``R = u * 64 + 2**15``, ``G = v * 64 + 2**15``, ``B = 1`` where the flow is valid, 0 where
not. That stores ``u, v`` in 1/64 px steps within about ±512 px; larger values are
clipped, and NaN marks invalid pixels in memory.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from synthgen.core.errors import InputError

__all__ = ["kitti_flow_image", "read_kitti_flow", "write_kitti_flow"]

_OFFSET = 2.0**15
_SCALE = 64.0


def kitti_flow_image(flow: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint16 BGR image (as OpenCV writes it) of (H, W, 2) flow in pixels (NaN: invalid)."""
    flow = np.asarray(flow, dtype=np.float64)
    valid = np.isfinite(flow).all(axis=-1)
    encoded = np.clip(np.nan_to_num(flow) * _SCALE + _OFFSET, 0, 65535).round().astype(np.uint16)
    rgb = np.dstack([encoded[..., 0], encoded[..., 1], valid.astype(np.uint16)])
    rgb[~valid, :2] = 0
    return np.ascontiguousarray(rgb[..., ::-1])


def write_kitti_flow(path: str | Path, flow: np.ndarray) -> None:
    """Write (H, W, 2) float flow in pixels (NaN: invalid) as a KITTI flow PNG."""
    if not cv2.imwrite(str(path), kitti_flow_image(flow)):
        raise InputError(f"{path}: could not write the flow PNG; check the folder exists and is writable")


def read_kitti_flow(path: str | Path) -> np.ndarray:
    """(H, W, 2) float32 flow in pixels from a KITTI flow PNG; NaN where invalid."""
    bgr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if bgr is None or bgr.dtype != np.uint16 or bgr.ndim != 3 or bgr.shape[2] != 3:
        raise InputError(f"{path}: not a KITTI flow PNG (16-bit, 3 channels)")
    rgb = bgr[..., ::-1].astype(np.float32)
    flow = (rgb[..., :2] - _OFFSET) / _SCALE
    flow[rgb[..., 2] == 0] = np.nan
    return flow
