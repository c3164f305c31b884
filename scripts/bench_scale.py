"""Benchmark: throughput for 1 and 2 workers, and the memory curve of a long run.

Usage:
    python scripts/bench_scale.py [n=120] [long=5000] [export_n=5000] [lp_threads=auto] [any generate override ...]

Part 1 runs ``generate`` with workers=1 and workers=2 on the same config (each in a fresh
process, with the llvmpipe thread count given by ``lp_threads``: ``auto`` leaves Mesa's
default, a number sets ``LP_NUM_THREADS``) and prints images/s and their ratio. Part 2
runs ``long`` images in one process and samples its resident memory (RSS) as samples are
committed, printing the curve and the growth between image 500 and the last commit (the
end-of-run export is reported separately). Part 3 measures the peak RSS of ``synthgen export
format=coco`` (the end-of-run export alone, in a fresh process) on stores of ``export_n / 10``
and ``export_n`` samples (one real 640x480 sample cloned, see clone_store.py), which must not
grow with n: records are streamed. The last lines are ``export_peak_rss_large_vs_small =
X.XX``, ``workers_2_vs_1 = X.XX`` and ``rss_growth_500_to_end = X.X%`` (``long=0`` and
``n=0`` skip parts 2 and 1).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from clone_store import clone_store
from script_args import options_and_overrides

DEFAULTS = ["render.width=320", "render.height=240", "progress=false"]


def _arguments(argv: list[str]) -> tuple[dict, list[str]]:
    return options_and_overrides(argv, {"n": "120", "long": "5000", "export_n": "5000", "lp_threads": "auto"})


def _throughput(workers: int, n: int, overrides: list[str], lp_threads: str) -> float:
    environment = dict(os.environ)
    if lp_threads != "auto":
        environment["LP_NUM_THREADS"] = lp_threads
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "synthgen.cli", "generate", f"out={tmp}/ds", f"n={n}", f"workers={workers}",
                   *DEFAULTS, *overrides]
        start = time.perf_counter()
        subprocess.run(command, check=True, env=environment, capture_output=True)
        return n / (time.perf_counter() - start)


def _rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def _memory_curve(n: int, overrides: list[str]) -> list[tuple[int, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        labels = Path(tmp) / "ds" / "labels"
        process = subprocess.Popen([sys.executable, "-m", "synthgen.cli", "generate", f"out={tmp}/ds", f"n={n}",
                                    *DEFAULTS, *overrides], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        curve: list[tuple[int, float]] = []

        def watch() -> None:
            while process.poll() is None:
                try:
                    done = sum(1 for _ in labels.glob("*.json")) if labels.is_dir() else 0
                    curve.append((done, _rss_mib(process.pid)))
                except (FileNotFoundError, IndexError):
                    pass
                time.sleep(1.0)

        watcher = threading.Thread(target=watch)
        watcher.start()
        process.wait()
        watcher.join()
        if process.returncode:
            raise SystemExit(process.stderr.read().decode())
        return curve


def _export_peak_mib(store: Path, out: Path) -> float:
    process = subprocess.Popen([sys.executable, "-m", "synthgen.cli", "export", "format=coco", f"in={store}",
                                f"out={out}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    if status:
        raise SystemExit(process.stderr.read().decode())
    return usage.ru_maxrss / 1024  # kilobytes on Linux


def _export_memory(n: int, overrides: list[str]) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "sample"
        subprocess.run([sys.executable, "-m", "synthgen.cli", "generate", f"out={sample}", "n=1", "progress=false",
                        "scene.placement.count=[8,8]", *overrides], check=True, capture_output=True)
        peaks = []
        for size in (n // 10, n):
            store = clone_store(sample, Path(tmp) / f"store_{size}", range(size))
            peaks.append(_export_peak_mib(store, Path(tmp) / f"coco_{size}"))
        return peaks[0], peaks[1]


def main(argv: list[str]) -> None:
    options, overrides = _arguments(argv)
    n, long_n = int(options["n"]), int(options["long"])
    print(f"cores: {os.cpu_count()}, LP_NUM_THREADS: {options['lp_threads']}, n={n}, {' '.join(DEFAULTS + overrides)}")
    export_n = int(options["export_n"])
    if export_n:
        small, large = _export_memory(export_n, overrides)
        print(f"export peak RSS (synthgen export format=coco): {export_n // 10} samples {small:.0f} MiB, "
              f"{export_n} samples {large:.0f} MiB")
        print(f"export_peak_rss_large_vs_small = {large / small:.2f}")
    if n:
        one = _throughput(1, n, overrides, options["lp_threads"])
        two = _throughput(2, n, overrides, options["lp_threads"])
        print(f"workers=1: {one:.1f} images/s (including process start-up)")
        print(f"workers=2: {two:.1f} images/s")
    if long_n:
        curve = _memory_curve(long_n, overrides)
        marks = [m for m in (100, 250, 500, 1000, 2000, 3000, 4000, 5000, long_n) if m <= long_n]
        print("RSS curve (images committed: MiB):")
        for mark in sorted(set(marks)):
            reached = [rss for done, rss in curve if done >= mark]
            if reached:
                print(f"  {mark}: {reached[0]:.0f}")
        at_500 = next((rss for done, rss in curve if done >= min(500, long_n)), curve[0][1])
        # At the last commit, before the end-of-run export.
        at_end = next((rss for done, rss in curve if done >= long_n), curve[-1][1])
        print(f"peak RSS during the end-of-run export: {max(rss for _, rss in curve):.0f} MiB")
        print(f"rss_growth_500_to_end = {100 * (at_end - at_500) / at_500:.1f}%")
    if n:
        print(f"workers_2_vs_1 = {two / one:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
