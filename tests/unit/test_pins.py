"""Extras use compatible ranges (synthgen installs beside a user's torch); exact pins only where a
wheel or a licence forces one, and exact versions for CI live in .ci/constraints.txt."""

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
# package -> why it is pinned exactly
ALLOWED_EXACT = {
    "bpy": "each bpy wheel is built for one CPython (5.0.1: 3.11) and one numpy ABI",
    "albumentations": "2.0.8 is the last MIT release; later ones are the AGPL albumentationsx",
}


def exact_pins(requirements: list[str]) -> list[str]:
    """The requirements pinned with ``==`` (or ``===``) whose package is not in ``ALLOWED_EXACT``."""
    pinned = []
    for requirement in requirements:
        name = re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()
        if re.search(r"===?", requirement.split(";")[0]) and name not in ALLOWED_EXACT:
            pinned.append(requirement)
    return pinned


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_no_exact_pins_outside_the_allow_list():
    project = _project()
    offenders = exact_pins(project["dependencies"])
    offenders += [f"[{extra}] {r}" for extra, reqs in project["optional-dependencies"].items() for r in exact_pins(reqs)]
    assert offenders == [], f"use a compatible range (e.g. torch>=2.3), pin exact versions in .ci/constraints.txt: {offenders}"


def test_the_check_catches_a_pin():
    assert exact_pins(["torch==2.14.1", "numpy>=1.26", "bpy==5.0.1; python_version == '3.11'", "x===1"]) == [
        "torch==2.14.1", "x===1"]


def test_ci_constraints_pin_every_requirement_exactly():
    project = _project()
    pinned = {line.split("==")[0].lower().replace("_", "-") for line in
              (ROOT / ".ci" / "constraints.txt").read_text().splitlines() if "==" in line}
    requirements = project["dependencies"] + [r for extra in ("dev", "cycles", "physics")
                                               for r in project["optional-dependencies"][extra]]
    names = {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}
    assert names - pinned == set(), "regenerate .ci/constraints.txt with pip freeze (see .ci/run)"
    assert "run" in (ROOT / ".ci" / "run").read_text() and "-c .ci/constraints.txt" in (ROOT / ".ci" / "run").read_text()
