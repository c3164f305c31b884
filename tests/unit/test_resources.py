"""One place decides whether a missing resource skips or fails, and a required run tolerates no skip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import resources
from tests.resources import RESOURCES, Resource, need

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def missing(monkeypatch):
    """A ``server`` resource that is never there, and no requirement set."""
    monkeypatch.setitem(RESOURCES, "server", Resource("SYNTHGEN_REQUIRE_LABEL_STUDIO", lambda: False, "install it"))
    for variable in ("SYNTHGEN_REQUIRE_LABEL_STUDIO", "SYNTHGEN_REQUIRE_ALL"):
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def test_a_missing_resource_skips_with_the_remedy(missing):
    with pytest.raises(pytest.skip.Exception, match="server not available: install it"):
        need("server")


@pytest.mark.parametrize("variable", ["SYNTHGEN_REQUIRE_LABEL_STUDIO", "SYNTHGEN_REQUIRE_ALL"])
def test_a_required_missing_resource_fails(missing, variable):
    missing.setenv(variable, "1")
    assert resources.required("server")
    with pytest.raises(pytest.fail.Exception, match="server not available"):
        need("server")


def test_skip_me_when_asked():
    """Skipped only inside the run below (the variable is set there, never in a normal run)."""
    if os.environ.get("SYNTHGEN_TEST_SKIP_ME") == "1":
        pytest.skip("asked to")


@pytest.mark.parametrize("require_all, code", [("0", 0), ("1", 1)])
def test_a_run_that_requires_everything_fails_on_any_skip(require_all, code):
    environment = {**os.environ, "SYNTHGEN_TEST_SKIP_ME": "1", "SYNTHGEN_REQUIRE_ALL": require_all}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             f"{Path(__file__).relative_to(ROOT)}::test_skip_me_when_asked"],
                            cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300)
    assert result.returncode == code, result.stdout[-2000:]
    assert "1 skipped" in result.stdout
    assert ("nothing may be skipped here" in result.stdout) == (code == 1)
