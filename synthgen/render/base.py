"""The renderer protocol (its output, ``RenderOutput``, is in ``synthgen.core``)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from synthgen.core import RenderOutput, SceneSpec

__all__ = ["Renderer"]


@runtime_checkable
class Renderer(Protocol):
    """Renders ``SceneSpec`` objects at a fixed image size."""

    width: int
    height: int

    def render(self, spec: SceneSpec, amodal: bool = True) -> RenderOutput:
        """Render RGB, depth and instance ids (and amodal masks when ``amodal``)."""
        ...
