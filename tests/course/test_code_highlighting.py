"""Highlighted code in lessons: the stylesheet is the generator's output and every colour is legible."""

from __future__ import annotations

import re
from pathlib import Path

from course.markdown import pygments_css

STYLESHEET = Path(__file__).resolve().parents[2] / "static" / "css" / "pygments.css"


def _luminance(hex_colour: str) -> float:
    digits = hex_colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_stylesheet_is_the_generators_output() -> None:
    assert pygments_css() in STYLESHEET.read_text()


def test_every_token_colour_reaches_aa_contrast_on_the_code_background() -> None:
    css = pygments_css()
    background = re.search(r"\.prose pre code \{ background: (#[0-9a-fA-F]+)", css)
    assert background is not None
    colours = re.findall(r"\.prose pre code \.[\w-]+ \{ color: (#[0-9a-fA-F]{3,6})", css)
    assert len(colours) > 10
    worst = min(contrast(colour, background.group(1)) for colour in colours)
    assert worst >= 4.5, f"a token colour has only {worst:.2f}:1"


def test_the_contrast_formula_matches_wcag() -> None:
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#767676", "#ffffff"), 2) == 4.54
