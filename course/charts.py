"""Geometry for the small server-rendered SVG charts (no JavaScript chart library)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class HBar:
    label: str
    value: float  # 0..100
    width: float  # pixels inside the bar area
    y: float
    marker: float | None = None  # pixel position of a comparison tick, e.g. "you"
    marker_percent: float | None = None  # the tick's value, 0..100


@dataclass
class HBarChart:
    bars: list[HBar]
    width: int
    height: int
    label_width: int
    bar_width: int
    row_height: int


def hbar_chart(
    items: list[tuple[str, float, float | None]],
    *,
    label_width: int = 180,
    bar_width: int = 260,
    row_height: int = 26,
) -> HBarChart:
    """Lay out horizontal percentage bars: (label, percent, optional marker percent) per row."""
    bars = []
    for i, (label, value, marker) in enumerate(items):
        value = max(0.0, min(100.0, value))
        marker = None if marker is None else max(0.0, min(100.0, marker))
        bars.append(
            HBar(
                label=label,
                value=value,
                width=round(bar_width * value / 100, 1),
                y=i * row_height,
                marker=None if marker is None else round(bar_width * marker / 100, 1),
                marker_percent=marker,
            )
        )
    return HBarChart(
        bars=bars,
        width=label_width + bar_width + 60,
        height=max(row_height, len(items) * row_height),
        label_width=label_width,
        bar_width=bar_width,
        row_height=row_height,
    )


@dataclass
class VBar:
    label: str
    value: int
    x: float
    y: float
    height: float


@dataclass
class VBarChart:
    bars: list[VBar]
    width: int
    height: int
    plot_height: int
    bar_width: int
    maximum: int

    @property
    def half_bar(self) -> float:
        return self.bar_width / 2


def vbar_chart(
    items: list[tuple[str, int]], *, plot_height: int = 90, bar_width: int = 26, gap: int = 8
) -> VBarChart:
    """Lay out vertical count bars scaled to the largest count, labels underneath."""
    maximum = max((value for _, value in items), default=0)
    bars = []
    for i, (label, value) in enumerate(items):
        height = round(plot_height * value / maximum, 1) if maximum else 0.0
        bars.append(
            VBar(
                label=label,
                value=value,
                x=i * (bar_width + gap),
                y=plot_height - height,
                height=height,
            )
        )
    return VBarChart(
        bars=bars,
        width=max(bar_width, len(items) * (bar_width + gap) - gap),
        height=plot_height + 34,
        plot_height=plot_height,
        bar_width=bar_width,
        maximum=maximum,
    )
