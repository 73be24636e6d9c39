"""Server-side SVG for the web pages: the associates graph and the explain waterfall.

Drawn from what the app returned (nothing is read here); every label is escaped and the
result is :class:`markupsafe.Markup`, so autoescaping templates insert it as markup. No
``style`` attributes (CSP ``style-src 'self'``): presentation attributes only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote

from markupsafe import Markup, escape

from idgraph.app.reads import AssociatesResult

_FONT: Final = "font-family='system-ui, sans-serif' font-size='12'"
_KIND_COLOUR: Final = {"address": "#1f4f82", "phone": "#8a3b00", "vehicle": "#2f6b31"}
_POS: Final = "#2f6b31"
_NEG: Final = "#a12222"


def _n(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def associates_svg(result: AssociatesResult, *, size: int | None = None) -> Markup:
    """The subject in the centre, each associate on a circle around it, one line per
    associate coloured by what they share (address, phone, vehicle), labelled. At most
    24 associates are drawn (the table lists them all)."""
    people = list(result.associates)[:24]
    if size is None:
        size = 360 if len(people) <= 4 else 560
    cx = cy = size / 2
    radius = size / 2 - 80 if people else 0
    title = f"Associates of {result.identity_id}"
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{size}' height='{size}' "
        f"viewBox='0 0 {size} {size}' role='img' aria-label='{escape(title)}'>",
        f"<title>{escape(title)}</title>",
    ]
    nodes = []
    for i, person in enumerate(people):
        angle = 2 * math.pi * i / len(people) - math.pi / 2
        x, y = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
        kinds = sorted({e.kind for e in person.evidence})
        colour = _KIND_COLOUR.get(kinds[0], "#4d5761") if len(kinds) == 1 else "#4d5761"
        label = ", ".join(kinds)
        mx, my = (cx + x) / 2, (cy + y) / 2
        parts.append(f"<line x1='{_n(cx)}' y1='{_n(cy)}' x2='{_n(x)}' y2='{_n(y)}' "
                     f"stroke='{colour}' stroke-width='{1 + len(person.evidence)}'/>")
        parts.append(f"<text x='{_n(mx)}' y='{_n(my - 4)}' {_FONT} text-anchor='middle' "
                     f"fill='#1a1a1a'>{escape(label)}</text>")
        href = "/identities/" + quote(person.identity_id, safe="")
        nodes.append(
            f"<a href='{escape(href)}'><circle cx='{_n(x)}' cy='{_n(y)}' r='26' fill='#ffffff' "
            f"stroke='#1f4f82' stroke-width='2'/><text x='{_n(x)}' y='{_n(y + 4)}' {_FONT} "
            f"text-anchor='middle' fill='#1f4f82'>{escape(person.identity_id)}</text></a>")
    parts += nodes
    parts.append(f"<circle cx='{_n(cx)}' cy='{_n(cy)}' r='34' fill='#1f4f82'/>"
                 f"<text x='{_n(cx)}' y='{_n(cy + 4)}' {_FONT} text-anchor='middle' "
                 f"fill='#ffffff' font-weight='bold'>{escape(result.identity_id)}</text>")
    if not people:
        parts.append(f"<text x='{_n(cx)}' y='{_n(cy + 60)}' {_FONT} text-anchor='middle' "
                     f"fill='#4d5761'>no associates found</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def weight_bar(weight: float | None, peak: float, *, width: int = 220) -> Markup:
    """One bar of the waterfall: right of the axis for evidence for, left against."""
    height, mid = 14, width / 2
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"viewBox='0 0 {width} {height}' aria-hidden='true' focusable='false'>",
             f"<line x1='{_n(mid)}' y1='0' x2='{_n(mid)}' y2='{height}' stroke='#4d5761'/>"]
    if weight is not None and peak > 0:
        w = (width / 2 - 2) * min(abs(weight) / peak, 1.0)
        x = mid if weight >= 0 else mid - w
        parts.append(f"<rect x='{_n(x)}' y='2' width='{_n(w)}' height='{height - 4}' "
                     f"fill='{_POS if weight >= 0 else _NEG}'/>")
    parts.append("</svg>")
    return Markup("".join(parts))


def waterfall_peak(features: Sequence[Mapping[str, Any]], prior_weight: float | None) -> float:
    """The largest absolute weight shown (the bars' scale)."""
    weights = [abs(float(f["weight"])) for f in features if f.get("weight") is not None]
    if prior_weight is not None:
        weights.append(abs(prior_weight))
    return max(weights, default=1.0) or 1.0
