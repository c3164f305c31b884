"""What synthgen fit buys: label gap and TSTR of a scene before and after fitting it to a real set.

Usage:
    python scripts/measure_fit.py scene=tabletop_fruits real=../shared/data/fruits_nuts out=/tmp/measure_fit
                                  [n=200] [steps=300] [width=640] [height=480] [tstr=true] [SCENE OVERRIDES...]

Runs, through the CLI as a user would: ``synthgen fit`` (defaults, plus the scene overrides
given, e.g. generic ranges to start from), ``synthgen generate`` n images with the original
and with the fitted scene (same seed), and ``synthgen validate`` of both against the real
set (label gap; TSTR synthetic-only mAP50 when tstr=true). Prints one table.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from script_args import options_and_overrides  # noqa: E402

_LABEL_KEYS = ("objects_per_image", "size", "aspect", "center_x", "center_y", "occlusion")


def _synthgen(*args: str) -> None:
    subprocess.run([str(Path(sys.executable).with_name("synthgen")), *args], check=True)


def _label_sum(metrics: dict) -> float:
    gap = metrics["label_gap"]
    return sum(gap[k]["wasserstein"] for k in _LABEL_KEYS if gap[k].get("available"))


def main() -> None:
    options, scene_overrides = options_and_overrides(sys.argv[1:], {
        "scene": "tabletop_fruits", "real": "../shared/data/fruits_nuts", "out": "/tmp/measure_fit", "n": "200",
        "steps": "300", "width": "640", "height": "480", "tstr": "true"})
    out, scene = Path(options["out"]), options["scene"]
    started = time.perf_counter()
    _synthgen("fit", f"scene={scene}", f"real={options['real']}", f"out={out / 'fit'}", "progress=false",
              *scene_overrides)
    fit_seconds = time.perf_counter() - started
    common = [f"n={options['n']}", f"render.width={options['width']}", f"render.height={options['height']}",
              "progress=false"]
    _synthgen("generate", f"scene={scene}", f"out={out / 'before'}", *common, *scene_overrides)
    _synthgen("generate", "--config-dir", str(out / "fit"), f"scene={scene}_fit", f"out={out / 'after'}", *common)
    rows = {}
    for side in ("before", "after"):
        tstr = ["tstr.enabled=true", "tstr.real_only=false", f"tstr.steps={options['steps']}"] \
            if options["tstr"] == "true" else []
        _synthgen("validate", f"synthetic={out / side}", f"real={options['real']}", f"out={out / ('validate_' + side)}",
                  "features=null", "progress=false", *tstr)
        metrics = json.loads((out / f"validate_{side}" / "metrics.json").read_text())
        run = (metrics.get("tstr") or [{}])[0]
        rows[side] = (_label_sum(metrics), run.get("bbox", {}).get("map50"))
    report = json.loads((out / "fit" / "fit_report.json").read_text())
    print(f"fit: {fit_seconds:.0f} s, {report['search']['images_rendered']} images; fit_report label W sum "
          f"{report['before']['label_wasserstein_sum']:.3f} -> {report['after']['label_wasserstein_sum']:.3f} "
          f"({100 * report['reduction']['label_wasserstein_sum']:.0f}% less)")
    print(f"| {scene} (n={options['n']}) | label W sum (validate) | TSTR mAP50 synthetic only |")
    print("| --- | --- | --- |")
    for side, (label_sum, map50) in rows.items():
        print(f"| {side} fit | {label_sum:.3f} | {'-' if map50 is None else f'{map50:.3f}'} |")


if __name__ == "__main__":
    main()
