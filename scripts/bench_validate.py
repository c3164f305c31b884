"""Benchmark: ``synthgen validate`` (features + gap metrics, no TSTR) at two sizes 10x apart.

Usage:
    python scripts/bench_validate.py [synthetic=1000] [real=100] [size=320x240] [permutations=50]

Generates ``synthetic`` images of the tabletop_fruits scene and, as the "real" side, ``real``
images of the same scene with another seed (the timing does not depend on what the images
show), then times ``validate`` on ``synthetic`` vs ``real`` images and on a tenth of both
(MobileNetV2 features, KID, FD, MMD, precision/recall, the classifier two-sample test with
its permutation refits). The classifier test is also timed alone on the extracted feature
shapes. Target: 1,000 vs 100 under 2 minutes on a 2-core CPU. The last lines are
``validate_seconds = S`` and ``validate_large_vs_small = R``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir
from script_args import options_and_overrides

from synthgen.commands.generate import generate
from synthgen.commands.validate import validate
from synthgen.paths import conf_dir
from synthgen.validation.distribution import classifier_two_sample_test


def _arguments(argv: list[str]) -> dict:
    defaults = {"synthetic": "1000", "real": "100", "size": "320x240", "permutations": "50"}
    return options_and_overrides(argv, defaults, overrides=False)[0]


def _compose(name: str, overrides: list[str]):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name=name, overrides=overrides)


def _dataset(root: Path, n: int, seed: int, size: str) -> Path:
    width, height = size.split("x")
    generate(_compose("generate", [f"out={root}", f"n={n}", f"seed={seed}", "scene=tabletop_fruits",
                                   f"render.width={width}", f"render.height={height}", "progress=false",
                                   "writer.image_format=jpg", "workers=2"]))
    return root


def _validate_seconds(synthetic: Path, real: Path, out: Path, limit: tuple[int, int], permutations: int) -> float:
    # max_images draws a subset per side; the larger side's limit applies to both.
    cfg = _compose("validate", [f"synthetic={synthetic}", f"real={real}", f"out={out}", f"max_images={max(limit)}",
                                f"permutations={permutations}", "progress=false"])
    start = time.perf_counter()
    validate(cfg)
    return time.perf_counter() - start


def main(argv: list[str]) -> None:
    options = _arguments(argv)
    n_synthetic, n_real, permutations = int(options["synthetic"]), int(options["real"]), int(options["permutations"])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        small_synthetic = _dataset(tmp / "synthetic_small", n_synthetic // 10, 0, options["size"])
        small_real = _dataset(tmp / "real_small", n_real // 10, 1, options["size"])
        synthetic = _dataset(tmp / "synthetic", n_synthetic, 0, options["size"])
        real = _dataset(tmp / "real", n_real, 1, options["size"])
        print(f"generated the four datasets in {time.perf_counter() - start:.0f} s (not timed below)")
        small = _validate_seconds(small_synthetic, small_real, tmp / "v_small", (n_synthetic // 10, n_real // 10),
                                  permutations)
        large = _validate_seconds(synthetic, real, tmp / "v_large", (n_synthetic, n_real), permutations)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    classifier_two_sample_test(rng.normal(size=(n_synthetic, 1280)), rng.normal(size=(n_real, 1280)), rng,
                               permutations=permutations)
    probe = time.perf_counter() - start
    print(f"validate {n_synthetic // 10} vs {n_real // 10} images: {small:.1f} s")
    print(f"validate {n_synthetic} vs {n_real} images: {large:.1f} s (target < 120 s)")
    print(f"  of which the classifier two-sample test ({permutations} permutations, 1280-d): about {probe:.1f} s")
    print(f"validate_seconds = {large:.1f}")
    print(f"validate_large_vs_small = {large / small:.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
