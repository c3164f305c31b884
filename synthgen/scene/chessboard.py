"""A printed chessboard calibration target: a thin board whose inner corners are keypoints.

The board lies in its x-y plane with its printed face up (+z). Squares alternate
black and white, starting black at the (-x, -y) corner, inside a white border. The
inner corners (where four squares meet) are the keypoints, ``corner_r{row}_c{col}``
in row-major order from the (-x, -y) corner, exactly what ``cv2.findChessboardCorners``
detects on a photo of the board.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import trimesh

from synthgen.core import MeshGeometry, Texture
from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_number
from synthgen.scene.assets import Asset, AssetDraw

__all__ = ["Chessboard"]


class Chessboard(Asset):
    """A chessboard with ``squares[0] x squares[1]`` squares and their inner corners as keypoints.

    Args:
        squares: [columns along x, rows along y]; OpenCV's sample board is [10, 7]
            (9 x 6 inner corners).
        square_size: Edge of a square in metres.
        border: White margin around the squares, in squares.
        thickness: Board thickness in metres.
        pixels_per_square: Texture resolution.
    """

    def __init__(
        self,
        squares: Sequence[int] = (10, 7),
        square_size: float = 0.025,
        border: float = 0.6,
        thickness: float = 0.004,
        pixels_per_square: int = 64,
    ):
        if isinstance(squares, (str, int)) or len(squares) != 2:
            raise ConfigError(f"squares: must be [columns, rows], got {squares!r}")
        columns, rows = (check_number(f"squares[{i}]", n, minimum=2, maximum=64, integer=True) for i, n in enumerate(squares))
        self.square_size = check_number("square_size", square_size, minimum=1e-4, exclusive_minimum=True)
        border = check_number("border", border, minimum=0.0, maximum=10.0)
        thickness = check_number("thickness", thickness, minimum=1e-5, exclusive_minimum=True)
        pixels = check_number("pixels_per_square", pixels_per_square, minimum=4, maximum=512, integer=True)
        border = round(border * pixels) / pixels  # a whole number of texture pixels: corners align exactly
        self.inner = (columns - 1, rows - 1)
        width, height = (columns + 2 * border) * square_size, (rows + 2 * border) * square_size
        board = trimesh.creation.box(extents=[width, height, thickness])
        # Planar texture coordinates over the board's x-y extent: the print covers the face exactly.
        uv = (board.vertices[:, :2] + [width / 2, height / 2]) / [width, height]
        geometry = MeshGeometry(board.vertices, board.faces, smooth=False, uv=uv,
                                key=f"chessboard:{columns}x{rows}:{square_size}:{border}:{thickness}")
        xs = (np.arange(1, columns) - columns / 2) * square_size
        ys = (np.arange(1, rows) - rows / 2) * square_size
        keypoints = {
            f"corner_r{r}_c{c}": [float(x), float(y), thickness / 2]
            for r, y in enumerate(ys) for c, x in enumerate(xs)
        }
        # Each row of corners joined left to right, for drawing.
        skeleton = [
            [f"corner_r{r}_c{c}", f"corner_r{r}_c{c + 1}"] for r in range(rows - 1) for c in range(columns - 2)
        ]
        super().__init__(geometry, keypoints, skeleton)
        self.texture = Texture(_board_image(columns, rows, border, pixels), key=f"chessboard-print:{geometry.key}:{pixels}")

    def draw(self, rng: np.random.Generator) -> AssetDraw:
        return AssetDraw(self.geometry, self.keypoints, texture=self.texture)


def _board_image(columns: int, rows: int, border: float, pixels: int) -> np.ndarray:
    """(h, w, 3) uint8 print; image row 0 maps to v = 1, the board's +y edge.

    With an odd number of rows the pattern reads the same from either edge, and the
    corners sit where squares meet whichever way the print is mirrored.
    """
    margin = int(round(border * pixels))
    image = np.full((rows * pixels + 2 * margin, columns * pixels + 2 * margin, 3), 255, np.uint8)
    for r in range(rows):
        for c in range(columns):
            if (r + c) % 2 == 0:
                image[margin + r * pixels:margin + (r + 1) * pixels, margin + c * pixels:margin + (c + 1) * pixels] = 0
    return image
