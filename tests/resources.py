"""What optional resources the tests need, and whether a missing one skips or fails: in one place.

A test (or module) marked ``server``, ``cycles``, ``physics``, ``realdata``, ``pybullet``
or ``chromium`` needs that resource. When it is missing the test is skipped on a developer
machine, and fails where the resource's variable (``SYNTHGEN_REQUIRE_<NAME>=1``) or
``SYNTHGEN_REQUIRE_ALL=1`` is set (``.ci/run`` sets the latter: nothing may be skipped there).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The small real labeled sets (../shared/data, see its README): read in place, never copied. The one
# place their paths are spelled; tests that read them are marked ``realdata``. (Constants, not a
# fixture: parametrized tests and module-scoped fixtures need the paths when they are collected.)
DATA_ROOT = ROOT.parent / "shared" / "data"
FRUITS = DATA_ROOT / "fruits_nuts"
CHESSBOARDS = DATA_ROOT / "chessboards"


def label_studio_command() -> str | None:
    """The ``label-studio`` command: beside this Python, in the repository's ``.venv-labelstudio``
    (the server's own environment, where bpy's numpy < 2 rules it out of this one) or on PATH."""
    candidates = [Path(sys.executable).with_name("label-studio"), ROOT / ".venv-labelstudio" / "bin" / "label-studio"]
    found = next((path for path in candidates if path.is_file()), None)
    return str(found) if found is not None else shutil.which("label-studio")


def _modules(*names: str) -> Callable[[], bool]:
    return lambda: all(importlib.util.find_spec(name) is not None for name in names)


@dataclass(frozen=True)
class Resource:
    """A resource a marker stands for: how to tell it is there, and how to get it."""

    variable: str
    available: Callable[[], bool]
    remedy: str


RESOURCES = {
    "server": Resource("SYNTHGEN_REQUIRE_LABEL_STUDIO", lambda: label_studio_command() is not None,
                       "python3 -m venv .venv-labelstudio && .venv-labelstudio/bin/pip install label-studio==1.23.2"),
    "cycles": Resource("SYNTHGEN_REQUIRE_CYCLES", _modules("bpy"), "pip install -e '.[dev,cycles]' (CPython 3.11)"),
    "physics": Resource("SYNTHGEN_REQUIRE_PHYSICS", _modules("mujoco", "coacd"), "pip install -e '.[dev,physics]'"),
    "realdata": Resource("SYNTHGEN_REQUIRE_REALDATA", lambda: FRUITS.is_dir() and CHESSBOARDS.is_dir(),
                         f"the real sets in {DATA_ROOT} (see the brief)"),
    "pybullet": Resource("SYNTHGEN_REQUIRE_PYBULLET_DATA", _modules("pybullet_data"), "pip install -e '.[dev]'"),
    "chromium": Resource("SYNTHGEN_REQUIRE_CHROMIUM", lambda: shutil.which("chromium") is not None,
                         "apt-get install chromium"),
}


def required(name: str) -> bool:
    """Whether a missing resource ``name`` fails (rather than skips) here."""
    return os.environ.get("SYNTHGEN_REQUIRE_ALL") == "1" or os.environ.get(RESOURCES[name].variable) == "1"


def need(name: str) -> None:
    """Skip, or fail where required, unless resource ``name`` is available."""
    resource = RESOURCES[name]
    if resource.available():
        return
    reason = f"{name} not available: {resource.remedy}"
    if required(name):
        pytest.fail(f"{reason} ({resource.variable} or SYNTHGEN_REQUIRE_ALL is set)", pytrace=False)
    pytest.skip(reason)
