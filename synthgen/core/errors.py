"""Errors synthgen reports to users: one clear message naming the place and the fix."""

from __future__ import annotations

__all__ = ["ConfigError", "InputError", "SynthgenError"]


class SynthgenError(Exception):
    """Base of every error meant for the user (the CLI prints its message, no traceback)."""


class ConfigError(SynthgenError, ValueError):
    """A configuration key or value is invalid; the message names the key."""


class InputError(SynthgenError):
    """An input file or directory (mesh, dataset, output path) cannot be used."""
