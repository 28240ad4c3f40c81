"""Server-rendered SVG charts for the wallboard: calls per hour today and today's risk mix.

Plain SVG (no script, no external font) with a title, a description and a ``<title>`` per bar,
so screen readers announce the figures and the page needs no chart library.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

from store.vocabulary import RiskLevel

RISK_COLOURS = {
    RiskLevel.NO_APRECIADO: "#6b7280",
    RiskLevel.BAJO: "#2563eb",
    RiskLevel.MEDIO: "#b45309",
    RiskLevel.ALTO: "#c2410c",
    RiskLevel.EXTREMO: "#b91c1c",
}


@dataclass(frozen=True)
class DayWindow:
    start: datetime
    end: datetime

    @classmethod
    def containing(cls, now: float, offset_seconds: int = 0) -> DayWindow:
        """The service day around ``now`` (UTC shifted by ``offset_seconds``, as routing's
        service level counts it)."""
        shifted = datetime.fromtimestamp(now + offset_seconds, UTC)
        midnight = shifted.replace(hour=0, minute=0, second=0, microsecond=0)
        start = midnight - timedelta(seconds=offset_seconds)
        return cls(start, start + timedelta(days=1))


def calls_per_hour(started: Iterable[datetime], window: DayWindow) -> list[int]:
    counts = [0] * 24
    for moment in started:
        if window.start <= moment < window.end:
            counts[int((moment - window.start).total_seconds() // 3600)] += 1
    return counts


def risk_mix(levels: Iterable[str | None]) -> dict[RiskLevel, int]:
    counted = Counter(RiskLevel(level) if level else RiskLevel.NO_APRECIADO for level in levels)
    return {level: counted.get(level, 0) for level in RiskLevel}


def _svg(width: int, height: int, name: str, title: str, desc: str, body: Sequence[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="{name}-t {name}-d" '
        'font-family="system-ui, sans-serif" font-size="11" class="chart">'
        f'<title id="{name}-t">{escape(title)}</title><desc id="{name}-d">{escape(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def hourly_bars_svg(counts: Sequence[int], title: str, unit: str) -> str:
    """24 bars, one per hour of the service day."""
    width, height, left, bottom, top = 560, 180, 28, 22, 12
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max(max(counts, default=0), 1)
    step = plot_w / 24
    body = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" '
        'stroke="#444"/>',
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    for hour, count in enumerate(counts):
        bar_h = plot_h * count / peak
        x = left + hour * step + 2
        body.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - bar_h:.1f}" width="{step - 4:.1f}" '
            f'height="{bar_h:.1f}" fill="#4b1d6b"><title>{hour:02d}:00 — {count} {escape(unit)}'
            "</title></rect>"
        )
        if hour % 3 == 0:
            body.append(
                f'<text x="{x + (step - 4) / 2:.1f}" y="{height - 6}" '
                f'text-anchor="middle">{hour:02d}</text>'
            )
    desc = ", ".join(f"{hour:02d}h: {count}" for hour, count in enumerate(counts) if count)
    return _svg(width, height, "hourly", title, desc or "0", body)


def risk_mix_svg(mix: dict[RiskLevel, int], labels: dict[RiskLevel, str], title: str) -> str:
    """One horizontal bar per risk level, most severe first."""
    width, row, left = 560, 26, 150
    levels = list(reversed(list(RiskLevel)))
    height = row * len(levels) + 10
    peak = max(max(mix.values(), default=0), 1)
    body = []
    for index, level in enumerate(levels):
        count = mix.get(level, 0)
        y = 5 + index * row
        bar_w = (width - left - 50) * count / peak
        label = escape(labels.get(level, level.value))
        body.append(f'<text x="{left - 6}" y="{y + 16}" text-anchor="end">{label}</text>')
        body.append(
            f'<rect x="{left}" y="{y + 4}" width="{bar_w:.1f}" height="{row - 8}" '
            f'fill="{RISK_COLOURS[level]}"><title>{label}: {count}</title></rect>'
        )
        body.append(f'<text x="{left + bar_w + 6:.1f}" y="{y + 16}">{count}</text>')
    desc = ", ".join(f"{labels.get(level, level.value)}: {mix.get(level, 0)}" for level in levels)
    return _svg(width, height, "riskmix", title, desc, body)
