"""Realism before and after real appearance: synthgen validate (KID, classifier AUC) and TSTR
on a real labeled set, for scene variants rendered with the same n, seed and size.

Usage:
    python scripts/measure_realism.py [n=200] [real=../shared/data/fruits_nuts] [out=/tmp/realism]
                                      [width=640] [height=480] [steps=300] [variants=flat,photos,photos_sensor]
                                      [baseline=true]   (false: no train-on-real run)
                                      [samples=32]      (Cycles samples of the *_cycles variants)

Variants (all through the CLI, as a user runs them):
    flat           scene=tabletop_fruits (procedural shapes, one flat colour per category)
    photos         scene=tabletop_fruits_photos: skins, cloth and backgrounds from the real set's
                   TSTR *training* images only (the test images never reach a texture)
    photos_sensor  photos + augment=sensor (depth of field, lens distortion, noise, JPEG)
    flat_cycles, photos_cycles
                   the same scenes (same n, seed, size) path traced: render=cycles with
                   render.samples=SAMPLES (option samples=, default 32)

The real set is split exactly as ``synthgen validate``'s TSTR splits it (seeded), so the
textures come from the training pool and every score is on the same held-out images.
Prints one table: KID (MobileNetV2 features) and classifier two-sample AUC against all real
images and against the held-out test images alone (whose pixels no texture saw), TSTR mAP50
with its 95% interval and its share of the train-on-real baseline.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.script_args import options_and_overrides  # noqa: E402
from synthgen.io.formats import read_dataset  # noqa: E402
from synthgen.mixing.mixer import MixSettings, mix_datasets  # noqa: E402

VARIANTS = {
    "flat": ["scene=tabletop_fruits"],
    "photos": ["scene=tabletop_fruits_photos"],
    "photos_sensor": ["scene=tabletop_fruits_photos", "augment=sensor"],
    # The same scenes path traced (render=cycles, 'synthgen[cycles]'); samples from the samples= option.
    "flat_cycles": ["scene=tabletop_fruits", "render=cycles"],
    "photos_cycles": ["scene=tabletop_fruits_photos", "render=cycles"],
}


def training_image_ids(real: str, test_fraction: float = 0.5, seed: int = 0) -> list:
    """Ids of the real images TSTR trains on (its test split is the rest)."""
    dataset = read_dataset(real)
    mixed = mix_datasets([], [dataset], MixSettings(unmatched="drop", test_fraction=test_fraction, seed=seed,
                                                    synthetic_count=0))
    return sorted(image.source["original_id"] for image in mixed.images if image.split == "train")


def write_test_split(real: str, train_ids: list, out: Path) -> Path:
    """A COCO set of the real images outside ``train_ids``, their files copied (the readers refuse
    links that leave a dataset's folder), never into the repository."""
    from scripts.benchmark_sim2real import write_subset

    coco = json.loads((Path(real) / "annotations.json").read_text())
    keep = sorted({image["id"] for image in coco["images"]} - set(train_ids))
    return write_subset(Path(real), keep, out)


def run(command: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - start


def main(argv: list[str]) -> None:
    options, _ = options_and_overrides(argv, {"n": "200", "real": "../shared/data/fruits_nuts", "out": "/tmp/realism",
                                              "width": "640", "height": "480", "steps": "300",
                                              "variants": "flat,photos,photos_sensor", "baseline": "true",
                                              "samples": "32"},
                                     overrides=False)
    out, real = Path(options["out"]), str(Path(options["real"]).resolve())
    train_ids = training_image_ids(real)
    print(f"real set {real}: textures from its {len(train_ids)} TSTR training images {train_ids}")
    test_split = write_test_split(real, train_ids, out / "real_test")
    rows = []
    for position, name in enumerate(options["variants"].split(",")):
        data = out / name
        overrides = [*VARIANTS[name], f"n={options['n']}", f"render.width={options['width']}",
                     f"render.height={options['height']}", "progress=false", "overwrite=true", f"out={data}"]
        if "cycles" in name:
            overrides.append(f"render.samples={options['samples']}")
        if "photos" in name:
            overrides += [f"scene.randomize.skins.texture_dataset={real}",
                          f"scene.randomize.skins.dataset_image_ids=[{','.join(map(str, train_ids))}]"]
        generate_s = run(["synthgen", "generate", *overrides])
        report = out / f"{name}_report"
        validate_s = run(["synthgen", "validate", f"synthetic={data}", f"real={real}", f"out={report}", "overwrite=true",
                          "progress=false", "tstr.enabled=true", f"tstr.steps={options['steps']}",
                          f"tstr.real_only={'true' if position == 0 and options['baseline'] == 'true' else 'false'}"])
        metrics = json.loads((report / "metrics.json").read_text())
        held_out = out / f"{name}_report_test_split"
        run(["synthgen", "validate", f"synthetic={data}", f"real={test_split}", f"out={held_out}", "overwrite=true",
             "progress=false"])
        metrics["held_out_gap"] = json.loads((held_out / "metrics.json").read_text())["image_gap"]
        rows.append((name, metrics, generate_s, validate_s))
        print(f"{name}: generate {generate_s:.0f} s ({generate_s / int(options['n']):.2f} s per image), "
              f"validate {validate_s:.0f} s", flush=True)
    baseline = next((r for _, m, _, _ in rows for r in m["tstr"] if r["name"] == "real only"), None)
    print(f"\nn={options['n']} at {options['width']}x{options['height']}, real={Path(real).name}, "
          f"TSTR {options['steps']} steps; train-on-real mAP50 = {baseline['bbox']['map50']:.3f}" if baseline else "")
    print(f"{'variant':<15}{'KID':>9}{'AUC':>7}{'KID test':>10}{'AUC test':>10}{'mAP50':>8}  {'95% interval':<16}"
          f"{'of real':>8}")
    for name, metrics, _, _ in rows:
        gap = metrics["image_gap"]
        synthetic = next(r for r in metrics["tstr"] if r["name"] == "synthetic only")
        score = synthetic["bbox"]["map50"]
        interval = synthetic["bbox"].get("ci95", {}).get("map50") or ["?", "?"]
        share = f"{score / baseline['bbox']['map50']:.0%}" if baseline and baseline["bbox"]["map50"] > 0 else "-"
        interval_text = "[" + ", ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in interval) + "]"
        held = metrics["held_out_gap"]
        print(f"{name:<15}{gap['kid']['mean']:>9.4f}{gap['classifier_two_sample']['auc']:>7.3f}"
              f"{held['kid']['mean']:>10.4f}{held['classifier_two_sample']['auc']:>10.3f}{score:>8.3f}  "
              f"{interval_text:<16}{share:>8}")


if __name__ == "__main__":
    main(sys.argv[1:])
