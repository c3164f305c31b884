"""Fitting a scene to real data: move its randomization ranges towards a real dataset's statistics.

The search (documented in the README, "Fit"):

1. Render one batch with the scene as it is and measure the gap (``synthgen.fit.gap``).
2. Moment matching (``synthgen.fit.moments``): count, camera distance, placement region
   and light levels moved analytically from that batch; further passes from each result's
   batch (``_MOMENT_PASSES`` in all, each kept only if it lowers the gap).
3. ``rounds`` of cross-entropy search (``synthgen.fit.search``) over every knob of
   ``parameters`` (``synthgen.fit.space``), each candidate one batch of ``batch`` images
   rendered with the same seed (common random numbers: candidates differ only in their
   ranges, not in luck).
4. The scene as it was and the ``finalists - 1`` best distinct candidates are measured
   again on ``eval_images`` new images (seed + 1) and one is chosen: with
   ``selection: transfer`` (the default) by how well detectors trained on those images
   alone find the objects of the real photos (``synthgen.fit.transfer``; a candidate must
   beat the original's score, else the original ranges are kept), with ``selection:
   statistics`` by the statistics gap. It is written as ``out/scene/<scene>_fit.yaml``.
   Before and after are measured on yet other images (seed + 2), for ``fit_report.json``
   and ``fit_report.html`` (transfer too, so the reported change is not the luck of the choice).

Batches are real generation runs of the composed generate config (the same renderer, labels
and augmentation a dataset gets), made by the ``render_batch`` function the caller passes
(``synthgen fit`` passes the generate pipeline; fit itself never imports a renderer),
written to a scratch folder in ``out`` and deleted after measuring.
"""

from __future__ import annotations

import copy
import dataclasses
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf
from tqdm import tqdm

from synthgen.core.errors import ConfigError, InputError
from synthgen.core.validation import check_choice, check_list, check_number
from synthgen.fit.gap import dataset_statistics, statistic_scales, statistics_gap
from synthgen.fit.moments import match_moments
from synthgen.fit.report import write_fit_report
from synthgen.fit.search import cross_entropy_search
from synthgen.fit.space import PASTE_TARGET, SearchSpace
from synthgen.fit.transfer import TransferProxy
from synthgen.io.dataset import LabeledDataset
from synthgen.io.export_files import prepare_export_folder
from synthgen.io.formats import read_dataset
from synthgen.io.store import open_store
from synthgen.paths import conf_dir

__all__ = ["BatchRenderer", "FitSettings", "fit_scene"]

# Writes the store a plain generate config (dict) describes into its ``out``.
BatchRenderer = Callable[[dict], object]

_MOMENT_PASSES = 3


