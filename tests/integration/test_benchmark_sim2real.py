"""scripts/benchmark_sim2real.py runs end to end at its smallest (the protocol stays runnable)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.resources import FRUITS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.realdata
def test_the_benchmark_splits_trains_and_reports(tmp_path):
    process = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "benchmark_sim2real.py"), f"real={FRUITS}", f"out={tmp_path}",
         "splits=2", "n=4", "steps=2", "image_size=64", "width=96", "height=72", "arms=real_k,all_real,paste"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path)})
    assert process.returncode == 0, process.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    splits = results["splits"]
    assert len(splits) == 2 and splits[0]["user_ids"] != splits[1]["user_ids"]
    for split in splits:
        assert len(split["user_ids"]) == 3 and len(split["test_ids"]) == 15
        assert not set(split["user_ids"]) & set(split["test_ids"])  # test photos never reach the synthetic data
        assert {"real_k", "all_real", "paste", "paste+real_k"} <= set(split)
    # The paste set was cut from the K photos only.
    sources = {json.loads(p.read_text())["generation"]["objects"][0]["image"]
               for p in (tmp_path / "split0" / "paste" / "labels").glob("*.json")
               if json.loads(p.read_text())["generation"]["objects"]}
    assert sources and sources <= set(splits[0]["user_ids"])
    assert "of all-real" in process.stdout and "paste+real_k" in process.stdout
