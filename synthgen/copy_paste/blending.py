"""Image operations of copy-paste synthesis: placing a cut-out, matching its colour to the
background, blending its edge, and a soft contact shadow. numpy and OpenCV only.

None of them moves a label: a cut-out covers exactly the pixels of its warped mask, and
every blend changes colours inside that mask only (``feather`` fades the mask's inner rim
into the background, ``poisson`` solves for the colours inside the mask so its gradients are
the cut-out's and its border the background's); the shadow darkens the background before
the object is pasted over it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["BLENDS", "Placed", "blend_onto", "contact_shadow", "harmonized", "place"]

BLENDS = ("none", "feather", "poisson")


@dataclass(frozen=True)
class Placed:
    """A cut-out warped into an image window.

    Attributes:
        rgb: (h, w, 3) uint8 warped pixels of the window.
        mask: (h, w) bool warped object mask of the window (inside the image).
        x0: Window's left column in the image.
        y0: Window's top row in the image.
        full_box: (4,) float64 ``xyxy`` extent of the whole warped mask, also where it
            leaves the image (for truncation).
        matrix: (2, 3) float64 affine map from cut-out pixels to image pixels.
    """

    rgb: np.ndarray
    mask: np.ndarray
    x0: int
    y0: int
    full_box: np.ndarray
    matrix: np.ndarray

    @property
    def window(self) -> tuple[slice, slice]:
        """The window's (rows, columns) in the image."""
        return np.s_[self.y0:self.y0 + self.mask.shape[0], self.x0:self.x0 + self.mask.shape[1]]


