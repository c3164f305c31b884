"""Pieces of the self-contained HTML reports (validate, fit, prelabel, qa): plots and tables."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Sequence

__all__ = ["figure_html", "figure_png", "html_page", "html_table"]


def figure_png(draw: Callable) -> str:
    """A matplotlib figure (5 x 3.2 in, 100 dpi) drawn by ``draw(figure)``, as base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(5, 3.2), dpi=100)
    draw(figure)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def figure_html(title: str, png: str) -> str:
    """An inline ``<figure>`` of a base64 PNG."""
    return f'<figure><img src="data:image/png;base64,{png}" alt="{html.escape(title)}"></figure>'


def html_table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A ``<table>`` with a header row; cells are escaped text."""
    cells = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>" + cells + "</table>"


def html_page(title: str, body: str, heading: str | None = None) -> str:
    """A whole page with the reports' style: ``title`` in the tab, ``heading`` (default: the
    title) on top, then ``body`` (HTML)."""
    return ("<!doctype html><html><head><meta charset='utf-8'><title>" + html.escape(title) + "</title><style>"
            "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:4px 8px}"
            "figure{display:inline-block;margin:4px}figcaption{font-size:11px;max-width:160px}</style></head><body>"
            f"<h1>{html.escape(heading or title)}</h1>{body}</body></html>\n")
