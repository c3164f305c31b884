"""Previews: labels drawn over images (``drawing``) and the labeled gallery of a dataset (``gallery``).

``draw_sample``, ``draw_labeled_image``, ``draw_tracks`` and ``write_clip_animation`` are
importable from here as before.
"""

from synthgen.visualize.drawing import draw_labeled_image, draw_sample, draw_tracks, write_clip_animation

__all__ = ["draw_labeled_image", "draw_sample", "draw_tracks", "write_clip_animation"]