class FitSettings:
    """The settings of ``synthgen fit`` (conf/fit.yaml documents each key).

    Raises:
        ConfigError: A value out of range (the message names the key).
    """

    def __init__(self, scene: dict, scene_name: str, real: str, out: str, parameters: list, overwrite: bool = False,
                 batch: int = 16, rounds: int = 3, population: int = 8, elite: int = 3, initial_std: float = 0.08,
                 image_weight: float = 0.5, eval_images: int = 64, finalists: int = 3, image_size: int = 320,
                 generate: list | None = None, selection: str = "transfer", transfer_steps: int = 150,
                 transfer_repeats: int = 2, transfer_image_size: int = 256, device: str = "auto",
                 seed: int = 0, progress: bool = True):
        if not isinstance(scene, Mapping) or "_target_" not in scene:
            raise ConfigError("scene: must be a scene config (scene=NAME)")
        if not isinstance(scene_name, str) or not scene_name or "/" in scene_name:
            raise ConfigError(f"scene_name: must be a scene config name, got {scene_name!r}")
        if not isinstance(overwrite, bool):
            raise ConfigError(f"overwrite: must be true or false, got {overwrite!r}")
        if not isinstance(parameters, Sequence) or isinstance(parameters, str) or not parameters:
            raise ConfigError(f"parameters: must list what to fit, got {parameters!r}")
        self.scene, self.scene_name, self.real, self.out = dict(scene), scene_name, str(real), str(out)
        self.parameters, self.overwrite = list(parameters), overwrite
        self.generate = check_list("generate", generate, example="['augment=sensor']")
        self.batch = check_number("batch", batch, minimum=2, integer=True)
        self.rounds = check_number("rounds", rounds, minimum=0, integer=True)
        self.population = check_number("population", population, minimum=2, integer=True)
        self.elite = check_number("elite", elite, minimum=1, maximum=population, integer=True)
        self.initial_std = check_number("initial_std", initial_std, minimum=0.0, maximum=1.0)
        self.image_weight = check_number("image_weight", image_weight, minimum=0.0)
        self.eval_images = check_number("eval_images", eval_images, minimum=2, integer=True)
        self.finalists = check_number("finalists", finalists, minimum=1, integer=True)
        self.image_size = check_number("image_size", image_size, minimum=32, maximum=4096, integer=True)
        self.seed = check_number("seed", seed, minimum=0, integer=True)
        self.progress = bool(progress)
        self.selection = check_choice("selection", selection, ("transfer", "statistics"))
        self.transfer = TransferProxy(
            steps=check_number("transfer_steps", transfer_steps, minimum=1, integer=True),
            image_size=check_number("transfer_image_size", transfer_image_size, minimum=64, maximum=2048, integer=True),
            repeats=check_number("transfer_repeats", transfer_repeats, minimum=1, maximum=20, integer=True),
            device=check_choice("device", device, ("auto", "cpu", "cuda")), seed=self.seed)

    def transfer_proxy(self) -> TransferProxy | None:
        """The transfer proxy with its device resolved, or None for ``selection: statistics``."""
        if self.selection != "transfer":
            return None
        from synthgen.validation.features import torch_device

        return dataclasses.replace(self.transfer, device=torch_device(self.transfer.device, "device"))


