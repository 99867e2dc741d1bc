"""Run axe-core in a Playwright page, on the WCAG 2.1 A and AA rules (the RGAA's base) and axe's
best practices.

axe-core is the copy bundled by the pinned ``axe-playwright-python`` package; it is injected with
``page.evaluate`` (the DevTools protocol), which the page's Content-Security-Policy does not block.
"""

from __future__ import annotations

from collections import Counter

from axe_playwright_python.sync_playwright import Axe

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
_AXE = Axe()


def audit(page) -> list[dict]:
    """The violations axe finds on the page as it is now."""
    results = _AXE.run(
        page, options={"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]}
    )
    return results.response["violations"]


def summary(title: str, counts: Counter) -> str:
    lines = [f"{title}: {sum(counts.values())} nœuds en défaut"]
    lines += [f"  {rule}: {count}" for rule, count in sorted(counts.items())]
    return "\n".join(lines)
