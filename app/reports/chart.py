"""The report's chart as plain geometry: bars for the replies sent each day, a line for
the clicks, on one scale. The page draws it as inline SVG, the PDF with fpdf2's own
primitives, so both show the same picture."""

from __future__ import annotations

from dataclasses import dataclass

from app.reports.schemas import DayFigures

WIDTH, HEIGHT = 300, 100  # units; y grows downwards, like SVG and PDF


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True, slots=True)
class Chart:
    bars: list[Bar]
    clicks: list[tuple[float, float]]  # the line's points, one per day
    labels: list[tuple[float, str]]  # x, a date
    top: int  # the value at the top of the plot
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def points(self) -> str:
        """The clicks line as an SVG `points` attribute."""
        return " ".join(f"{x},{y}" for x, y in self.clicks)


def _y(value: int, top: int) -> float:
    return round(HEIGHT - value / top * HEIGHT, 2)


def chart(days: list[DayFigures]) -> Chart:
    slot = WIDTH / max(len(days), 1)
    top = max([1, *(max(d.replies_sent, d.clicks) for d in days)])
    bars = [
        Bar(
            x=round(n * slot + slot * 0.15, 2),
            y=_y(d.replies_sent, top),
            width=round(slot * 0.7, 2),
            height=round(HEIGHT - _y(d.replies_sent, top), 2),
            title=f"{d.date:%d %b}: {d.replies_sent} replies sent, {d.clicks} clicks",
        )
        for n, d in enumerate(days)
        if d.replies_sent
    ]
    clicks = [(round(n * slot + slot / 2, 2), _y(d.clicks, top)) for n, d in enumerate(days)]
    picks = sorted({0, len(days) // 2, len(days) - 1}) if days else []
    labels = [(round(n * slot + slot / 2, 2), f"{days[n].date:%d %b}") for n in picks]
    return Chart(bars=bars, clicks=clicks, labels=labels, top=top)
