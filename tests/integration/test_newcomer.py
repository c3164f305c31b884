"""A newcomer's path, in a clean venv from the built wheel: the core alone generates (no torch
installed), then the torch extra reads the dataset with StoreDataset and trains a torchvision
detector for one step with the getting-started example."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _run(*args, cwd, timeout=900):
    result = subprocess.run([str(arg) for arg in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}: {result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


def test_core_install_generates_and_the_torch_extra_trains(tmp_path):
    _run(sys.executable, "-m", "pip", "wheel", ROOT, "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path / "dist",
         cwd=tmp_path)
    [wheel] = (tmp_path / "dist").glob("synthgen-*.whl")
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python, pip = venv / "bin" / "python", venv / "bin" / "pip"
    _run(pip, "install", "-q", wheel, cwd=tmp_path)
    missing = subprocess.run([python, "-c", "import torch"], capture_output=True, text=True)
    assert missing.returncode != 0, "the core install must not bring torch"
    _run(venv / "bin" / "synthgen", "generate", "n=4", "out=data", "render.width=160", "render.height=120",
         "progress=false", cwd=tmp_path)
    assert len(list((tmp_path / "data" / "images").glob("*.png"))) == 4
    error = subprocess.run([python, "-c", "import synthgen.torch"], capture_output=True, text=True)
    assert "pip install 'synthgen[torch]'" in error.stderr  # the missing extra is named
    _run(pip, "install", "-q", f"synthgen[torch] @ {wheel.as_uri()}", cwd=tmp_path)
    trained = _run(python, ROOT / "docs" / "examples" / "first_detector.py", "data", "1", cwd=tmp_path)
    assert "step 1: loss" in trained.stdout and (tmp_path / "detector.pt").is_file()
