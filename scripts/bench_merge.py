"""Benchmark: ``synthgen merge`` time at two sizes 10x apart (it must grow linearly).

Usage:
    python scripts/bench_merge.py [small=10000] [large=100000] [export=none|coco]

One real sample is generated (tiny, 32x24) and cloned under every index into two shard
stores (hard links for the image files, a rewritten label record per index), so the
shards look like a long sharded run without rendering it. Each size is then merged with
``merge_shards``; ``export=coco`` also rebuilds the COCO export as a real merge does (it
is off by default so the numbers are the merge's own). The last line is
``merge_large_vs_small = X.X`` (seconds ratio; 10 means linear).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from clone_store import clone_store
from hydra import compose, initialize_config_dir
from script_args import options_and_overrides

from synthgen.commands.generate import generate
from synthgen.commands.merge import merge_shards
from synthgen.paths import conf_dir


def _arguments(argv: list[str]) -> dict:
    return options_and_overrides(argv, {"small": "10000", "large": "100000", "export": "none"}, overrides=False)[0]


def _one_sample(root: Path, export: str) -> Path:
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="generate", overrides=[
            f"out={root}", "n=1", "render.width=32", "render.height=24", "progress=false",
            "scene.placement.count=[1,2]"])
    if export != "coco":
        cfg.export = {}  # merge rebuilds the exports named in the shards' config
    generate(cfg)
    return root


def _clone_shards(sample: Path, out: Path, n: int) -> list[Path]:
    """Two shard stores (even and odd indices) made of copies of the one sample."""
    return [clone_store(sample, out / str(shard), range(shard, n, 2), {"shard": {"index": shard, "count": 2}})
            for shard in (0, 1)]


def _merge_seconds(shards: list[Path], out: Path) -> float:
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="merge", overrides=[f"in=[{','.join(map(str, shards))}]", f"out={out}"])
    start = time.perf_counter()
    merge_shards(cfg)
    return time.perf_counter() - start


def main(argv: list[str]) -> None:
    options = _arguments(argv)
    sizes = int(options["small"]), int(options["large"])
    with tempfile.TemporaryDirectory() as tmp:
        sample = _one_sample(Path(tmp) / "sample", options["export"])
        seconds = {}
        for n in sizes:
            shards = _clone_shards(sample, Path(tmp) / f"shards_{n}", n)
            seconds[n] = _merge_seconds(shards, Path(tmp) / f"merged_{n}")
            merged = sum(1 for _ in (Path(tmp) / f"merged_{n}" / "labels").glob("*.json"))
            assert merged == n, (merged, n)
            print(f"merge of 2 shards, {n} indices (export={options['export']}): {seconds[n]:.1f} s "
                  f"({1e6 * seconds[n] / n:.0f} us per index)")
    print(f"merge_large_vs_small = {seconds[sizes[1]] / seconds[sizes[0]]:.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
