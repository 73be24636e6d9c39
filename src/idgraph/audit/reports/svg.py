"""Small inline SVG bar charts (no JavaScript, no network, prints as vectors).

Every label is escaped; the result is :class:`markupsafe.Markup` so an autoescaping
template inserts it as markup.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

_FONT = "font-family='system-ui, sans-serif' font-size='12'"
_BAR = "#3b6ea5"


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def hbar(title: str, items: Sequence[tuple[str, int]], *, width: int = 540) -> Markup:
    """Horizontal bars, one row per (label, value), in the order given."""
    rows = list(items)[:20]
    label_w, row_h, top = 190, 20, 26
    height = top + row_h * max(len(rows), 1) + 8
    peak = max((v for _, v in rows), default=0) or 1
    span = width - label_w - 50
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(title)}'>",
        f"<text x='0' y='16' {_FONT} font-weight='bold'>{escape(title)}</text>",
    ]
    if not rows:
        parts.append(f"<text x='0' y='{top + 14}' {_FONT} fill='#666'>no data</text>")
    for i, (label, value) in enumerate(rows):
        y = top + i * row_h
        w = span * value / peak
        text = label if len(label) <= 28 else label[:27] + "…"
        parts += [
            f"<text x='{label_w - 6}' y='{y + 14}' {_FONT} text-anchor='end'>{escape(text)}</text>",
            f"<rect x='{label_w}' y='{y + 3}' width='{_num(w)}' height='{row_h - 6}' "
            f"fill='{_BAR}'/>",
            f"<text x='{_num(label_w + w + 4)}' y='{y + 14}' {_FONT}>{value}</text>",
        ]
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(title: str, items: Sequence[tuple[str, int]], *, width: int = 540) -> Markup:
    """Vertical bars over an ordered axis (days); first and last labels shown."""
    rows = list(items)
    height, top, bottom, left = 170, 26, 24, 30
    plot_h = height - top - bottom
    peak = max((v for _, v in rows), default=0) or 1
    slot = (width - left) / max(len(rows), 1)
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(title)}'>",
        f"<text x='0' y='16' {_FONT} font-weight='bold'>{escape(title)}</text>",
        f"<text x='{left - 4}' y='{top + 10}' {_FONT} text-anchor='end'>{peak}</text>",
        f"<text x='{left - 4}' y='{top + plot_h}' {_FONT} text-anchor='end'>0</text>",
        f"<line x1='{left}' y1='{top + plot_h}' x2='{width}' y2='{top + plot_h}' stroke='#999'/>",
    ]
    for i, (_label, value) in enumerate(rows):
        h = plot_h * value / peak
        x = left + i * slot
        parts.append(
            f"<rect x='{_num(x + slot * 0.1)}' y='{_num(top + plot_h - h)}' "
            f"width='{_num(max(slot * 0.8, 1))}' height='{_num(h)}' fill='{_BAR}'/>"
        )
    if rows:
        y = height - 6
        parts.append(f"<text x='{left}' y='{y}' {_FONT}>{escape(rows[0][0])}</text>")
        if len(rows) > 1:
            parts.append(
                f"<text x='{width}' y='{y}' {_FONT} text-anchor='end'>{escape(rows[-1][0])}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))
