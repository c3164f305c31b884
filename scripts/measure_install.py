"""Install time and size of synthgen's core and of each extra, each into a fresh virtual environment.

Usage:
    python scripts/measure_install.py [extras=core,torch,validate,diffusion,qa,physics,cycles,cluster,docs]
        [out=docs/benchmarks/install.md]

Builds the wheel once, then for each entry makes an empty venv, times
``pip install WHEEL[extra]`` (pip's cache warm, as on a machine that installed before; the
index is reachable), measures the venv's size on disk, and deletes it. The core venv then runs
``synthgen generate n=2`` to show the core alone generates. Writes a stamped Markdown table.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from script_args import options_and_overrides  # noqa: E402
from stamp import write_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def main(argv: list[str]) -> None:
    options, _ = options_and_overrides(argv, {"extras": "core,torch,validate,diffusion,qa,physics,cycles,cluster,docs",
                                              "out": "docs/benchmarks/install.md"}, overrides=False)
    work = Path(tempfile.mkdtemp(prefix="synthgen-install-"))
    try:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work), str(ROOT)], check=True)
        wheel = next(work.glob("synthgen-*.whl"))
        rows = []
        for extra in options["extras"].split(","):
            venv = work / f"venv-{extra}"
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            requirement = f"{wheel}" if extra == "core" else f"synthgen[{extra}] @ {wheel.as_uri()}"
            start = time.perf_counter()
            result = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", requirement], capture_output=True, text=True)
            seconds = time.perf_counter() - start
            note = "" if result.returncode == 0 else "failed: " + result.stderr.strip().splitlines()[-1][:120]
            if extra == "core" and not note:
                run = subprocess.run([str(venv / "bin" / "synthgen"), "generate", "n=2", f"out={work / 'data'}",
                                      "progress=false"], capture_output=True, text=True)
                note = "`synthgen generate` works" if run.returncode == 0 else "generate failed: " + run.stderr[-200:]
            rows.append([f"`{extra}`" if extra != "core" else "core (`pip install synthgen`)", f"{seconds:.0f} s",
                         f"{_size_mb(venv):,.0f} MB", note])
            print(rows[-1], flush=True)
            shutil.rmtree(venv)
        text = write_table(ROOT / options["out"], "Install time and size",
                           "Each row: a fresh venv, `pip install` of the wheel with that extra (pip's cache warm), "
                           "its size on disk (`python scripts/measure_install.py`). A venv's own pip and setuptools "
                           "are included (about 20 MB).",
                           ["install", "time", "venv size", "note"], rows)
        print(text)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
