"""The sim-to-real benchmark: does synthetic data help a user who has K labeled photos?

Usage:
    python scripts/benchmark_sim2real.py [real=../shared/data/fruits_nuts] [out=/tmp/sim2real]
        [splits=3] [share=0.1] [n=200] [steps=150] [image_size=256] [width=640] [height=480]
        [arms=real_k,all_real,flat,photos,paste,hybrid] [bootstrap=0] [merge=EARLIER/results.json]
        [report=EARLIER/results.json]   (only print the table and draw the plot of an earlier run)

Protocol, per random split (seeded 0, 1, ...): K photos of the real set (``share`` of it, at
least 3) are the user's only real data; every other photo is the test set, never seen by a
texture, a cut-out, a background or a fit. Arms, each trained with the same detector
(MobileNetV2 Faster R-CNN, ImageNet backbone), the same number of steps and, for synthetic
arms, the same number ``n`` of images made through ``synthgen generate`` as a user runs it:

    real_k     the K photos alone (what the user has without synthgen)
    all_real   the reference "many real photos": 2-fold cross-validation over the test photos
               (trained on K + one half, scored on the other half; each test photo scored once)
    flat       scene=tabletop_fruits (procedural shapes, flat colours)
    photos     scene=tabletop_fruits_photos (skins, cloth and backgrounds from the K photos)
    paste      generator=paste on the K photos (copy-paste, nothing rendered)
    hybrid     generator=paste render_objects=true on tabletop_fruits_photos (renders and
               the K photos' cut-outs pasted together)
    paste_dense  paste with 4-12 objects per image instead of 1-4
    flat_fit, photos_fit, paste_fit
               flat / photos / paste after ``synthgen fit`` on the K photos (selection by transfer;
               a short search: rounds=1, population=4, eval_images=32, transfer_repeats=1, the
               benchmark's steps and image size)

Each synthetic arm is scored synthetic-only and synthetic + the K photos. ``merge=`` adds the
arms of an earlier run with the same splits (e.g. run the fitted arms later). Prints one table:
box mAP50 mean over splits with a 95% interval (Student t over splits) and the share of the
all-real reference, and writes ``results.json``. The images are copied under ``out`` (the
readers refuse links that leave a dataset), never into the repository.

What a split measures depends on the set: ``fruits_nuts``' photos come from one table, one
light and one camera, so there this is transfer within one photo session, not to photos
nobody tuned for.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.script_args import options_and_overrides  # noqa: E402
from synthgen.io.dataset import LabeledDataset  # noqa: E402
from synthgen.io.formats import read_dataset  # noqa: E402
from synthgen.validation.detector import DetectorTraining, coco_scores  # noqa: E402

SCENES = {"flat": ["scene=tabletop_fruits"], "photos": ["scene=tabletop_fruits_photos"],
          "paste": ["generator=paste"], "hybrid": ["scene=tabletop_fruits_photos", "generator=paste",
                                                   "generator.render_objects=true"],
          "paste_dense": ["generator=paste", "generator.objects=[4,12]"]}


def write_subset(real: Path, ids: list[int], out: Path) -> Path:
    """A COCO copy of the real set's images ``ids`` (files copied, not linked)."""
    coco = json.loads((real / "annotations.json").read_text())
    keep = set(ids)
    images = [image for image in coco["images"] if image["id"] in keep]
    (out / "images").mkdir(parents=True, exist_ok=True)
    for image in images:
        shutil.copy(real / "images" / Path(image["file_name"]).name, out / "images")
        image["file_name"] = Path(image["file_name"]).name
    subset = dict(coco, images=images, annotations=[a for a in coco["annotations"] if a["image_id"] in keep])
    (out / "annotations.json").write_text(json.dumps(subset))
    return out


FITTED = {"flat_fit": "tabletop_fruits", "photos_fit": "tabletop_fruits_photos", "paste_fit": "tabletop_fruits"}
FIT_SEARCH = ["rounds=1", "population=4", "eval_images=32", "transfer_repeats=1", "progress=false", "overwrite=true"]


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")


