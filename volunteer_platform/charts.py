"""Server-side SVG bar charts: geometry computed here, drawn by a template — no script, no CDN, scales to a phone
through the SVG viewBox. The same numbers are always also printed in a table for screen readers."""

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

WIDTH = 600
HEIGHT = 220
LEFT = 44
BOTTOM = 28
TOP = 12


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: object
    css: str


@dataclass
class Chart:
    width: int
    height: int
    baseline: float
    max_value: object
    bars: list[Bar]
    labels: list[tuple[float, str]]  # (x of the label's centre, text)


def _bars(series: list[tuple[str, list, str]], labels: list[str]) -> Chart:
    """`series`: (name, values, css class) drawn side by side in each slot."""
    values = [v for _name, vs, _css in series for v in vs]
    top = max([Decimal(v) for v in values] + [Decimal(0)])
    scale = (HEIGHT - BOTTOM - TOP) / float(top) if top else 0
    slot = (WIDTH - LEFT) / max(len(labels), 1)
    bar_width = slot * 0.8 / max(len(series), 1)
    bars = []
    for s, (_name, vs, css) in enumerate(series):
        for i, value in enumerate(vs):
            height = float(value) * scale
            x = LEFT + i * slot + slot * 0.1 + s * bar_width
            bars.append(
                Bar(round(x, 1), round(HEIGHT - BOTTOM - height, 1), round(bar_width, 1), round(height, 1), value, css)
            )
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        baseline=HEIGHT - BOTTOM,
        max_value=top,
        bars=bars,
        labels=[(round(LEFT + i * slot + slot / 2, 1), label) for i, label in enumerate(labels)],
    )


def trend_chart(trend) -> dict[str, Chart]:
    labels = [f"{m.month}" for m in trend]
    return {
        "hours": _bars([("hours", [m.hours for m in trend], "bar-hours")], labels),
        "wishes": _bars(
            [
                ("received", [m.wishes_received for m in trend], "bar-received"),
                ("fulfilled", [m.wishes_fulfilled for m in trend], "bar-fulfilled"),
            ],
            labels,
        ),
    }


def stars_chart(stars: list[tuple[int, int]]) -> Chart:
    """The star distribution (selectors.star_distribution): members per star level, unrated first."""
    labels = [_("未评") if level == 0 else f"★{level}" for level, _n in stars]
    return _bars([("stars", [n for _level, n in stars], "bar-stars")], labels)
