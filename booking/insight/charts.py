"""Small server-rendered SVG bar charts (no scripts, readable without CSS)."""

from __future__ import annotations

from markupsafe import Markup, escape


def bar_chart(
    labels: list[str],
    values: list[float],
    *,
    title: str,
    max_value: float | None = None,
    unit: str = "",
    width: int = 640,
    height: int = 200,
) -> Markup:
    """A bar chart as inline SVG, with a <title> per bar for screen readers."""
    count = max(len(values), 1)
    top = max_value if max_value else max(values or [0]) or 1
    pad_left, pad_bottom, pad_top = 8, 28, 16
    plot_h = height - pad_bottom - pad_top
    slot = (width - pad_left * 2) / count
    bar_w = max(slot * 0.7, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{pad_left}" y1="{height - pad_bottom}" x2="{width - pad_left}" '
        f'y2="{height - pad_bottom}" stroke="#888" stroke-width="1"/>',
    ]
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = 0 if top <= 0 else plot_h * min(value, top) / top
        x = pad_left + index * slot + (slot - bar_w) / 2
        y = height - pad_bottom - h
        shown = f"{value:g}{unit}"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
            f'fill="#2f6f4f"><title>{escape(label)}: {escape(shown)}</title></rect>'
        )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{height - pad_bottom + 16}" '
            f'font-size="11" text-anchor="middle">{escape(label)}</text>'
        )
        if value:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" font-size="10" '
                f'text-anchor="middle">{escape(shown)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
