"""Child process of the reader fuzzing (see ``tests.fuzzing``): reads one dataset per request.

stdin: one JSON line per case ``{"format", "path"}``; stdout: one JSON line per case
``{"outcome", "message"}``. A native crash ends the process: the parent sees it as such.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback
from pathlib import Path

import numpy as np

GUARD_MARK = "did not expect"  # synthgen's last-line reader guard (synthgen.io.input_checks.guarded_reader)


def _read(format: str, path: Path):
    if format == "__abort__":  # the harness's own test: a native crash
        os.abort()
    if format == "__hang__":  # ... and a hang
        time.sleep(3600)
    if format == "bop":
        from synthgen.io.bop import read_bop

        return read_bop(path)
    from synthgen.io.formats import read_dataset

    return read_dataset(path, format=format)


def sanity_problems(dataset, root: Path) -> list[str]:
    """What is wrong with data a reader returned (empty: sane)."""
    from pycocotools import mask as mask_utils

    problems = []
    base = root.resolve()
    ids = [c.id for c in dataset.categories]
    if len(set(ids)) != len(ids) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        problems.append(f"category ids {ids}")
    for image in dataset.images:
        where = f"image {image.index}"
        width, height = image.width, image.height
        if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
            problems.append(f"{where}: size {width!r}x{height!r}")
            continue
        path = Path(image.path).resolve()
        if base not in path.parents or not path.is_file():
            problems.append(f"{where}: file {path} outside {base} or missing")
        for k, obj in enumerate(image.objects):
            at = f"{where} object {k}"
            box = np.asarray(obj.bbox, dtype=float)
            if obj.category_id not in ids:
                problems.append(f"{at}: unknown category {obj.category_id!r}")
            if box.shape != (4,) or not np.isfinite(box).all() or box[2] <= box[0] or box[3] <= box[1] \
                    or box[0] < -1e-6 or box[1] < -1e-6 or box[2] > width + 1e-6 or box[3] > height + 1e-6:
                problems.append(f"{at}: box {box.tolist()} in {width}x{height}")
            if not (isinstance(obj.area, float) and np.isfinite(obj.area) and obj.area >= 0):
                problems.append(f"{at}: area {obj.area!r}")
            if obj.segmentation is not None:
                if list(obj.segmentation.get("size", [])) != [height, width]:
                    problems.append(f"{at}: mask size {obj.segmentation.get('size')} for {width}x{height}")
                else:
                    mask = mask_utils.decode({"size": [height, width], "counts": obj.segmentation["counts"].encode()})
                    if mask.shape != (height, width):
                        problems.append(f"{at}: decoded mask {mask.shape}")
            points = np.asarray(obj.keypoints, dtype=float)
            if points.ndim != 2 or (len(points) and points.shape[1] != 3):
                problems.append(f"{at}: keypoints shape {points.shape}")
            elif len(points):
                labeled = points[points[:, 2] > 0]
                if not np.isin(points[:, 2], (0, 1, 2)).all() or not np.isfinite(labeled).all():
                    problems.append(f"{at}: keypoints {points.tolist()}")
        for k, line in enumerate(image.polylines):
            points = np.asarray(line.points, dtype=float)
            if line.category_id not in ids or points.ndim != 2 or points.shape[1] != 3 \
                    or not np.isfinite(points[points[:, 2] > 0]).all():
                problems.append(f"{where} polyline {k}: {line}")
    return problems


def _read_sweeps(dataset) -> None:
    """Read every LiDAR sweep a store's records name, as preview and the exports do."""
    from synthgen.io.point_files import read_sweep

    for image in dataset.images:
        if image.lidar is not None:
            read_sweep(image.lidar)


def run_case(format: str, path: Path) -> dict:
    from synthgen.core.errors import SynthgenError

    root = path if path.is_dir() else path.parent
    try:
        dataset = _read(format, path)
        dataset.images = list(dataset.images)  # a store reads its records lazily
        _read_sweeps(dataset)
    except SynthgenError as error:
        message = str(error)
        if GUARD_MARK in message:
            return {"outcome": "unexpected", "message": message}
        named = str(root) in message or str(root.resolve()) in message
        return {"outcome": "error" if named else "unnamed", "message": message}
    except Exception as error:  # noqa: BLE001 - every other exception is the finding
        return {"outcome": "unexpected", "message": f"{type(error).__name__}: {error}",
                "trace": traceback.format_exc(limit=-3)}
    problems = sanity_problems(dataset, root)
    return {"outcome": "insane" if problems else "data", "message": "; ".join(problems[:3]),
            "objects": sum(len(image.objects) for image in dataset.images)}


MEMORY_LIMIT_BYTES = 6 * 2**30  # a reader that asks for more has been fooled by a declared size


def main() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    for line in sys.stdin:
        request = json.loads(line)
        result = run_case(request["format"], Path(request["path"]))
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
