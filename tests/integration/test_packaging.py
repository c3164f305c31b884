"""The built wheel ships what the source tree has: every subpackage, config and asset; the import
contracts (pyproject.toml's [tool.importlinter]) are kept and ruff is clean."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _source_files(folder: str, pattern: str) -> set[str]:
    return {path.relative_to(ROOT / folder).as_posix() for path in (ROOT / folder).rglob(pattern)
            if path.is_file() and "__pycache__" not in path.parts}


def test_wheel_ships_every_package_config_and_asset(tmp_path):
    # Built from a clean copy: setuptools' build/ folder in a source tree keeps files removed since.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__",
                                                                ".pytest_cache"))
    # No build isolation: the dev extra has setuptools and wheel, and nothing is downloaded.
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                             "-q", "-w", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    [wheel] = tmp_path.glob("synthgen-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())

    expected = {f"synthgen/{name}" for name in _source_files("synthgen", "*.py")}
    expected |= {f"synthgen/conf/{name}" for name in _source_files("conf", "*.yaml")}
    expected |= {f"synthgen/scene_data/{name}" for name in _source_files("scenes", "*") if not name.endswith(".pyc")}
    assert "synthgen/diffusion/__init__.py" in expected and "synthgen/conf/generate.yaml" in expected
    missing = sorted(expected - shipped)
    assert not missing, f"the wheel leaves out {missing}"


def _tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def test_import_contracts_are_kept():
    """pyproject.toml's [tool.importlinter] contracts: layers, core alone, no render/diffusion in
    scene, labels, io, mix, validate; labels without io; nothing imports commands but the CLI."""
    result = subprocess.run([_tool("lint-imports")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout and "9 kept" in result.stdout


def test_ruff_is_clean():
    result = subprocess.run([_tool("ruff"), "check", "synthgen", "tests", "scripts", "setup.py"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:]
