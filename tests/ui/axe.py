"""Accessibility checks for the browser tests: axe-core run inside the page Playwright shows.

axe-core comes from the pinned `axe-playwright-python` wheel (only its bundled `axe.min.js` is
used, so CI needs no download beyond PyPI). The script is evaluated through the DevTools
protocol, which Herald's Content-Security-Policy does not govern, so no `bypass_csp` is needed.

Use it from any browser test, for any page (segment builder, journeys, split tests…):

    from tests.ui.axe import axe_check           # one page, fails at once
    axe_check(page, "campaign page")

    def test_walk(browser_page, axe_audit):       # many pages, one report at the end
        axe_audit.check(page, "dashboard at 390 px")

Only "serious" and "critical" violations fail (issue 26 item 15); WCAG 2.x A/AA rules and
axe's best practices are run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from axe_playwright_python.base import AXE_SCRIPT

FAILING_IMPACTS = ("serious", "critical")
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}


def axe_violations(page: Any, *, impacts: tuple[str, ...] = FAILING_IMPACTS) -> list[dict]:
    """The axe-core violations of the page as it is now, of the given impacts."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT)
    result = page.evaluate("options => window.axe.run(document, options)", AXE_OPTIONS)
    return [v for v in result["violations"] if v.get("impact") in impacts]


def axe_report(label: str, violations: list[dict], *, nodes: int = 5) -> str:
    """Violations in words: rule, impact, help, and the first few elements with their HTML."""
    lines = [f"{label}: {len(violations)} accessibility violation(s)"]
    for v in violations:
        lines.append(f"  {v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} element(s)")
        for node in v["nodes"][:nodes]:
            target = ", ".join(str(t) for t in node["target"])
            lines.append(f"    {target}: {node['html'][:160]}")
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            if summary:
                lines.append(f"      {summary[:240]}")
    return "\n".join(lines)


def axe_check(page: Any, label: str) -> None:
    """Fail now when the page has a serious or critical violation."""
    violations = axe_violations(page)
    assert not violations, axe_report(label, violations)


@dataclass
class AxeAudit:
    """Collects violations across a walk, so one run names every page that fails."""

    failures: dict[str, list[dict]] = field(default_factory=dict)
    checked: list[str] = field(default_factory=list)

    def check(self, page: Any, label: str) -> None:
        """Check the page as it is now and remember what failed under `label`."""
        self.checked.append(label)
        if violations := axe_violations(page):
            self.failures[label] = violations

    def assert_clean(self) -> None:
        """Fail with every page's violations when any page had one."""
        assert self.checked, "no page was checked"
        report = "\n".join(axe_report(label, v) for label, v in self.failures.items())
        assert not self.failures, f"{len(self.failures)} of {len(self.checked)} pages:\n{report}"
