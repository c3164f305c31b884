"""The stamp every benchmark table in docs/benchmarks/ carries: date, commit and machine."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path

__all__ = ["stamp", "write_table"]


def stamp() -> str:
    """``measured YYYY-MM-DD, commit abc1234, <cores> cores, <CPU>, Python X.Y`` for this checkout and machine."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True,
                                cwd=Path(__file__).parent).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True,
                               cwd=Path(__file__).parent).stdout.strip()
        commit += "+changes" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"measured {datetime.date.today().isoformat()}, commit {commit}, {os.cpu_count()} cores, {cpu}, "
            f"Python {platform.python_version()}")


def write_table(path: str | Path, title: str, intro: str, header: list[str], rows: list[list[object]]) -> str:
    """Write (and return) a Markdown page: title, stamp, intro and one table; a docs/benchmarks page."""
    lines = [f"# {title}", "", f"*{stamp()}*", "", intro, "", "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    text = "\n".join(lines) + "\n"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)
    return text
