"""Measure the gap between a synthetic and a real dataset and report it (``synthgen validate``).

Writes ``metrics.json`` (every number with its N, the extractor, its weights and the
preprocessing) and ``report.html`` (one self-contained page: findings, tables, plots,
and galleries of the synthetic images a classifier finds most synthetic and of the real
images no synthetic image comes close to). Image-distribution metrics need the
``validate`` extra (torch, torchvision); label statistics need nothing more.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from synthgen.core.errors import ConfigError, InputError
from synthgen.core.validation import check_number
from synthgen.io.dataset import LabeledDataset
from synthgen.io.export_files import EXPORT_MARKER, prepare_export_folder
from synthgen.io.files import write_bytes_atomic
from synthgen.io.formats import read_dataset
from synthgen.registry import instantiate
from synthgen.validation.distribution import (
    classifier_two_sample_test,
    frechet_distance,
    kid,
    mmd_rbf,
    precision_recall_density_coverage,
)
from synthgen.validation.html_page import figure_html, figure_png, html_page, html_table
from synthgen.validation.label_stats import label_gap, label_statistics
from synthgen.validation.tstr import TstrSettings, check_tstr_inputs, run_tstr, tstr_settings

__all__ = ["ValidateSettings", "validate_report"]

_SWEEP_KEY_FILE = ".synthgen-validate-key.json"


def _subset(dataset: LabeledDataset, limit: int, rng: np.random.Generator) -> list:
    images = dataset.images
    if len(images) > limit:
        images = [images[i] for i in sorted(rng.choice(len(images), limit, replace=False))]
    return images


def _check_inputs(synthetic: LabeledDataset, real: LabeledDataset) -> None:
    for name, dataset in (("synthetic", synthetic), ("real", real)):
        if len(dataset.images) < 2:
            raise InputError(f"{name}={dataset.name}: needs at least 2 images, has {len(dataset.images)}")
    shared = {c.name for c in synthetic.categories} & {c.name for c in real.categories}
    if not shared:
        raise InputError(
            f"synthetic and real share no category names ({sorted(c.name for c in synthetic.categories)} vs "
            f"{sorted(c.name for c in real.categories)}); rename with synthgen mix's category_map first"
        )


class ValidateSettings:
    """The settings of ``synthgen validate`` (conf/validate.yaml).

    Args:
        synthetic: A synthetic dataset (synthgen, or any readable format).
        real: The real test set: COCO, YOLO, VOC or Label Studio.
        out: An empty folder (``overwrite`` replaces an earlier report there).
        overwrite: Replace an earlier report in ``out``.
        features: Image-feature extractor node (``_target_``), or None for label statistics only.
        max_images: Images per side, drawn with ``seed``.
        kid_subsets: Subsets for KID's mean and standard deviation.
        permutations: Label shuffles for the classifier two-sample test's p-value.
        gallery: Images per gallery of the report.
        tstr: The train-on-synthetic-test-on-real block (see ``TstrSettings``).
        seed: Seed of every draw.
        progress: Progress bars on stderr.
    """

    def __init__(self, synthetic: str, real: str, out: str, overwrite: bool = False, features: dict | None = None,
                 max_images: int = 500, kid_subsets: int = 50, permutations: int = 50, gallery: int = 8,
                 tstr: dict | None = None, seed: int = 0, progress: bool = True):
        self.synthetic, self.real, self.out = str(synthetic), str(real), out
        if not isinstance(overwrite, bool):
            raise ConfigError(f"overwrite: must be true or false, got {overwrite!r}")
        self.overwrite, self.features, self.progress = overwrite, features, bool(progress)
        self.max_images = check_number("max_images", max_images, minimum=2, integer=True)
        self.kid_subsets = check_number("kid_subsets", kid_subsets, minimum=1, integer=True)
        self.permutations = check_number("permutations", permutations, minimum=0, integer=True)
        self.seed = check_number("seed", seed, minimum=0, integer=True)
        self.gallery = check_number("gallery", gallery, minimum=0, integer=True)
        self.tstr = tstr_settings(tstr)


def _image_gap(synthetic_features, real_features, settings: ValidateSettings, rng) -> dict:
    return {
        "kid": kid(synthetic_features, real_features, rng, subsets=settings.kid_subsets),
        "frechet_distance": frechet_distance(synthetic_features, real_features),
        "mmd_rbf": mmd_rbf(synthetic_features, real_features),
        "precision_recall_density_coverage": precision_recall_density_coverage(synthetic_features, real_features),
        "classifier_two_sample": classifier_two_sample_test(synthetic_features, real_features, rng,
                                                            permutations=settings.permutations),
    }


def _plots(synthetic: LabeledDataset, real: LabeledDataset, gap: dict) -> list[tuple[str, str]]:
    s, r = label_statistics(synthetic), label_statistics(real)
    plots = []
    for key, title in (("size", "relative box size sqrt(box/image area)"), ("objects_per_image", "objects per image"),
                       ("aspect", "box aspect log2(w/h)")):
        def draw(figure, key=key, title=title):
            axes = figure.add_subplot(111)
            values = np.concatenate([s[key], r[key]]) if len(s[key]) + len(r[key]) else np.zeros(1)
            bins = np.linspace(values.min(), values.max() + 1e-9, 20)
            axes.hist(s[key], bins=bins, alpha=0.6, density=True, label=f"synthetic (N={len(s[key])})")
            axes.hist(r[key], bins=bins, alpha=0.6, density=True, label=f"real (N={len(r[key])})")
            axes.set_title(title)
            axes.legend()
        plots.append((title, figure_png(draw)))

    def heatmaps(figure):
        for position, side in enumerate(("synthetic", "real")):
            axes = figure.add_subplot(1, 2, position + 1)
            axes.imshow(np.asarray(gap["center_heatmap"][side]), extent=(0, 1, 1, 0), cmap="viridis")
            axes.set_title(f"box centres: {side}")
    plots.append(("box centre heatmaps", figure_png(heatmaps)))

    def classes(figure):
        axes = figure.add_subplot(111)
        frequencies = gap["class_frequencies"]["frequencies"]
        names = list(frequencies)
        x = np.arange(len(names))
        axes.bar(x - 0.2, [frequencies[n]["synthetic"] for n in names], 0.4, label="synthetic")
        axes.bar(x + 0.2, [frequencies[n]["real"] for n in names], 0.4, label="real")
        axes.set_xticks(x, names, rotation=30)
        axes.set_title(f"class frequencies (JS distance {gap['class_frequencies']['jensen_shannon']:.3f})")
        axes.legend()
    plots.append(("class frequencies", figure_png(classes)))
    return plots


def _tstr_plot(runs: list[dict]) -> tuple[str, str]:
    def draw(figure):
        axes = figure.add_subplot(111)
        mixes = [run for run in runs if run["kind"] == "synthetic_plus_real"]
        for metric, style in (("map50", "o-"), ("map", "s--")):
            if mixes:
                x = [run["real_fraction"] for run in mixes]
                y = [run["bbox"][metric] for run in mixes]
                errors = None
                if all("ci95" in run["bbox"] for run in mixes):
                    errors = np.array([[y_ - run["bbox"]["ci95"][metric][0], run["bbox"]["ci95"][metric][1] - y_]
                                       for y_, run in zip(y, mixes)]).T.clip(0)
                axes.errorbar(x, y, yerr=errors, fmt=style, capsize=3, label=f"synthetic + real: {metric}")
            for run in runs:
                if run["kind"] == "real_only":
                    axes.axhline(run["bbox"][metric], linestyle=":", color="gray" if metric == "map" else "black",
                                 label=f"real only ({run['train_images']['real']} images): {metric}")
        axes.set_xlabel("fraction of the real training images added to the synthetic ones")
        axes.set_ylabel("box AP on the real test split")
        axes.set_xlim(-0.05, 1.05)
        axes.set_ylim(0, 1)
        axes.set_title("train on synthetic (+ real), test on real")
        axes.legend(fontsize=7)
    return "TSTR curve", figure_png(draw)


def _tstr_findings(runs: list[dict]) -> list[str]:
    """Plain sentences: how synthetic training compares with training on the real images."""
    real = next((run for run in runs if run["kind"] == "real_only"), None)
    sentences = []
    for run in runs:
        if run["kind"] == "real_only":
            continue
        score, line = run["bbox"]["map50"], f"trained on {run['name']}, the detector reaches box mAP50 {run['bbox']['map50']:.2f}"
        if real is not None and real["bbox"]["map50"] > 0:
            line += (f", {score / real['bbox']['map50']:.0%} of training on the {real['train_images']['real']} real "
                     f"training images ({real['bbox']['map50']:.2f})")
        sentences.append(line + " on the real test split")
    return sentences


def _tstr_table(runs: list[dict]) -> str:
    def cell(scores: dict, metric: str) -> str:
        text = f"{scores[metric]:.3f}"
        if "ci95" in scores:
            low, high = scores["ci95"][metric]
            text += f" [{low:.3f}, {high:.3f}]"
        return text

    rows = []
    for run in runs:
        segm = run.get("segm")
        per_class = ", ".join(f"{name} {ap:.2f}" if ap is not None else f"{name} -"
                              for name, ap in run["bbox"]["per_class"].items())
        rows.append([run["name"], f"{run['train_images']['synthetic']} / {run['train_images']['real']}",
                     cell(run["bbox"], "map50"), cell(run["bbox"], "map"),
                     cell(segm, "map") if segm else "-", per_class])
    head = ["training set", "train images synthetic / real", "box mAP50 [95% CI]", "box mAP [95% CI]",
            "mask mAP", "box AP per class"]
    first = runs[0]
    note = (f"{first['model']}; scored with pycocotools on {first['bbox']['n_images']} real test images "
            f"({first['bbox']['n_objects']} objects), the same for every row; intervals: percentile bootstrap over "
            f"test images ({first['bbox']['bootstrap']} resamples).")
    return f"<h2>Train on synthetic, test on real</h2>{html_table(head, rows)}<p>{html.escape(note)}</p>"


def _thumbnail_html(path: Path, caption: str) -> str:
    image = cv2.imread(str(path))
    if image is None:
        return ""
    scale = 160 / max(image.shape[:2])
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    data = base64.b64encode(cv2.imencode(".jpg", image)[1].tobytes()).decode()
    return (f'<figure><img src="data:image/jpeg;base64,{data}" alt="{html.escape(path.name)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _report(metrics: dict, plots, galleries) -> str:
    rows = []
    image_gap = metrics.get("image_gap")
    if image_gap:
        k, c = image_gap["kid"], image_gap["classifier_two_sample"]
        prdc = image_gap["precision_recall_density_coverage"]
        extractor = metrics["extractor"]["name"]
        rows += [
            (f"KID-{extractor}", f"{k['mean']:.4f} ± {k['std']:.4f}", f"{k['n_synthetic']} / {k['n_real']}"),
            (f"FD-{extractor}", f"{image_gap['frechet_distance']['value']:.2f}",
             f"{image_gap['frechet_distance']['n_synthetic']} / {image_gap['frechet_distance']['n_real']}"),
            ("MMD² (RBF, median bandwidth)", f"{image_gap['mmd_rbf']['value']:.4f}", ""),
            ("precision / recall", f"{prdc['precision']:.2f} / {prdc['recall']:.2f}", f"k={prdc['k']}"),
            ("density / coverage", f"{prdc['density']:.2f} / {prdc['coverage']:.2f}", ""),
            ("classifier AUC (0.5 = indistinguishable)", f"{c['auc']:.3f} (p={c['p_value']:.3g})",
             f"{c['folds']}-fold, {c['permutations']} permutations"),
        ]
    gap = metrics["label_gap"]
    for key in ("objects_per_image", "size", "aspect", "mask_fill", "occlusion"):
        entry = gap[key]
        if entry.get("available"):
            rows.append((f"{key}: mean synthetic vs real", f"{entry['mean_synthetic']:.3f} vs {entry['mean_real']:.3f}",
                         f"W={entry['wasserstein']:.3f}, KS={entry['ks_statistic']:.2f}, N={entry['n_synthetic']}/"
                         f"{entry['n_real']}"))
    table = "".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td><td>{html.escape(c)}</td></tr>"
                    for a, b, c in rows)
    findings = "".join(f"<li>{html.escape(f)}</li>" for f in _tstr_findings(metrics.get("tstr") or []) + gap["findings"])
    findings = findings or "<li>no large label differences</li>"
    figures = "".join(figure_html(title, png) for title, png in plots)
    gallery_html = "".join(f"<h2>{html.escape(title)}</h2>{''.join(items)}" for title, items in galleries if items)
    body = (
        f"<p>{metrics['synthetic']['images']} synthetic and {metrics['real']['images']} real images."
        + (f" Features: {html.escape(metrics['extractor']['name'])} ({html.escape(metrics['extractor']['preprocessing'])})."
           if image_gap else "")
        + f"</p><h2>Findings</h2><ul>{findings}</ul><h2>Metrics</h2><table>{table}</table>"
        + (_tstr_table(metrics["tstr"]) if metrics.get("tstr") else "")
        + f"<h2>Plots</h2>{figures}{gallery_html}"
    )
    return html_page("synthgen validation report", body,
                     heading=f"Synthetic vs real: {metrics['synthetic']['name']} vs {metrics['real']['name']}")


def _sweep_key(settings: ValidateSettings, tstr: TstrSettings) -> dict:
    """What the jobs of one sweep share: everything but which TSTR points each one trains."""
    return {"synthetic": str(Path(str(settings.synthetic)).resolve()), "real": str(Path(str(settings.real)).resolve()),
            "seed": settings.seed, "max_images": settings.max_images, "tstr": tstr.comparison_key()}


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _output_folder(settings: ValidateSettings, tstr: TstrSettings) -> Path:
    """The output folder; an earlier run of the same sweep there is kept so its TSTR points add up."""
    out = Path(str(settings.out)).expanduser()
    if settings.overwrite and _in_multirun():
        raise ConfigError("overwrite=true in a multirun: the jobs would erase each other's results; "
                          "remove the old folder (or choose a new out=) and sweep without overwrite")
    key = _sweep_key(settings, tstr)
    try:
        earlier = json.loads((out / _SWEEP_KEY_FILE).read_text())
    except (OSError, ValueError):
        earlier = None
    if earlier == key and (out / EXPORT_MARKER).is_file() and not settings.overwrite:
        return out  # an earlier job of the same sweep (same inputs and TSTR settings): add to its points
    out = prepare_export_folder(out, bool(settings.overwrite))
    _write_json(out / _SWEEP_KEY_FILE, key)
    return out


def _write_json(path: Path, value: dict) -> None:
    write_bytes_atomic(path, json.dumps(value, indent=1).encode())  # NaN allowed: e.g. a KS test of empty sets


def _slug(run: dict) -> str:
    return "real_only" if run["real_fraction"] is None else f"real_fraction_{run['real_fraction']:.4f}"


def _tstr_runs(out: Path) -> list[dict]:
    """Every TSTR result in ``out/tstr``: synthetic + real points by fraction, then real only."""
    runs = [json.loads(path.read_text()) for path in sorted((out / "tstr").glob("*.json"))]
    return sorted(runs, key=lambda run: (run["real_fraction"] is None, run["real_fraction"] or 0.0))


def validate_report(settings: ValidateSettings) -> Path:
    """Measure the gap and write ``metrics.json`` + ``report.html``; returns the output folder.

    Args:
        settings: Validated settings (``ValidateSettings``):
            ``synthetic``, ``real``, ``out``, ``overwrite``, ``features`` (a config node or
            None), ``max_images``, ``kid_subsets``, ``permutations``, ``gallery``, ``tstr``
            (``TstrSettings``), ``seed``, ``progress``.
    """
    synthetic = read_dataset(str(settings.synthetic), name=Path(str(settings.synthetic)).name)
    real = read_dataset(str(settings.real), name=Path(str(settings.real)).name)
    _check_inputs(synthetic, real)
    extractor = instantiate(settings.features, "features") if settings.features else None
    tstr = settings.tstr
    if tstr.enabled:
        check_tstr_inputs(synthetic, real, tstr)
    out = _output_folder(settings, tstr)
    rng = np.random.default_rng(settings.seed)
    synthetic_images = _subset(synthetic, settings.max_images, rng)
    real_images = _subset(real, settings.max_images, rng)
    metrics = {
        "synthetic": {"name": synthetic.name, "images": len(synthetic_images)},
        "real": {"name": real.name, "images": len(real_images)},
        "label_gap": label_gap(LabeledDataset(synthetic.name, synthetic.categories, synthetic_images),
                               LabeledDataset(real.name, real.categories, real_images)),
        "seed": settings.seed,
    }
    galleries = []
    if extractor is not None:
        with tqdm(total=2, desc="features", unit="set", disable=not settings.progress) as bar:
            synthetic_features = extractor([image.path for image in synthetic_images])
            bar.update(1)
            real_features = extractor([image.path for image in real_images])
            bar.update(1)
        metrics["extractor"] = {"name": extractor.name, "weights": extractor.weights,
                                "preprocessing": extractor.preprocessing, "dimensions": int(synthetic_features.shape[1])}
        metrics["image_gap"] = _image_gap(synthetic_features, real_features, settings, rng)
        scores = metrics["image_gap"]["classifier_two_sample"]["synthetic_scores"]
        uncovered = metrics["image_gap"]["precision_recall_density_coverage"]["real_uncovered_ratio"]
        count = settings.gallery
        galleries = [
            ("synthetic images that look most synthetic", [
                _thumbnail_html(synthetic_images[i].path, f"{synthetic_images[i].path.name}: score {scores[i]:.2f}")
                for i in np.argsort(scores)[::-1][:count]]),
            ("real images least covered by synthetic ones", [
                _thumbnail_html(real_images[i].path, f"{real_images[i].path.name}: {uncovered[i]:.2f}x its k-NN radius")
                for i in np.argsort(uncovered)[::-1][:count]]),
        ]
    if tstr.enabled:
        (out / "tstr").mkdir(exist_ok=True)
        # Points already in the folder come from identical settings (_output_folder checked): keep them.
        done = [run["real_fraction"] for run in _tstr_runs(out)]
        for run in run_tstr(synthetic, real, tstr, progress=settings.progress, skip=done):
            _write_json(out / "tstr" / f"{_slug(run)}.json", run)
    metrics["tstr"] = _tstr_runs(out)
    if metrics["tstr"]:
        metrics["tstr_settings"] = tstr.comparison_key()
    _write_json(out / "metrics.json", metrics)
    plots = _plots(LabeledDataset(synthetic.name, synthetic.categories, synthetic_images),
                   LabeledDataset(real.name, real.categories, real_images), metrics["label_gap"])
    if metrics["tstr"]:
        plots.insert(0, _tstr_plot(metrics["tstr"]))
    # Atomic writes: jobs of one sweep may finish together, and none may leave a half-written file.
    write_bytes_atomic(out / "report.html", _report(metrics, plots, galleries).encode())
    return out
