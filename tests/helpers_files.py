"""Comparing dataset folders file by file (the API and CLI, a shard round trip)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["tree_bytes"]


def tree_bytes(root: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Relative path -> bytes of every file under ``root`` (paths starting with one of ``skip`` left out)."""
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*"))
            if path.is_file() and not str(path.relative_to(root)).startswith(skip)}
