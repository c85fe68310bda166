"""Charts as SVG drawn on the server: readable without JavaScript (the pages' CSP allows no
script) and printable. Presentation attributes only (no ``style``: the CSP forbids inline
styles). Every chart has a title and a description for screen readers, and the page shows
the same figures as a table next to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ("#2f6f9f", "#8bb8d9", "#c0392b", "#e8b04b", "#6a9f5b")
WIDTH = 640
ROW = 26  # height of a horizontal bar row
FONT = 12


def _num(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _text(x: float, y: float, text: object, anchor: str = "start", size: int = FONT) -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'fill="#1d2733">{escape(str(text))}</text>')  # fmt: skip


def _short(label: object, limit: int = 34) -> str:
    text = str(label)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def svg(
    kind: str, title: str, labels: Sequence[object], series: Sequence[Sequence[object]],
    names: Sequence[str], *, maximum: float | None = None, description: str = "",
) -> str:  # fmt: skip
    """An SVG chart: ``stacked`` or ``bars`` (vertical, one column per label), ``hbars``
    (horizontal, one row per label) or ``pairs`` (two horizontal bars per label, e.g. before
    and after). ``series`` holds one list of values per name, aligned with ``labels``."""
    if not labels or not series:
        return ""
    if kind in ("hbars", "pairs"):
        body, height = _horizontal(labels, series, names, maximum)
    else:
        body, height = _vertical(labels, series, names, stacked=kind == "stacked")
    legend = ""
    if len(names) > 1:
        x = 8.0
        items = []
        for i, name in enumerate(names):
            items.append(f'<rect x="{x:.1f}" y="{height + 6}" width="12" height="12" '
                         f'fill="{PALETTE[i % len(PALETTE)]}"/>'
                         + _text(x + 16, height + 16, name))  # fmt: skip
            x += 24 + 7 * len(str(name))
        legend = "".join(items)
        height += 24
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet">'
        f"<title>{escape(title)}</title><desc>{escape(description or title)}</desc>"
        f"{body}{legend}</svg>"
    )


def _horizontal(
    labels: Sequence[object], series: Sequence[Sequence[object]], names: Sequence[str],
    maximum: float | None,
) -> tuple[str, int]:  # fmt: skip
    left, right = 250, 60
    span = WIDTH - left - right
    top = max((_num(v) for values in series for v in values), default=0.0)
    scale_max = maximum or top or 1.0
    per_row = ROW * len(series) if len(series) > 1 else ROW
    parts = []
    for row, label in enumerate(labels):
        y0 = 6 + row * (per_row + 6)
        parts.append(_text(left - 8, y0 + per_row / 2 + 4, _short(label), "end"))
        for s, values in enumerate(series):
            value = values[row] if row < len(values) else None
            width = max(span * _num(value) / scale_max, 0.0)
            y = y0 + s * ROW
            parts.append(f'<rect x="{left}" y="{y + 3}" width="{width:.1f}" height="{ROW - 8}" '
                         f'fill="{PALETTE[s % len(PALETTE)]}"/>')  # fmt: skip
            shown = "—" if value is None else value
            parts.append(_text(left + width + 4, y + ROW / 2 + 3, shown))
    height = 12 + len(labels) * (per_row + 6)
    return "".join(parts), height


def _vertical(
    labels: Sequence[object], series: Sequence[Sequence[object]], names: Sequence[str],
    stacked: bool,
) -> tuple[str, int]:  # fmt: skip
    left, bottom, top_pad, plot_h = 40, 40, 10, 200
    n = len(labels)
    span = WIDTH - left - 10
    column = span / max(n, 1)
    totals = [
        sum(_num(values[i]) for values in series) if stacked
        else max(_num(values[i]) for values in series)
        for i in range(n)
    ]  # fmt: skip
    top = max(totals, default=0.0) or 1.0
    parts = [f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{WIDTH - 10}" '
             f'y2="{top_pad + plot_h}" stroke="#9aa5b1"/>',
             _text(left - 6, top_pad + 10, f"{top:g}", "end"),
             _text(left - 6, top_pad + plot_h, "0", "end")]  # fmt: skip
    bar_w = max(column * 0.7 / (1 if stacked else len(series)), 1.0)
    step = max(1, n // 12)
    for i, label in enumerate(labels):
        x0 = left + i * column + column * 0.15
        base = float(top_pad + plot_h)
        for s, values in enumerate(series):
            h = plot_h * _num(values[i]) / top
            if stacked:
                base -= h
                x, y = x0, base
            else:
                x, y = x0 + s * bar_w, top_pad + plot_h - h
            if h > 0:
                parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                             f'height="{h:.1f}" fill="{PALETTE[s % len(PALETTE)]}"/>')  # fmt: skip
        if i % step == 0:
            parts.append(_text(x0 + bar_w / 2, top_pad + plot_h + 16, _short(label, 10),
                               "middle", 11))  # fmt: skip
        parts.append(_text(x0 + bar_w / 2, top_pad + plot_h - plot_h * totals[i] / top - 3,
                           f"{totals[i]:g}", "middle", 10))  # fmt: skip
    return "".join(parts), top_pad + plot_h + bottom - 10
