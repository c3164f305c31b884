"""``fit_report.json`` and ``fit_report.html``: what ``synthgen fit`` changed and how far it got."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from synthgen.io.files import write_bytes_atomic
from synthgen.validation.html_page import figure_html, figure_png, html_page, html_table

__all__ = ["write_fit_report"]


def _number(value) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _histogram(key: str, stats: Mapping[str, Mapping[str, np.ndarray]]) -> str:
    def draw(figure):
        axes = figure.add_subplot(111)
        values = np.concatenate([stats[side][key] for side in stats])
        bins = np.linspace(values.min(), values.max() + 1e-9, 20)
        for side, style in (("real", "k-"), ("before", "C0--"), ("after", "C1-")):
            if len(stats[side][key]):
                counts, edges = np.histogram(stats[side][key], bins=bins, density=True)
                axes.step(edges[:-1], counts, style, where="post", label=f"{side} (N={len(stats[side][key])})")
        axes.set_title(key)
        axes.legend(fontsize=7)
    return figure_html(key, figure_png(draw))


def _search_plot(rounds: list[list[float]], start: Mapping) -> str:
    def draw(figure):
        axes = figure.add_subplot(111)
        axes.scatter([0], [start["original"]["objective"]], marker="x", color="k", label="scene as it was")
        axes.scatter([0.5], [start["moment_matched"]["objective"]], marker="+", color="C2", s=60,
                     label="moment matched")
        for number, scores in enumerate(rounds, start=1):
            axes.scatter(np.full(len(scores), number), scores, color="C0", s=12)
        axes.set_xlabel("cross-entropy round")
        axes.set_ylabel("objective (search batch)")
        axes.legend(fontsize=7)
    return figure_html("search", figure_png(draw))


def write_fit_report(out: Path, report: dict, stats: Mapping[str, Mapping[str, np.ndarray]]) -> None:
    """Write ``out/fit_report.json`` (``report`` as is) and ``out/fit_report.html``.

    Args:
        out: The fit's output folder.
        report: The JSON-ready report ``synthgen.fit.scene_fit`` builds.
        stats: ``real``, ``before`` and ``after`` statistics (``dataset_statistics``) for the plots.
    """
    write_bytes_atomic(out / "fit_report.json", json.dumps(report, indent=1).encode())
    before, after, reduction = report["before"], report["after"], report["reduction"]
    parameters = html_table(["parameter", "before", "after"],
                            [[name, v["before"], v["after"]] for name, v in report["parameters"].items()])
    rows = []
    for key, entry in before["statistics"].items():
        later = after["statistics"][key]
        rows.append([key, _number(entry["mean_real"]), _number(entry["mean_synthetic"]), _number(later["mean_synthetic"]),
                     _number(entry["wasserstein"]), _number(later["wasserstein"])])
    statistics = html_table(["statistic", "real mean", "before: mean", "after: mean", "before: W", "after: W"], rows)
    sums = html_table(["sum", "before", "after", "fall"], [
        [key, _number(before[key]), _number(after[key]),
         "-" if reduction[key] is None else f"{100 * reduction[key]:.0f}%"]
        for key in ("label_wasserstein_sum", "label_normalised_sum", "image_normalised_sum", "objective")])
    skipped = "".join(f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in report["skipped_parameters"].items())
    search = report["search"]
    body = (
        f"<p>Scene <b>{html.escape(report['scene'])}</b> fitted to {html.escape(report['real'])} "
        f"({report['real_images']} images; categories {html.escape(', '.join(report['categories']))}). "
        f"Chosen: {html.escape(report['chosen'])}; written to {html.escape(report['fitted_scene'])}. "
        f"Before and after measured on {report['eval_images']} new images (seed {report['eval_seed']}) at "
        f"{report['resolution'][0]}x{report['resolution'][1]}; W = 1-D Wasserstein distance, normalised = divided "
        f"by the real standard deviation.</p>"
        + _transfer_html(report)
        + f"<h2>Distances</h2>{sums}{statistics}<h2>Parameters</h2>{parameters}"
        + (f"<p>Not fitted:</p><ul>{skipped}</ul>" if skipped else "")
        + f"<h2>Search</h2><p>{search['rounds']} rounds x {search['population']} candidates of {search['batch']} images "
          f"(same seed), elite {search['elite']}; {search['images_rendered']} images rendered in all.</p>"
        + _search_plot(search["round_scores"], search["start"])
        + "<h2>Distributions</h2>" + "".join(_histogram(key, stats) for key in before["statistics"])
    )
    write_bytes_atomic(out / "fit_report.html", html_page(f"synthgen fit: {report['scene']}", body).encode())


def _transfer_html(report: dict) -> str:
    """The transfer signal fit chose by (``selection: transfer``), before and after, and per finalist."""
    if "transfer" not in report:
        return "<p>Chosen by the statistics gap (<code>selection: statistics</code>).</p>"
    transfer = report["transfer"]
    finalists = html_table(["finalist", "transfer mAP50 (seed + 1)", "runs", "statistics objective"], [
        ["original" if i == 0 else f"candidate {i}", _number(f["transfer"]["map50"]),
         ", ".join(_number(r) for r in f["transfer"]["runs"]), _number(f["objective"])]
        for i, f in enumerate(report["search"]["finalists"])])
    return (f"<h2>Transfer</h2><p>Chosen by transfer: box mAP50 on the real photos of detectors trained on "
            f"{report['eval_images']} renders alone ({transfer['steps']} steps at {transfer['image_size']} px, "
            f"{transfer['repeats']} seeds averaged). Before {_number(transfer['before']['map50'])}, after "
            f"{_number(transfer['after']['map50'])} (new images, seed {report['eval_seed']}).</p>{finalists}")
