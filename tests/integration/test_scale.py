"""Worker processes, crash recovery and termination: the dataset is the same however it was made."""

import hashlib
import os
import signal
import subprocess
import sys
import time

from synthgen.pipeline import generate
from tests.conftest import SMALL_RUN


def _hashes(root):
    return {path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()}


def test_any_worker_count_gives_byte_identical_datasets(generate_cfg, tmp_path):
    generate(generate_cfg(*SMALL_RUN, f"out={tmp_path / 'one'}", "n=8", "seed=3", "workers=1"))
    generate(generate_cfg(*SMALL_RUN, f"out={tmp_path / 'two'}", "n=8", "seed=3", "workers=2", "recycle_after=3"))
    first, second = _hashes(tmp_path / "one"), _hashes(tmp_path / "two")
    assert first == second and sum(name.startswith("labels/") for name in first) == 8


def _start(tmp_path, *args):
    executable = os.path.join(os.path.dirname(sys.executable), "synthgen")
    return subprocess.Popen([executable, "generate", "out=ds", "render.width=96", "render.height=72", *args],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _wait_for_labels(root, count):
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if (root / "labels").is_dir() and len(list((root / "labels").glob("*.json"))) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"fewer than {count} samples committed in time")


def test_kill_9_then_resume_equals_an_uninterrupted_run(generate_cfg, tmp_path):
    process = _start(tmp_path, "n=40", "workers=2", "seed=5")
    _wait_for_labels(tmp_path / "ds", 4)
    os.killpg(process.pid, signal.SIGKILL)  # the whole process group: no worker survives to finish
    process.communicate(timeout=60)
    committed = len(list((tmp_path / "ds" / "labels").glob("*.json")))
    assert 4 <= committed < 40
    generate(generate_cfg(f"out={tmp_path / 'ds'}", "render.width=96", "render.height=72", "n=40", "seed=5",
                          "resume=true", "progress=false"))
    generate(generate_cfg(f"out={tmp_path / 'clean'}", "render.width=96", "render.height=72", "n=40", "seed=5",
                          "progress=false"))
    assert _hashes(tmp_path / "ds") == _hashes(tmp_path / "clean")


def test_sigterm_finishes_samples_in_flight_and_says_how_to_resume(tmp_path):
    process = _start(tmp_path, "n=500", "workers=2")
    _wait_for_labels(tmp_path / "ds", 3)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "resume=true" in stderr and "Traceback" not in stderr
    assert not list((tmp_path / "ds").rglob(".*tmp-*"))
    assert 3 <= len(list((tmp_path / "ds" / "labels").glob("*.json"))) < 500
