"""Inline SVG charts for the report and the officers' page: no script, font or file is
fetched, so both work on an isolated network (the report must open offline)."""

from __future__ import annotations

from xml.sax.saxutils import escape

GOOD, BAD, LINE, GRID = "#3a8f5c", "#c0392b", "#2c5d9e", "#d5d9e0"


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    # Inline SVG in HTML needs no xmlns; nothing in the page names an outside address.
    return (f'<svg width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">'
            f"<title>{escape(label)}</title>{''.join(body)}</svg>")


def coverage_bars(rows: list[tuple[str, float]], width: int = 420) -> str:
    """One horizontal bar per location: the share verified within the window."""
    bar_w, row_h = width - 170, 24
    body = []
    for i, (name, share) in enumerate(rows):
        y = 6 + i * row_h
        colour = GOOD if share >= 0.999 else BAD if share < 0.5 else "#d68910"
        body += [f'<text x="0" y="{y + 13}" font-size="12">{escape(name[:18])}</text>',
                 f'<rect x="120" y="{y}" width="{bar_w}" height="16" fill="#eceff3"/>',
                 f'<rect x="120" y="{y}" width="{bar_w * share:.1f}" height="16" '
                 f'fill="{colour}"/>',
                 f'<text x="{124 + bar_w}" y="{y + 13}" font-size="12">'
                 f"{share * 100:.1f} %</text>"]
    return _svg(width, 12 + row_h * max(len(rows), 1), "coverage per location", body)


def audit_bars(days: list[tuple[str, int, int]], width: int = 640, height: int = 180) -> str:
    """Copies verified (green) and found damaged (red) per day, stacked."""
    if not days:
        return ""
    top = max(max(g + b for _, g, b in days), 1)
    plot_h, left = height - 40, 40
    step = (width - left - 10) / len(days)
    bar = max(min(step * 0.8, 40), 1)
    body = [f'<line x1="{left}" y1="{10 + plot_h}" x2="{width - 10}" y2="{10 + plot_h}" '
            f'stroke="{GRID}"/>',
            f'<text x="0" y="18" font-size="11">{top}</text>',
            f'<text x="0" y="{10 + plot_h}" font-size="11">0</text>']
    for i, (label, good, bad) in enumerate(days):
        x = left + i * step
        good_h, bad_h = plot_h * good / top, plot_h * bad / top
        base = 10 + plot_h
        body.append(f'<rect x="{x:.1f}" y="{base - good_h:.1f}" width="{bar:.1f}" '
                    f'height="{good_h:.1f}" fill="{GOOD}"><title>{escape(label)}: {good} '
                    "verified</title></rect>")
        if bad:
            body.append(f'<rect x="{x:.1f}" y="{base - good_h - bad_h:.1f}" '
                        f'width="{bar:.1f}" height="{bad_h:.1f}" fill="{BAD}">'
                        f"<title>{escape(label)}: {bad} damaged</title></rect>")
    for i in sorted({0, len(days) - 1}):
        body.append(f'<text x="{left + i * step:.1f}" y="{height - 8}" font-size="11">'
                    f"{escape(days[i][0])}</text>")
    return _svg(width, height, "copies audited per day", body)


def coverage_line(points: list[tuple[str, float]], width: int = 640, height: int = 160) -> str:
    """Coverage (0–100 %) after each day's last audit run."""
    if not points:
        return ""
    plot_h, left = height - 40, 40
    step = (width - left - 10) / max(len(points) - 1, 1)
    xy = [(left + i * step, 10 + plot_h * (1 - share)) for i, (_, share) in enumerate(points)]
    body = [f'<line x1="{left}" y1="{10 + plot_h * (1 - v)}" x2="{width - 10}" '
            f'y2="{10 + plot_h * (1 - v)}" stroke="{GRID}"/>' for v in (0, 0.5, 1)]
    body += ['<text x="0" y="14" font-size="11">100 %</text>',
             f'<text x="0" y="{10 + plot_h}" font-size="11">0 %</text>',
             f'<polyline fill="none" stroke="{LINE}" stroke-width="2" points="'
             + " ".join(f"{x:.1f},{y:.1f}" for x, y in xy) + '"/>']
    body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{LINE}"><title>'
             f"{escape(points[i][0])}: {points[i][1] * 100:.1f} %</title></circle>"
             for i, (x, y) in enumerate(xy)]
    for i in sorted({0, len(points) - 1}):
        body.append(f'<text x="{xy[i][0]:.1f}" y="{height - 8}" font-size="11">'
                    f"{escape(points[i][0])}</text>")
    return _svg(width, height, "coverage over time", body)
