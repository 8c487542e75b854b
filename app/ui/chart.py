"""The dashboard's chart as plain numbers for an inline SVG: server-rendered, no script,
no style attribute (the CSP forbids both); colours come from classes in app.css."""

from __future__ import annotations

from dataclasses import dataclass

from app.moderation.dashboard import DayFigures

WIDTH, HEIGHT = 300, 100  # viewBox units; the dates are HTML below the SVG


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    kind: str  # dms | auto | approved
    title: str


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    labels: list[tuple[float, str]]  # x, text
    top: int  # the value at the top of the plot
    width: int = WIDTH
    height: int = HEIGHT
    total_height: int = HEIGHT


def _scale(value: int, top: int) -> float:
    return round(value / top * HEIGHT, 2)


def chart(days: list[DayFigures]) -> Chart:
    """Per day: the DMs received (a wide light bar), and inside it the replies sent,
    automatic at the bottom, approved by a person on top."""
    slot = WIDTH / max(len(days), 1)
    top = max([1, *(max(d.dms, d.auto_sent + d.approved) for d in days)])
    bars: list[Bar] = []
    for n, d in enumerate(days):
        x, when = n * slot, f"{d.day:%a %d %b}"
        parts = [
            ("dms", x + slot * 0.1, slot * 0.8, 0, d.dms, f"{when}: {d.dms} DMs"),
            (
                "auto",
                x + slot * 0.3,
                slot * 0.4,
                0,
                d.auto_sent,
                f"{when}: {d.auto_sent} sent automatically",
            ),
            (
                "approved",
                x + slot * 0.3,
                slot * 0.4,
                d.auto_sent,
                d.approved,
                f"{when}: {d.approved} approved by a person",
            ),
        ]
        for kind, left, width, below, value, title in parts:
            if value:
                height = _scale(value, top)
                y = HEIGHT - _scale(below, top) - height
                bars.append(Bar(round(left, 2), round(y, 2), round(width, 2), height, kind, title))
    picks = sorted({0, len(days) // 2, len(days) - 1}) if days else []
    labels = [(round(n * slot + slot / 2, 2), f"{days[n].day:%d %b}") for n in picks]
    return Chart(bars=bars, labels=labels, top=top)
