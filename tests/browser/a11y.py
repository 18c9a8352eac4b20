"""Accessibility and layout checks a browser test runs on any page: axe-core and sideways scroll.

axe-core is vendored under tests/browser/vendor/ (MPL-2.0, see its LICENSE). It is injected through
the DevTools protocol, which the page's Content-Security-Policy does not govern, so the site's own
policy stays enforced while it runs.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

AXE_VERSION = "4.14.1"
AXE_SCRIPT = Path(__file__).resolve().parent / "vendor" / f"axe-core-{AXE_VERSION}" / "axe.min.js"
BLOCKING = ("serious", "critical")
# The WCAG A/AA rules plus axe's best practices (landmarks, headings, nested interactive content).
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}


@cache
def _axe_source() -> str:
    return AXE_SCRIPT.read_text(encoding="utf-8")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now and return its violations."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        session = page.context.new_cdp_session(page)
        try:
            session.send("Runtime.evaluate", {"expression": _axe_source()})
        finally:
            session.detach()
    return page.evaluate(
        "async (options) => (await window.axe.run(document, options)).violations", AXE_OPTIONS
    )


def describe(violations: list[dict[str, Any]]) -> str:
    """Say which rules failed and where, one line per offending element."""
    lines = []
    for violation in violations:
        for node in violation["nodes"][:5]:
            lines.append(
                f"{violation['impact']}: {violation['id']} ({violation['help']}) at "
                f"{json.dumps(node['target'])}: {node.get('failureSummary', '').splitlines()[-1:]}"
            )
    return "\n".join(lines)


def assert_no_serious_axe(
    page: Any, *, where: str = "", rules: Counter[str] | None = None
) -> dict[str, int]:
    """Fail on any serious or critical axe violation; return the count of violations per impact.

    Minor and moderate findings are returned, not failed on, so journeys can report them; pass
    a Counter as `rules` to collect which rules they were.
    """
    violations = axe_violations(page)
    counts = Counter(str(v["impact"]) for v in violations)
    if rules is not None:
        rules.update(f"{v['impact']}:{v['id']}" for v in violations)
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"axe on {where or page.url}:\n{describe(blocking)}"
    return {impact: counts.get(impact, 0) for impact in ("minor", "moderate", *BLOCKING)}


def scroll_width_overflow(page: Any) -> int:
    """Return by how many CSS pixels the page is wider than the viewport (0: no sideways scroll)."""
    return int(
        page.evaluate(
            "() => Math.max(0, document.scrollingElement.scrollWidth - window.innerWidth)"
        )
    )


def assert_no_sideways_scroll(page: Any, *, where: str = "") -> None:
    """Fail when the page scrolls sideways, naming the widest elements that stick out."""
    overflow = scroll_width_overflow(page)
    if overflow:
        culprits = page.evaluate(
            """() => {
              const width = window.innerWidth;
              return [...document.querySelectorAll('body *')]
                .filter(el => el.getBoundingClientRect().right > width + 1)
                .slice(0, 8)
                .map(el => el.tagName.toLowerCase() + '.' + [...el.classList].join('.') + ' right=' +
                     Math.round(el.getBoundingClientRect().right));
            }"""
        )
        raise AssertionError(f"{where or page.url} is {overflow}px too wide: {culprits}")