def generate(arm: str, user_real: Path, out: Path, options: dict) -> tuple[Path, float]:
    """A synthetic set of the arm made by the CLI (after ``synthgen fit`` for the fitted arms);
    returns its folder and seconds (fit included)."""
    start = time.perf_counter()
    textures = [f"scene.randomize.skins.texture_dataset={user_real}"]
    if arm in FITTED:
        scene = FITTED[arm]
        fitted = out.parent / f"{arm}_fit"
        pasting = arm.startswith("paste")
        _run(["synthgen", "fit", f"scene={scene}", f"real={user_real}", f"out={fitted}", *FIT_SEARCH,
              f"transfer_steps={options['steps']}", f"transfer_image_size={options['image_size']}",
              *(textures if "photos" in arm else []),
              *([f"generate=['generator=paste','generator.dataset={user_real}']"] if pasting else [])])
        selection = ["--config-dir", str(fitted), "generator=paste_fit" if pasting else f"scene={scene}_fit"]
    else:
        selection = SCENES[arm]
    overrides = [*selection, f"n={options['n']}", f"render.width={options['width']}",
                 f"render.height={options['height']}", "progress=false", "overwrite=true", f"out={out}"]
    if arm in ("photos", "hybrid"):
        overrides += textures
    if arm.startswith(("paste", "hybrid")) and arm not in FITTED:
        overrides.append(f"generator.dataset={user_real}")
    _run(["synthgen", "generate", *overrides])
    return out, time.perf_counter() - start


def train_and_score(train_images: list, test: LabeledDataset, categories, options: dict, seed: int) -> tuple[list, dict]:
    """Detections on ``test`` of a detector trained on ``train_images`` (COCO results, positions as ids)."""
    training = DetectorTraining(image_size=int(options["image_size"]), steps=int(options["steps"]), seed=seed)
    detector = training.build([c.id for c in categories], masks=False, device="cpu")
    detector.fit(train_images)
    return detector.predict(test.images)


def _same_ids(images: list, categories_by_name: dict, source: LabeledDataset) -> list:
    """Images of ``source`` with category ids mapped by name onto the real set's."""
    mapping = {c.id: categories_by_name[c.name] for c in source.categories if c.name in categories_by_name}
    out = []
    for image in images:
        objects = [dataclasses.replace(o, category_id=mapping[o.category_id])
                   for o in image.objects if o.category_id in mapping]
        out.append(type(image)(image.index, image.path, image.width, image.height, objects))
    return out


def map50(test: LabeledDataset, results: list, bootstrap: int, seed: int) -> float:
    return coco_scores(test, results, "bbox", bootstrap, np.random.default_rng(seed))["map50"]


def run_split(split: int, real: Path, dataset: LabeledDataset, options: dict, arms: list[str]) -> dict:
    rng = np.random.default_rng(split)
    ids = [image.index for image in dataset.images]
    k = max(3, int(round(float(options["share"]) * len(ids))))
    user_ids = sorted(int(i) for i in rng.choice(ids, size=k, replace=False))
    test_ids = [i for i in ids if i not in set(user_ids)]
    base = Path(options["out"]) / f"split{split}"
    user_real = write_subset(real, user_ids, base / "user_real")
    user = read_dataset(user_real)
    test = read_dataset(write_subset(real, test_ids, base / "test"))
    categories = [c for c in dataset.categories if c.kind == "object"]
    by_name = {c.name: c.id for c in categories}
    bootstrap = int(options["bootstrap"])
    scores = {"user_ids": user_ids, "test_ids": test_ids}
    print(f"split {split}: K={k} user photos {user_ids}, {len(test_ids)} test photos", flush=True)
    if "real_k" in arms:
        scores["real_k"] = map50(test, train_and_score(list(user.images), test, categories, options, split),
                                 bootstrap, split)
        print(f"  real_k {scores['real_k']:.3f}", flush=True)
    if "all_real" in arms:
        halves = [test.images[0::2], test.images[1::2]]
        results = []
        positions = {id(image): p for p, image in enumerate(test.images)}
        for fold in (0, 1):
            scored = LabeledDataset(test.name, test.categories, list(halves[fold]))
            found = train_and_score([*user.images, *halves[1 - fold]], scored, categories, options, split)
            # Back to positions in the whole test set, so one evaluation scores every photo once.
            results += [{**entry, "image_id": positions[id(halves[fold][entry["image_id"] - 1])] + 1}
                        for entry in found]
        scores["all_real"] = map50(test, results, bootstrap, split)
        print(f"  all_real {scores['all_real']:.3f}", flush=True)
    for arm in (a for a in arms if a in SCENES or a in FITTED):
        folder, seconds = generate(arm, user_real, base / arm, options)
        synthetic = read_dataset(folder)
        images = _same_ids(list(synthetic.images), by_name, synthetic)
        only = map50(test, train_and_score(images, test, categories, options, split), bootstrap, split)
        plus = map50(test, train_and_score([*images, *user.images], test, categories, options, split), bootstrap, split)
        scores[arm] = only
        scores[f"{arm}+real_k"] = plus
        print(f"  {arm}: generate {seconds:.0f} s; synthetic only {only:.3f}, + K real {plus:.3f}", flush=True)
    return scores


def interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and 95% Student-t interval over splits."""
    from scipy import stats

    values = np.asarray(values, np.float64)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))
    return mean, mean - half, mean + half


def main(argv: list[str]) -> None:
    options, _ = options_and_overrides(argv, {
        "real": str(Path(__file__).resolve().parents[2] / "shared" / "data" / "fruits_nuts"), "out": "/tmp/sim2real",
        "splits": "3", "share": "0.1", "n": "200", "steps": "150", "image_size": "256", "width": "640",
        "height": "480", "arms": "real_k,all_real,flat,photos,paste,hybrid", "bootstrap": "0", "merge": "",
        "report": ""},
        overrides=False)
    real = Path(options["real"]).resolve()
    out = Path(options["out"])
    if options["report"]:  # only the table and plot of an earlier run
        earlier = json.loads(Path(options["report"]).read_text())
        report(earlier["splits"], {**earlier["options"], "out": str(out)}, real, 0.0)
        return
    dataset = read_dataset(real)
    arms = options["arms"].split(",")
    started = time.perf_counter()
    splits = [run_split(split, real, dataset, options, arms) for split in range(int(options["splits"]))]
    if options["merge"]:
        earlier = json.loads(Path(options["merge"]).read_text())["splits"]
        for now, before in zip(splits, earlier):
            if now["user_ids"] != before["user_ids"]:
                raise SystemExit(f"merge={options['merge']}: its splits differ from this run's; use the same real set")
            now.update({key: value for key, value in before.items() if key not in now})
    (out / "results.json").write_text(json.dumps({"options": options, "splits": splits}, indent=1))
    report(splits, options, real, time.perf_counter() - started)


def report(splits: list[dict], options: dict, real: Path, seconds: float) -> None:
    """Print the table (mean, 95% interval, share of all-real) and draw the plot."""
    out = Path(options["out"])
    out.mkdir(parents=True, exist_ok=True)
    synthetic = [key for key in splits[0] if f"{key}+real_k" in splits[0]]
    rows = [key for key in ["real_k", "all_real", *[f"{a}{s}" for a in synthetic for s in ("", "+real_k")]]
            if key in splits[0]]
    reference = [s["all_real"] for s in splits] if "all_real" in splits[0] else None
    print(f"\n{real.name}: {len(splits)} splits, K = {len(splits[0]['user_ids'])} photos, "
          f"{len(splits[0]['test_ids'])} test photos; n={options['n']} synthetic images; Faster R-CNN "
          f"(MobileNetV2), {options['steps']} steps at {options['image_size']} px; {seconds / 60:.0f} min")
    print(f"{'arm':<18}{'mAP50':>8}  {'95% interval':<16}{'of all-real':>12}")
    table = []
    for key in rows:
        values = [s[key] for s in splits]
        mean, low, high = interval(values)
        share = ""
        if reference is not None:
            ratio_mean, ratio_low, ratio_high = interval([v / max(r, 1e-9) for v, r in zip(values, reference)])
            share = f"{ratio_mean:.0%} [{ratio_low:.0%}, {ratio_high:.0%}]"
        print(f"{key:<18}{mean:>8.3f}  [{low:.3f}, {high:.3f}]  {share}")
        table.append((key, mean, low, high))
    plot(table, out / "sim2real.png", f"{real.name}: K = {len(splits[0]['user_ids'])} photos, {len(splits)} splits")
    print(f"plot: {out / 'sim2real.png'}")


def plot(table: list[tuple[str, float, float, float]], path: Path, title: str) -> None:
    """Bars of mean mAP50 per arm with their 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [row[0] for row in table]
    means = np.array([row[1] for row in table])
    errors = np.array([[row[1] - row[2] for row in table], [row[3] - row[1] for row in table]])
    colours = ["0.55" if name in ("real_k", "all_real") else ("C1" if name.endswith("+real_k") else "C0")
               for name in names]
    figure, axes = plt.subplots(figsize=(1.0 + 0.55 * len(names), 3.6), dpi=110)
    axes.bar(range(len(names)), means, yerr=errors, color=colours, capsize=3)
    axes.set_xticks(range(len(names)), names, rotation=40, ha="right", fontsize=8)
    axes.set_ylabel("box mAP50 on the test photos")
    axes.set_ylim(0, 1)
    axes.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


if __name__ == "__main__":
    main(sys.argv[1:])
