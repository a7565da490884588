"""The NPS trend as inline SVG, drawn on the server: no script, readable without JavaScript and in mail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import format_date
from markupsafe import Markup, escape

from analytics.nps import NpsFigure
from analytics.queries import NpsReport

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 720, 260, 44, 28, 12, 36


@dataclass(frozen=True)
class Point:
    """One period of a trend: its value and 95% interval (None without answers)."""

    start: date
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    too_few: bool


def nps_point(start: date, figure: NpsFigure) -> Point:
    return Point(start, figure.nps, figure.ci_low, figure.ci_high, figure.n, figure.too_few)


def nps_chart(report: NpsReport) -> Markup:
    """Line for NPS, a band for the 95% interval, hollow points for periods with too few answers."""
    points = [nps_point(p.start, p.figure) for p in report.periods]
    return trend_chart(points, "NPS", -100, 100, (-100, -50, 0, 50, 100))


def trend_chart(points: list[Point], title: str, bottom: float, top: float, ticks: tuple) -> Markup:
    """A metric per period on a fixed scale (NPS -100..100, CSAT 0..100 %, CES 1..7): the line, the interval band,
    hollow points for periods with too few answers."""
    if not points:
        return Markup("")
    step = (WIDTH - LEFT - RIGHT) / max(len(points) - 1, 1)

    def x(i: int) -> float:
        return LEFT + i * step

    def y(value: float) -> float:
        return TOP + (top - value) / (top - bottom) * (HEIGHT - TOP - BOTTOM)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title">',
        f'<title id="chart-title">{escape(title)}</title>',
    ]
    for value in ticks:
        at = y(value)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{at:.1f}" y2="{at:.1f}" stroke="#d9dee3" '
            f'stroke-width="{1.5 if value == 0 else 1}"/>'
            f'<text x="{LEFT - 6}" y="{at + 4:.1f}" text-anchor="end" font-size="11" fill="#52606d">{value}</text>'
        )
    with_data = [(i, p) for i, p in enumerate(points) if p.value is not None]
    banded = [(i, p) for i, p in with_data if p.ci_low is not None]
    if banded:
        upper = " ".join(f"{x(i):.1f},{y(p.ci_high):.1f}" for i, p in banded)
        lower = " ".join(f"{x(i):.1f},{y(p.ci_low):.1f}" for i, p in reversed(banded))
        parts.append(f'<polygon points="{upper} {lower}" fill="#1d4ed8" fill-opacity="0.15" stroke="none"/>')
    if with_data:
        line = " ".join(f"{x(i):.1f},{y(p.value):.1f}" for i, p in with_data)
        parts.append(f'<polyline points="{line}" fill="none" stroke="#1d4ed8" stroke-width="2"/>')
        for i, p in with_data:
            fill = "#ffffff" if p.too_few else "#1d4ed8"
            label = escape(f"{p.start}: {title} {p.value} (n={p.n}, {p.ci_low} to {p.ci_high})")
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(p.value):.1f}" r="3.5" fill="{fill}" stroke="#1d4ed8" '
                f'stroke-width="1.5"><title>{label}</title></circle>'
            )
    every = max(1, len(points) // 8)
    for i, point in enumerate(points):
        if i % every == 0:
            parts.append(
                f'<text x="{x(i):.1f}" y="{HEIGHT - 14}" text-anchor="middle" font-size="11" '
                f'fill="#52606d">{escape(format_date(point.start, "short"))}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


CLASS_COLOURS = {"promoter": "#15803d", "passive": "#a16207", "detractor": "#b91c1c"}
DASHES = {"promoter": "", "passive": "6 3", "detractor": "2 3"}  # told apart without colour too


def survival_chart(curves: dict[str, object], labels: dict[str, str], title: str, until: float) -> Markup:
    """Kaplan-Meier step curves (share still a customer, 0 to 100 %) over days since the answer, one per class,
    with their 95% band; `curves` maps a class to an analytics.survival.Curve or None."""
    drawn = {name: curve for name, curve in curves.items() if curve is not None}
    if not drawn:
        return Markup("")
    until = max(until, 1.0)

    def x(day: float) -> float:
        return LEFT + min(day, until) / until * (WIDTH - LEFT - RIGHT)

    def y(share: float) -> float:
        return TOP + (1 - share) * (HEIGHT - TOP - BOTTOM)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="km-title">',
        f'<title id="km-title">{escape(title)}</title>',
    ]
    for share in (0, 0.25, 0.5, 0.75, 1):
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(share):.1f}" y2="{y(share):.1f}" stroke="#d9dee3"/>'
            f'<text x="{LEFT - 6}" y="{y(share) + 4:.1f}" text-anchor="end" font-size="11" fill="#52606d">'
            f"{share:.0%}</text>"
        )
    for step in range(5):
        day = until * step / 4
        parts.append(
            f'<text x="{x(day):.1f}" y="{HEIGHT - 14}" text-anchor="middle" font-size="11" fill="#52606d">'
            f"{day:.0f}</text>"
        )
    for name, curve in drawn.items():
        colour = CLASS_COLOURS.get(name, "#1d4ed8")
        line, low, high = [f"{x(0):.1f},{y(1):.1f}"], [f"{x(0):.1f},{y(1):.1f}"], [f"{x(0):.1f},{y(1):.1f}"]
        previous = (1.0, 1.0, 1.0)
        for day, s, lo, hi in zip(curve.times, curve.survival, curve.ci_low, curve.ci_high, strict=True):
            if day > until:
                break
            for points, before, now in ((line, previous[0], s), (low, previous[1], lo), (high, previous[2], hi)):
                points.append(f"{x(day):.1f},{y(before):.1f} {x(day):.1f},{y(now):.1f}")
            previous = (s, lo, hi)
        for points, last in ((line, previous[0]), (low, previous[1]), (high, previous[2])):
            points.append(f"{x(until):.1f},{y(last):.1f}")
        band = " ".join(high) + " " + " ".join(reversed(low))
        parts.append(f'<polygon points="{band}" fill="{colour}" fill-opacity="0.10" stroke="none"/>')
        dash = f' stroke-dasharray="{DASHES.get(name, "")}"' if DASHES.get(name) else ""
        parts.append(
            f'<polyline points="{" ".join(line)}" fill="none" stroke="{colour}" stroke-width="2"{dash}>'
            f"<title>{escape(labels.get(name, name))}</title></polyline>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def legend_swatch(name: str) -> Markup:
    """A short sample of a class's line (colour and dash), for the legend beside a survival chart."""
    colour = CLASS_COLOURS.get(name, "#1d4ed8")
    dash = f' stroke-dasharray="{DASHES[name]}"' if DASHES.get(name) else ""
    return Markup(
        f'<svg width="28" height="10" aria-hidden="true"><line x1="0" x2="28" y1="5" y2="5" stroke="{colour}" '
        f'stroke-width="2"{dash}/></svg>'
    )


def sparkline(points: list[Point], title: str, bottom: float, top: float) -> Markup:
    """A small line of the last periods beside a number, so its direction shows; the label says it in words."""
    with_data = [(i, p) for i, p in enumerate(points) if p.value is not None]
    if len(with_data) < 2:
        return Markup("")
    width, height, pad = 120, 32, 3
    step = (width - 2 * pad) / max(len(points) - 1, 1)

    def xy(i: int, value: float) -> str:
        return f"{pad + i * step:.1f},{pad + (top - value) / (top - bottom) * (height - 2 * pad):.1f}"

    first, last = with_data[0][1], with_data[-1][1]
    label = f"{title}: {first.start:%Y-%m} {first.value:g} … {last.start:%Y-%m} {last.value:g}"
    line = " ".join(xy(i, p.value) for i, p in with_data)
    i, p = with_data[-1]
    cx, cy = xy(i, p.value).split(",")
    return Markup(
        f'<svg class="sparkline" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)}"><polyline points="{line}" fill="none" stroke="#1d4ed8" stroke-width="1.5"/>'
        f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="#1d4ed8"/></svg>'
    )
