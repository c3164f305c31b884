"""Label photos of a chessboard calibration target as COCO: the board's mask and box, and its
inner corners as keypoints, found with OpenCV (the real ground truth of the chessboard scene).

Usage:
    python scripts/label_chessboards.py out=DIR [src=../shared/data/chessboards] [squares=10,7] [border=0.3]

``cv2.findChessboardCorners`` + ``cv2.cornerSubPix`` give the inner corners; a homography
from board coordinates (squares) to the image then places the board's outer edge (its
white margin of ``border`` squares included: about 0.3 on the OpenCV sample board, where
the chessboard scene prints 0.6), whose filled quadrilateral, clipped to the image, is
the mask (RLE) and gives the box. The
photos are copied into DIR/images (the source folder is only read); DIR/annotations.json
is COCO instances with the 9x6 corners as keypoints ``corner_r{row}_c{col}``. Photos where
the corners are not found are left out and listed.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_utils

sys.path.insert(0, str(Path(__file__).resolve().parent))
from script_args import options_and_overrides  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _corners(gray: np.ndarray, inner: tuple[int, int]) -> np.ndarray | None:
    found, corners = cv2.findChessboardCorners(gray, inner)
    if not found:
        return None
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 1e-3)
    return cv2.cornerSubPix(gray, corners, (11, 11), (-1, -1), criteria).reshape(-1, 2)


def _board_outline(corners: np.ndarray, inner: tuple[int, int], squares: tuple[int, int], border: float) -> np.ndarray:
    """(4, 2) image positions of the board's outer corners (margin included)."""
    board = np.array([[c + 1, r + 1] for r in range(inner[1]) for c in range(inner[0])], dtype=np.float64)
    homography, _ = cv2.findHomography(board, corners.astype(np.float64))
    low_x, low_y, high_x, high_y = -border, -border, squares[0] + border, squares[1] + border
    outline = np.array([[[low_x, low_y], [high_x, low_y], [high_x, high_y], [low_x, high_y]]], dtype=np.float64)
    return cv2.perspectiveTransform(outline, homography)[0]


def label_chessboards(src: Path, out: Path, squares: tuple[int, int] = (10, 7), border: float = 0.3) -> dict:
    """Write ``out/images/*`` and ``out/annotations.json``; returns {"images": n, "skipped": [names]}."""
    inner = (squares[0] - 1, squares[1] - 1)
    (out / "images").mkdir(parents=True, exist_ok=False)
    names = [f"corner_r{r}_c{c}" for r in range(inner[1]) for c in range(inner[0])]
    coco = {"images": [], "annotations": [], "categories": [
        {"id": 1, "name": "chessboard", "supercategory": "target", "keypoints": names, "skeleton": []}]}
    skipped = []
    for path in sorted(p for p in src.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")):
        image = cv2.imread(str(path))
        corners = _corners(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), inner)
        if corners is None:
            skipped.append(path.name)
            continue
        height, width = image.shape[:2]
        mask = np.zeros((height, width), np.uint8)
        cv2.fillPoly(mask, [np.round(_board_outline(corners, inner, squares, border) * 16).astype(np.int32)], 1,
                     lineType=cv2.LINE_8, shift=4)
        rle = mask_utils.encode(np.asfortranarray(mask))
        image_id = len(coco["images"]) + 1
        shutil.copyfile(path, out / "images" / path.name)
        coco["images"].append({"id": image_id, "file_name": path.name, "width": width, "height": height})
        keypoints = np.concatenate([corners, np.full((len(corners), 1), 2.0)], axis=1)
        coco["annotations"].append({
            "id": image_id, "image_id": image_id, "category_id": 1, "iscrowd": 0,
            "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()},
            "area": float(mask_utils.area(rle)), "bbox": [float(v) for v in mask_utils.toBbox(rle)],
            "keypoints": keypoints.ravel().tolist(), "num_keypoints": len(corners)})
    (out / "annotations.json").write_text(json.dumps(coco))
    return {"images": len(coco["images"]), "skipped": skipped}


def main() -> None:
    options, _ = options_and_overrides(sys.argv[1:], {"out": "", "src": str(ROOT.parent / "shared/data/chessboards"),
                                                      "squares": "10,7", "border": "0.3"}, overrides=False)
    if not options["out"]:
        raise SystemExit("give out=DIR (a new folder)")
    squares = tuple(int(v) for v in options["squares"].split(","))
    result = label_chessboards(Path(options["src"]), Path(options["out"]), squares, float(options["border"]))
    print(f"labeled {result['images']} photos in {options['out']}; corners not found in: {result['skipped'] or 'none'}")


if __name__ == "__main__":
    main()
