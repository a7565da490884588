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