def _generate_config(settings: FitSettings) -> dict:
    """conf/generate.yaml composed with scene=<scene_name> and the ``generate`` overrides (plain dict),
    its scene replaced by fit's own (which carries the scene overrides given to fit, required
    values included: the composed default may still hold ``???``)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException

    overrides = [f"scene={settings.scene_name}", *settings.generate]
    try:
        if GlobalHydra.instance().is_initialized():  # inside the CLI: its search path (with --config-dir)
            cfg = compose("generate", overrides)
        else:
            with initialize_config_dir(str(conf_dir()), version_base="1.3"):
                cfg = compose("generate", overrides)
    except HydraException as error:
        raise ConfigError(f"generate: {overrides}: {error}") from error
    OmegaConf.update(cfg, "scene", settings.scene, merge=False)
    return OmegaConf.to_container(cfg, resolve=True)


def _shared_only(dataset: LabeledDataset, names: set[str]) -> LabeledDataset:
    """The dataset with only the objects of the categories named (so counts compare)."""
    keep = {c.id for c in dataset.categories if c.name in names}
    images = [dataclasses.replace(image, objects=[o for o in image.objects if o.category_id in keep])
              for image in dataset.images]
    return LabeledDataset(dataset.name, tuple(c for c in dataset.categories if c.id in keep), images)


def _category_names(scene: Mapping, generator: Mapping | None) -> set[str]:
    """The categories a batch labels: the scene's, or the pasted dataset's when nothing is rendered."""
    if generator and generator.get("_target_") == PASTE_TARGET and not generator.get("render_objects"):
        source = read_dataset(Path(str(generator.get("dataset"))).expanduser())
        return {c.name for c in source.categories if c.kind == "object"}
    return {c.get("name") for c in scene.get("categories") or [] if isinstance(c, Mapping)}


def _configs(scene: dict, generator: dict | None, space: SearchSpace, values: dict) -> tuple[dict, dict | None]:
    """The scene and generator nodes with ``values`` set."""
    changes = space.changes(values, "generator")
    return _merged(scene, space.changes(values)), (_merged(generator, changes) if changes else generator)


def _check_real(real: LabeledDataset, scene_names: set[str]) -> set[str]:
    if not any(image.objects for image in real.images):
        raise InputError(f"real={real.name}: has no labeled objects; fit compares object statistics, so give a "
                         "labeled real dataset")
    shared = scene_names & {c.name for c in real.categories}
    if not shared:
        raise InputError(f"real={real.name}: shares no category with the scene ({sorted(c.name for c in real.categories)}"
                         f" vs {sorted(n for n in scene_names if n)}); rename the real categories (synthgen mix "
                         "category_map) or choose the matching scene")
    return shared


def _batch_resolution(real: LabeledDataset, longer_side: int) -> tuple[int, int]:
    """The most common real image size, scaled to ``longer_side`` (even numbers)."""
    (width, height), _ = Counter((image.width, image.height) for image in real.images).most_common(1)[0]
    scale = longer_side / max(width, height)
    return max(2, 2 * round(width * scale / 2)), max(2, 2 * round(height * scale / 2))


def _config_diff(base, changed):
    """The leaves of ``changed`` that differ from ``base`` (lists compare whole), as a nested dict."""
    if not isinstance(base, Mapping) or not isinstance(changed, Mapping):
        return None if base == changed else changed
    diff = {}
    for key, value in changed.items():
        sub = _config_diff(base.get(key), value) if key in base else value
        if sub is not None and sub != {}:
            diff[key] = sub
    return diff


def _merged(scene: dict, changes: dict) -> dict:
    return OmegaConf.to_container(OmegaConf.merge(OmegaConf.create(scene), OmegaConf.create(changes)))


class _Batches:
    """Renders batches of a scene with the composed generate config and measures them."""

    def __init__(self, generate_config: dict, scratch: Path, resolution: tuple[int, int], shared: set[str],
                 bar: tqdm, render_batch: BatchRenderer):
        self.config, self.scratch, self.shared, self.bar = generate_config, scratch, shared, bar
        self.render_batch = render_batch
        self.config["render"] = {**self.config["render"], "width": resolution[0], "height": resolution[1]}
        self.images = 0

    def statistics(self, scene: dict, generator: dict | None, n: int, seed: int, real: LabeledDataset | None = None,
                   transfer: TransferProxy | None = None) -> tuple[dict[str, np.ndarray], dict | None]:
        """The batch's statistics, and its transfer score on ``real`` when a proxy is given."""
        folder = Path(tempfile.mkdtemp(prefix="batch-", dir=self.scratch))
        config = {**copy.deepcopy(self.config), "scene": scene, "generator": generator, "n": n, "seed": seed,
                  "out": str(folder / "store"), "export": None, "progress": False, "resume": False, "overwrite": False,
                  "shard": 0, "num_shards": 1}
        try:
            self.render_batch(config)
            store = _shared_only(open_store(folder / "store"), self.shared)
            stats = dataset_statistics(store)
            scored = None if transfer is None else transfer.score(store, real)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        self.images += n
        self.bar.update(1)
        return stats, scored


