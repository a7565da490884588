"""The NPS trend as inline SVG, drawn on the server: no script, readable without JavaScript and in mail."""

from __future__ import annotations

from markupsafe import Markup, escape

from analytics.queries import NpsReport

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 720, 260, 44, 28, 12, 36


def _y(value: float) -> float:
    return TOP + (100 - value) / 200 * (HEIGHT - TOP - BOTTOM)


def nps_chart(report: NpsReport) -> Markup:
    """Line for NPS, a band for the 95% interval, hollow points for periods with too few answers."""
    periods = report.periods
    if not periods:
        return Markup("")
    step = (WIDTH - LEFT - RIGHT) / max(len(periods) - 1, 1)

    def x(i: int) -> float:
        return LEFT + i * step

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title">',
        '<title id="chart-title">NPS</title>',
    ]
    for value in (-100, -50, 0, 50, 100):
        y = _y(value)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d9dee3" '
            f'stroke-width="{1.5 if value == 0 else 1}"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#52606d">{value}</text>'
        )
    with_data = [(i, p.figure) for i, p in enumerate(periods) if p.figure.nps is not None]
    if with_data:
        upper = " ".join(f"{x(i):.1f},{_y(f.ci_high):.1f}" for i, f in with_data)
        lower = " ".join(f"{x(i):.1f},{_y(f.ci_low):.1f}" for i, f in reversed(with_data))
        parts.append(f'<polygon points="{upper} {lower}" fill="#1d4ed8" fill-opacity="0.15" stroke="none"/>')
        line = " ".join(f"{x(i):.1f},{_y(f.nps):.1f}" for i, f in with_data)
        parts.append(f'<polyline points="{line}" fill="none" stroke="#1d4ed8" stroke-width="2"/>')
        for i, f in with_data:
            fill = "#ffffff" if f.too_few else "#1d4ed8"
            label = escape(f"{periods[i].start}: NPS {f.nps} (n={f.n}, {f.ci_low} to {f.ci_high})")
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{_y(f.nps):.1f}" r="3.5" fill="{fill}" stroke="#1d4ed8" '
                f'stroke-width="1.5"><title>{label}</title></circle>'
            )
    every = max(1, len(periods) // 8)
    for i, period in enumerate(periods):
        if i % every == 0:
            parts.append(
                f'<text x="{x(i):.1f}" y="{HEIGHT - 14}" text-anchor="middle" font-size="11" '
                f'fill="#52606d">{escape(period.start.strftime("%d.%m.%y"))}</text>'
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
