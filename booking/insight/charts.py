"""Small server-rendered SVG bar charts (no scripts, readable without CSS).

Drawn 360 units wide, so a phone shows them at about their own size and the
11-unit text stays readable; the axes carry their titles and the unit, the
y axis three ticks, and the x axis as many labels as fit without overlap.
"""

from __future__ import annotations

import math

from markupsafe import Markup, escape

CHAR_W = 6.5  # average width of an 11-unit character


def _nice_top(value: float) -> float:
    if value <= 0:
        return 1
    step = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * step:
            return factor * step
    return 10 * step


def _fmt(value: float, decimal: str) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"
    return text.replace(".", decimal)


def bar_chart(
    labels: list[str],
    values: list[float],
    *,
    title: str,
    max_value: float | None = None,
    unit: str = "",
    x_title: str = "",
    y_title: str = "",
    decimal: str = ",",
    width: int = 360,
    height: int = 220,
) -> Markup:
    """A bar chart as inline SVG, with a <title> per bar for screen readers."""
    count = max(len(values), 1)
    top = max_value if max_value else _nice_top(max(values or [0]))
    pad_left, pad_right, pad_top = 44, 6, 14
    pad_bottom = 40 if x_title else 24
    plot_h = height - pad_bottom - pad_top
    plot_w = width - pad_left - pad_right
    base_y = height - pad_bottom
    slot = plot_w / count
    bar_w = max(slot * 0.7, 1)
    widest = max((len(label) for label in labels), default=1) * CHAR_W + 4
    every = max(1, math.ceil(widest / slot))
    suffix = f" {unit}" if unit else ""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in (0, top / 2, top):
        y = base_y - plot_h * tick / top
        parts.append(
            f'<line x1="{pad_left}" y1="{y:.1f}" x2="{width - pad_right}" '
            f'y2="{y:.1f}" stroke="{"#888" if tick == 0 else "#ddd"}" '
            'stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{pad_left - 4}" y="{y + 4:.1f}" font-size="11" '
            f'text-anchor="end">{escape(_fmt(tick, decimal) + suffix)}</text>'
        )
    if y_title:
        middle = f"{pad_top + plot_h / 2:.1f}"
        parts.append(
            f'<text x="10" y="{middle}" font-size="11" text-anchor="middle" '
            f'transform="rotate(-90 10 {middle})">{escape(y_title)}</text>'
        )
    if x_title:
        parts.append(
            f'<text x="{pad_left + plot_w / 2:.1f}" y="{height - 4}" font-size="11" '
            f'text-anchor="middle">{escape(x_title)}</text>'
        )
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = 0 if top <= 0 else plot_h * min(value, top) / top
        x = pad_left + index * slot + (slot - bar_w) / 2
        y = base_y - h
        shown = _fmt(value, decimal) + suffix
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
            f'fill="#2f6f4f"><title>{escape(label)}: {escape(shown)}</title></rect>'
        )
        if index % every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{base_y + 15}" '
                f'font-size="11" text-anchor="middle">{escape(label)}</text>'
            )
        if value and slot >= len(shown) * 6 + 2:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" font-size="10" '
                f'text-anchor="middle">{escape(shown)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