def fit_scene(settings: FitSettings, render_batch: BatchRenderer) -> Path:
    """Fit ``settings.scene`` to ``settings.real`` (conf/fit.yaml); returns the output folder.

    Args:
        settings: What to fit and how.
        render_batch: Generates the dataset a plain generate config describes (into its ``out``).

    Raises:
        ConfigError: A bad setting or override (named).
        InputError: The real set has no objects or no category in common with the scene,
            or ``out`` is not usable. Nothing is written before these checks pass.
    """
    real_path = Path(settings.real).expanduser()
    real = read_dataset(real_path, name=real_path.name)
    base = _generate_config(settings)
    shared = _check_real(real, _category_names(settings.scene, base.get("generator")))
    real = _shared_only(real, shared)
    generator = base.get("generator") or None
    space = SearchSpace(settings.scene, settings.parameters, generator)
    if not space.size:
        raise ConfigError(f"parameters: none of {settings.parameters} applies to scene {settings.scene_name} "
                          f"({space.skipped})")
    resolution = _batch_resolution(real, settings.image_size)
    real_stats = dataset_statistics(real)  # reads every real image: its errors come before out is touched
    scales = statistic_scales(real_stats)
    transfer = settings.transfer_proxy()  # a missing torch or CUDA fails before out is touched
    out = prepare_export_folder(settings.out, settings.overwrite)
    evaluations = 1 + _MOMENT_PASSES + settings.rounds * settings.population + settings.finalists + 2
    with tempfile.TemporaryDirectory(prefix=".fit-", dir=out) as scratch, \
            tqdm(total=evaluations, desc="fit", unit="batch", disable=not settings.progress) as bar:
        batches = _Batches(base, Path(scratch), resolution, shared, bar, render_batch)

        def measure(values: dict, n: int, seed: int, scored: bool = False) -> tuple[dict, dict]:
            stats, transfer_score = batches.statistics(*_configs(settings.scene, generator, space, values), n, seed,
                                                       real, transfer if scored else None)
            gap = statistics_gap(stats, real_stats, scales, settings.image_weight)
            return stats, gap if transfer_score is None else {**gap, "transfer": transfer_score}

        original = space.decode(space.encode(space.current()))
        original_stats, original_gap = measure(original, settings.batch, settings.seed)
        start, start_stats, start_gap = original, original_stats, original_gap
        for _ in range(_MOMENT_PASSES):  # each pass from the last: the relations hold better close by
            matched = space.decode(space.encode(match_moments(start, start_stats, real_stats)))
            matched_stats, matched_gap = measure(matched, settings.batch, settings.seed)
            if matched_gap["objective"] > start_gap["objective"]:
                break
            start, start_stats, start_gap = matched, matched_stats, matched_gap

        def score(candidates):
            return [measure(space.decode(c), settings.batch, settings.seed)[1]["objective"] for c in candidates]

        search = cross_entropy_search(score, space.encode(start), start_gap["objective"],
                                      np.random.default_rng(settings.seed), settings.rounds, settings.population,
                                      settings.elite, settings.initial_std)
        # Finalists: the scene as it was and the best distinct candidates of the search, measured again
        # on new images (seed + 1) to choose; before/after are then measured on others (seed + 2),
        # so the reported fall is not the luck of the choice.
        finalists = _finalists(space, original, start, start_gap["objective"], search, settings.finalists)
        scored = transfer is not None
        selection = [measure(values, settings.eval_images, settings.seed + 1, scored)[1] for values in finalists]
        chosen = finalists[_choice(selection, scored)]
        before_stats, before = measure(original, settings.eval_images, settings.seed + 2, scored)
        after_stats, after = ((before_stats, before) if chosen == original
                              else measure(chosen, settings.eval_images, settings.seed + 2, scored))
        rendered = batches.images

    fitted = chosen != original
    fitted_scene, fitted_generator = _configs(settings.scene, generator, space, chosen)
    changes = _config_diff(settings.scene, fitted_scene) or {}
    fitted_file = _write_fitted(out, "scene", settings.scene_name, fitted_scene, changes, real.name, fitted)
    generator_file = None
    if space.changes(chosen, "generator") or space.changes(original, "generator"):
        generator_file = _write_fitted(out, "generator", _generator_name(settings), fitted_generator,
                                       _config_diff(generator, fitted_generator) or {}, real.name, fitted)
    report = {
        "scene": settings.scene_name, "real": str(real_path), "real_images": len(real.images),
        "categories": sorted(shared), "resolution": list(resolution), "fitted_scene": str(fitted_file),
        **({"fitted_generator": str(generator_file)} if generator_file is not None else {}),
        "chosen": "fitted" if fitted else "original (no candidate beat it on new images)",
        "selection": settings.selection,
        **({"transfer": {"steps": transfer.steps, "image_size": transfer.image_size, "repeats": transfer.repeats,
                         "before": before["transfer"], "after": after["transfer"]}} if transfer is not None else {}),
        "parameters": {name: {"before": original[name], "after": chosen[name]} for name in space.names()},
        "skipped_parameters": space.skipped,
        "search": {"batch": settings.batch, "rounds": settings.rounds, "population": settings.population,
                   "elite": settings.elite, "initial_std": settings.initial_std, "image_weight": settings.image_weight,
                   "seed": settings.seed, "start": {"original": original_gap, "moment_matched": start_gap},
                   "moment_matched": start, "round_scores": [r["scores"] for r in search.rounds],
                   "finalists": [{"values": v, "objective": g["objective"], **({"transfer": g["transfer"]}
                                                                              if "transfer" in g else {})}
                                 for v, g in zip(finalists, selection)],
                   "best_search_objective": search.best_score, "images_rendered": rendered},
        "eval_images": settings.eval_images, "eval_seed": settings.seed + 2,
        "before": before, "after": after,
        "reduction": _reductions(before, after),
    }
    write_fit_report(out, report, {"real": real_stats, "before": before_stats, "after": after_stats})
    return out