def _affine(size: tuple[int, int], centre: np.ndarray, scale: float, degrees: float, flip: bool) -> np.ndarray:
    """(2, 3) map of a (width, height) cut-out: flipped, scaled, turned about its centre, centred on ``centre``."""
    width, height = size
    flip_matrix = np.array([[-1.0, 0.0, width], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) if flip else np.eye(3)
    to_origin = np.array([[1.0, 0.0, -width / 2.0], [0.0, 1.0, -height / 2.0], [0.0, 0.0, 1.0]])
    angle = np.deg2rad(degrees)
    turn = scale * np.array([[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0], [0.0, 0.0, 1.0]])
    to_centre = np.array([[1.0, 0.0, centre[0]], [0.0, 1.0, centre[1]], [0.0, 0.0, 1.0]])
    return (to_centre @ turn @ to_origin @ flip_matrix)[:2]


def place(rgb: np.ndarray, mask: np.ndarray, image_size: tuple[int, int], centre: np.ndarray, scale: float,
          degrees: float, flip: bool) -> Placed | None:
    """Warp a cut-out into an image of ``image_size`` (width, height).

    Args:
        rgb: (h, w, 3) uint8 cut-out pixels.
        mask: (h, w) bool object mask of the cut-out.
        image_size: (width, height) of the image it is pasted into.
        centre: (2,) float pixel position of the cut-out's centre in the image.
        scale: Size factor (1 keeps the cut-out's pixel size).
        degrees: Counter-clockwise turn on screen (image y points down: negative turns
            clockwise as seen).
        flip: Mirror left-right before turning.

    Returns:
        The warped window, or None when no pixel of the mask lands inside the image.
    """
    height, width = mask.shape
    matrix = _affine((width, height), np.asarray(centre, np.float64), scale, degrees, flip)
    corners = np.array([[0, 0, 1], [width, 0, 1], [0, height, 1], [width, height, 1]], np.float64) @ matrix.T
    low, high = np.floor(corners.min(axis=0)).astype(int), np.ceil(corners.max(axis=0)).astype(int)
    x0, y0 = max(low[0], 0), max(low[1], 0)
    x1, y1 = min(high[0], image_size[0]), min(high[1], image_size[1])
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    shifted = matrix - np.array([[0.0, 0.0, x0], [0.0, 0.0, y0]])
    size = (x1 - x0, y1 - y0)
    warped_mask = cv2.warpAffine(mask.astype(np.float32), shifted, size, flags=cv2.INTER_LINEAR) >= 0.5
    if not warped_mask.any():
        return None
    warped = cv2.warpAffine(rgb, shifted, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    # The extent of the whole mask (beyond the image too): warp it once more without clipping.
    whole = matrix - np.array([[0.0, 0.0, low[0]], [0.0, 0.0, low[1]]])
    whole_mask = cv2.warpAffine(mask.astype(np.float32), whole, tuple(high - low), flags=cv2.INTER_LINEAR) >= 0.5
    rows, cols = np.flatnonzero(whole_mask.any(axis=1)), np.flatnonzero(whole_mask.any(axis=0))
    full_box = np.array([cols[0] + low[0], rows[0] + low[1], cols[-1] + 1 + low[0], rows[-1] + 1 + low[1]], np.float64)
    return Placed(warped, warped_mask, int(x0), int(y0), full_box, matrix)


def harmonized(rgb: np.ndarray, mask: np.ndarray, background: np.ndarray, strength: float,
               brightness: float) -> np.ndarray:
    """The cut-out's colours moved ``strength`` (0..1) of the way to the background's mean
    colour (in CIELAB, mean shift only, so its texture stays) and scaled by ``brightness``.

    Args:
        rgb: (h, w, 3) uint8 warped cut-out window.
        mask: (h, w) bool its object pixels.
        background: (h, w, 3) uint8 the background under the same window.
        strength: Share of the mean colour difference removed.
        brightness: Multiplier of the object's lightness.

    Returns:
        (h, w, 3) uint8.
    """
    if strength <= 0 and brightness == 1.0:
        return rgb
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    object_mean = lab[mask].mean(axis=0)
    around = ~mask
    if strength > 0 and around.any():
        target = cv2.cvtColor(background, cv2.COLOR_RGB2LAB).astype(np.float32)[around].mean(axis=0)
        # Lightness follows half as much: a dark object on a light table stays dark.
        lab += strength * (target - object_mean) * np.array([0.5, 1.0, 1.0], np.float32)
    lab[..., 0] *= brightness
    return cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def contact_shadow(image: np.ndarray, placed: Placed, strength: float, offset: np.ndarray, blur: float) -> None:
    """Darken ``image`` in place under a soft, offset copy of the placed mask.

    Args:
        image: (H, W, 3) uint8 image the cut-out will be pasted onto.
        placed: The warped cut-out.
        strength: Darkening at the shadow's core (0..1).
        offset: (2,) float shadow shift in pixels (x, y).
        blur: Gaussian sigma of the shadow's edge in pixels.
    """
    height, width = image.shape[:2]
    pad = int(np.ceil(3 * blur + np.abs(offset).max())) + 1
    y0, x0 = max(placed.y0 - pad, 0), max(placed.x0 - pad, 0)
    y1 = min(placed.y0 + placed.mask.shape[0] + pad, height)
    x1 = min(placed.x0 + placed.mask.shape[1] + pad, width)
    shadow = np.zeros((y1 - y0, x1 - x0), np.float32)
    my, mx = placed.y0 - y0, placed.x0 - x0
    shadow[my:my + placed.mask.shape[0], mx:mx + placed.mask.shape[1]] = placed.mask
    shadow = cv2.warpAffine(shadow, np.array([[1.0, 0.0, offset[0]], [0.0, 1.0, offset[1]]]), shadow.shape[::-1])
    shadow = cv2.GaussianBlur(shadow, (0, 0), max(blur, 0.5))
    region = image[y0:y1, x0:x1].astype(np.float32)
    image[y0:y1, x0:x1] = np.clip(region * (1.0 - strength * shadow)[..., None], 0, 255).astype(np.uint8)


def blend_onto(image: np.ndarray, placed: Placed, rgb: np.ndarray, blend: str, feather_px: float) -> str:
    """Paste ``rgb`` (the placed window's pixels) into ``image`` in place; returns the blend used.

    ``poisson`` needs the mask clear of the image border by two pixels (OpenCV's solver
    takes its boundary from there) and falls back to ``feather`` otherwise.

    Args:
        image: (H, W, 3) uint8 image, changed only inside the placed mask.
        placed: Where the cut-out goes.
        rgb: (h, w, 3) uint8 pixels of the window (harmonized).
        blend: One of ``BLENDS``.
        feather_px: Width of the inner rim faded into the background (``feather``).
    """
    rows, cols = placed.window
    region = image[rows, cols]
    mask = placed.mask
    if blend == "poisson":
        done = _poisson(image, placed, rgb)
        if done:
            return blend
        blend = "feather"
    if blend == "feather" and feather_px > 0:
        inside = cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 3)[1:-1, 1:-1]
        alpha = np.clip(inside / feather_px, 0.0, 1.0)[..., None]
        mixed = rgb.astype(np.float32) * alpha + region.astype(np.float32) * (1.0 - alpha)
        region[mask] = np.clip(mixed[mask] + 0.5, 0, 255).astype(np.uint8)
        return blend
    region[mask] = rgb[mask]
    return blend


def _poisson(image: np.ndarray, placed: Placed, rgb: np.ndarray) -> bool:
    mask = placed.mask
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    height, width = image.shape[:2]
    top, left = placed.y0 + rows[0], placed.x0 + cols[0]
    bottom, right = placed.y0 + rows[-1] + 1, placed.x0 + cols[-1] + 1
    if top < 2 or left < 2 or bottom > height - 2 or right > width - 2 or min(bottom - top, right - left) < 3:
        return False
    # A source the size of the image with the window in place: OpenCV centres the mask's
    # bounding rectangle on ``centre`` (integer halves), which then lands where it was.
    source = np.zeros_like(image)
    full_mask = np.zeros(image.shape[:2], np.uint8)
    source[placed.window] = rgb
    full_mask[placed.window] = mask.astype(np.uint8) * 255
    centre = (int(left + (right - left) // 2), int(top + (bottom - top) // 2))
    keep = full_mask.astype(bool)  # before the call: OpenCV may change the mask it is given
    cloned = cv2.seamlessClone(source, image, full_mask, centre, cv2.NORMAL_CLONE)
    image[keep] = cloned[keep]
    return True
