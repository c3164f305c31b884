"""Stress test: the same config and seed must give the same bytes, however loaded the machine is.

Usage:
    python scripts/stress_determinism.py [runs=8] [parallel=2] [any generate override ...]

Runs ``synthgen generate`` (default ``n=6 seed=11``, the README's 640x480 tabletop scene)
``runs`` times, ``parallel`` at a time (each run loads the machine for the others), and
compares every file of every run with the first run's. For a differing image it prints how
many pixels differ and by how much. The last line is ``identical K/N``.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from script_args import options_and_overrides

DEFAULTS = ["n=6", "seed=11", "progress=false"]


def _arguments(argv: list[str]) -> tuple[dict, list[str]]:
    return options_and_overrides(argv, {"runs": "8", "parallel": "2"})


def _run(out: Path, overrides: list[str]) -> dict[str, str]:
    command = [sys.executable, "-m", "synthgen.cli", "generate", f"out={out}", *DEFAULTS, *overrides]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return {path.relative_to(out).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(out.rglob("*")) if path.is_file()}


def _describe(first: Path, other: Path, name: str) -> str:
    if not name.endswith(".png"):
        return name
    a = cv2.imread(str(first / name), cv2.IMREAD_UNCHANGED).astype(np.int64)
    b = cv2.imread(str(other / name), cv2.IMREAD_UNCHANGED).astype(np.int64)
    if a.shape != b.shape:
        return f"{name} (shape {a.shape} vs {b.shape})"
    difference = np.abs(a - b).reshape(a.shape[0], a.shape[1], -1).max(axis=2)
    return f"{name} ({int((difference > 0).sum())} pixels differ, by at most {int(difference.max())})"


def main(argv: list[str]) -> None:
    options, overrides = _arguments(argv)
    runs, parallel = int(options["runs"]), int(options["parallel"])
    with tempfile.TemporaryDirectory() as tmp:
        outs = [Path(tmp) / f"run{i}" for i in range(runs)]
        with ThreadPoolExecutor(parallel) as pool:
            hashes = list(pool.map(lambda out: _run(out, overrides), outs))
        identical = 1
        for out, run in zip(outs[1:], hashes[1:]):
            differing = sorted(name for name in set(hashes[0]) | set(run) if hashes[0].get(name) != run.get(name))
            if differing:
                print(f"{out.name}: " + "; ".join(_describe(outs[0], out, name) for name in differing[:6]))
            else:
                identical += 1
    print(f"generate {' '.join(DEFAULTS + overrides)}: {runs} runs, {parallel} at a time")
    print(f"identical {identical}/{runs}")


if __name__ == "__main__":
    main(sys.argv[1:])