def _choice(selection: list[dict], by_transfer: bool) -> int:
    """Position of the chosen finalist (0 is the original scene): the best transfer score, kept
    only if it beats the original's (so a fit never chooses a scene that transferred worse on
    these images), or the lowest statistics gap."""
    if not by_transfer:
        return int(np.argmin([gap["objective"] for gap in selection]))
    scores = [gap["transfer"]["map50"] for gap in selection]
    best = int(np.argmax(scores))
    return best if scores[best] > scores[0] else 0


def _finalists(space: SearchSpace, original: dict, matched: dict, matched_score: float, search, count: int) -> list:
    """The original values and the ``count - 1`` best distinct others the search scored."""
    scored = [(matched_score, matched)] + [(score, space.decode(np.asarray(candidate)))
                                           for r in search.rounds for candidate, score in zip(r["candidates"], r["scores"])]
    finalists = [original]
    for _, values in sorted(scored, key=lambda pair: pair[0]):
        if len(finalists) >= count:
            break
        if values not in finalists:
            finalists.append(values)
    return finalists


def _reductions(before: dict, after: dict) -> dict:
    """Relative falls (0.5 = halved) of the summed distances, before -> after."""
    result = {}
    for key in ("label_wasserstein_sum", "label_normalised_sum", "image_normalised_sum", "objective"):
        b, a = before[key], after[key]
        result[key] = None if b is None or a is None or b == 0 else float(1 - a / b)
    return result


def _write_fitted(out: Path, group: str, name: str, node: dict, changes: dict, real_name: str, fitted: bool) -> Path:
    """``out/<group>/<name>_fit.yaml``: the whole config node as fit rendered it (its overrides
    included), with the fitted values. Self-contained, so ``--config-dir out`` loads it whether
    the node was shipped or came from the user's own ``--config-dir``; the changes head the file."""
    folder = out / group
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}_fit.yaml"
    changed = [f"#   {key}: {value}" for key, value in _flat(changes)] or ["#   (none)"]
    header = (f"# Written by synthgen fit: {group} {name} with its ranges fitted to {real_name}\n"
              f"# ({'fitted values' if fitted else 'the original ranges: the fit did not improve on new images'}; "
              "see fit_report.html). Use it with\n"
              f"#   synthgen generate --config-dir {out} {group}={name}_fit\n"
              f"# Changed from {name} as given to fit:\n" + "\n".join(changed) + "\n")
    path.write_text(header + OmegaConf.to_yaml(OmegaConf.create(node)))
    return path


def _generator_name(settings: FitSettings) -> str:
    """The generator config chosen by ``generate=[generator=NAME, ...]`` (``paste`` by default)."""
    names = [item.split("=", 1)[1] for item in settings.generate if item.startswith("generator=")]
    return names[-1] if names else "paste"


def _flat(tree: dict, prefix: str = "") -> list[tuple[str, object]]:
    """Dotted keys and leaf values of a nested dict."""
    items = []
    for key, value in tree.items():
        items += _flat(value, f"{prefix}{key}.") if isinstance(value, dict) and value else [(f"{prefix}{key}", value)]
    return items
