"""Importing torch (optional extras) in a process that also renders with llvmpipe."""

from __future__ import annotations

import sys

from synthgen.core.errors import ConfigError

__all__ = ["import_torch"]


def import_torch(purpose: str, install: str):
    """``torch``, imported so it can share a process with the OpenGL renderer.

    Args:
        purpose: What needs torch, for the error message (e.g. "synthgen validate").
        install: How to install the missing extra, for the error message.

    Raises:
        ConfigError: torch is not installed; says how to install it.
    """
    if "triton" not in sys.modules:
        # llvmpipe (Mesa's software OpenGL, used by the renderer) and triton each load their
        # own LLVM; with both in one process it crashes (whichever comes second). torch,
        # torchvision and diffusers import triton only to offer GPU kernel compilation, which
        # synthgen never uses: make it unavailable, so rendering and torch share a process.
        sys.modules["triton"] = None
    try:
        import torch
    except ImportError as error:
        raise ConfigError(f"{purpose} needs torch: {install}") from error
    # Long CPU runs drift into denormal floats, which CPUs process many times slower (seen:
    # detector steps 5x slower after ~50 of them; flushed, the same scores). Set before torch
    # starts its worker threads: they inherit it from this thread, threads started earlier would not.
    torch.set_flush_denormal(True)
    return torch
