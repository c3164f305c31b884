"""scripts/check_identity.py: the byte-identity proof of a restructuring sees identical runs as
identical and a changed or missing file as a difference."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "check_identity.py"


def _run(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *arguments], capture_output=True, text=True, timeout=900,
                          cwd=cwd)


def test_two_runs_compare_identical_and_a_change_is_named(tmp_path):
    for name in ("a", "b"):
        result = _run("--only", "scene_chessboard", "--out", str(tmp_path / f"{name}.json"), cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
    first = json.loads((tmp_path / "a.json").read_text())
    assert any(key.startswith("scene_chessboard/images/") for key in first)
    assert any(key.startswith("scene_chessboard/export_yolo/") for key in first)
    # The chessboard has no track: the sequence formats refuse it, and the refusal is recorded.
    assert first["scene_chessboard/export_mot"].startswith("refused: ")
    same = _run("--compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"), cwd=tmp_path)
    assert same.returncode == 0 and f"identical {len(first)}/{len(first)}" in same.stdout

    changed = dict(first)
    label = next(key for key in changed if key.startswith("scene_chessboard/labels/"))
    changed[label] = "0" * 64
    del changed[next(key for key in changed if key.startswith("scene_chessboard/images/"))]
    (tmp_path / "c.json").write_text(json.dumps(changed))
    different = _run("--compare", str(tmp_path / "a.json"), str(tmp_path / "c.json"), cwd=tmp_path)
    assert different.returncode == 1
    assert f"differs: {label}" in different.stdout and "-> missing" in different.stdout
    assert f"identical {len(first) - 2}/{len(first)}" in different.stdout
