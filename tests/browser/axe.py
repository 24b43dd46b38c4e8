"""Browser-test helpers: axe-core checks, console-error watching, screenshots.

    from tests.browser.axe import check_accessibility, screenshot

`check_accessibility(page, name)` runs axe-core (served by the app itself, so the
Content-Security-Policy `script-src 'self'` allows it) on the page as it is now, prints every
violation, and fails on any "serious" or "critical" one. It also fails when the page has logged
a console error or thrown an uncaught exception (a CSP violation is a console error).

Pages made by the `page` fixture are watched: every document the page loads must be checked by
`check_accessibility` before the test ends, and console errors, uncaught exceptions and HTTP
5xx responses fail the test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from playwright.sync_api import ConsoleMessage, Page, Response

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPO_ROOT / "test-artifacts" / "screenshots"

AXE_PATH = "/static/vendor/axe.min.js"
AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice")
FAILING_IMPACTS = ("serious", "critical")

# Chromium logs "Failed to load resource: ... status of 401" for a *document* answered with an
# error status (a wrong password is a 401 page). That is the app working as designed, so it is
# not counted when the URL is a document the page navigated to; failing subresources still are.
_FAILED_LOAD = re.compile(r"^Failed to load resource: the server responded with a status of 4\d\d")


@dataclass
class PageWatch:
    """What happened in one page: documents loaded and checked, errors seen."""

    documents: list[str] = field(default_factory=list)  # URL of each document loaded, in order
    checked: dict[float, str] = field(default_factory=dict)  # timeOrigin -> URL, per check
    document_urls: set[str] = field(default_factory=set)
    console_errors: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)

    def errors(self) -> list[str]:
        return self.console_errors + self.server_errors

    def unchecked_summary(self) -> str | None:
        """None when every document loaded was checked, else a description of what was not."""
        if len(self.checked) >= len(self.documents):
            return None
        return (
            f"{len(self.documents)} documents were loaded but only {len(self.checked)} were "
            f"checked with check_accessibility().\n  loaded:  {self.documents}\n"
            f"  checked: {list(self.checked.values())}"
        )


_watches: WeakKeyDictionary[Page, PageWatch] = WeakKeyDictionary()


def watch_page(page: Page) -> PageWatch:
    """Start recording documents, console errors, uncaught exceptions and 5xx responses."""
    watch = PageWatch()
    _watches[page] = watch

    def on_document(p: Page) -> None:
        if not p.url.startswith("about:"):
            watch.documents.append(p.url)

    def on_console(message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "") if message.location else ""
        if _FAILED_LOAD.match(message.text) and url in watch.document_urls:
            return
        watch.console_errors.append(f"console error: {message.text} (at {url or 'unknown'})")

    def on_page_error(error: Exception) -> None:
        watch.console_errors.append(f"uncaught exception: {error}")

    def on_response(response: Response) -> None:
        if response.request.is_navigation_request():
            watch.document_urls.add(response.url)
        if response.status >= 500:
            watch.server_errors.append(
                f"HTTP {response.status} for {response.request.method} {response.url}"
            )

    page.on("domcontentloaded", on_document)
    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    page.on("response", on_response)
    return watch


def watch_for(page: Page) -> PageWatch | None:
    return _watches.get(page)


def _format_violation(violation: dict[str, Any]) -> str:
    lines = [
        f"- {violation['id']} ({violation['impact']}): {violation['help']}",
        f"  {violation['helpUrl']}",
    ]
    for node in violation["nodes"][:5]:
        lines.append(f"  at {', '.join(map(str, node['target']))}: {node['html'][:200]}")
        if node.get("failureSummary"):
            lines.append("    " + node["failureSummary"].replace("\n", "\n    "))
    if len(violation["nodes"]) > 5:
        lines.append(f"  ... and {len(violation['nodes']) - 5} more elements")
    return "\n".join(lines)


def check_accessibility(page: Page, name: str) -> list[dict[str, Any]]:
    """Run axe-core on the page; fail on serious/critical violations or any console error.

    Returns every violation (minor and moderate included) for tests that want to look closer.
    """
    page.wait_for_load_state("load")
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(page.url))
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(url=origin + AXE_PATH)
    result = page.evaluate(
        """async (tags) => {
            const r = await axe.run(document, {
                runOnly: {type: "tag", values: tags},
                resultTypes: ["violations"],  // less work on passes; violations in full
            });
            return {
                violations: r.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                    nodes: v.nodes.map(n => ({
                        target: n.target, html: n.html, failureSummary: n.failureSummary,
                    })),
                })),
                timeOrigin: performance.timeOrigin,
                url: location.href,
            };
        }""",
        list(AXE_TAGS),
    )
    violations: list[dict[str, Any]] = result["violations"]
    print(f"\n[axe] {name} ({result['url']}): {len(violations)} violation(s)")
    for v in violations:
        print(f"[axe]   {v['id']}: impact={v['impact']}, nodes={len(v['nodes'])}")

    watch = watch_for(page)
    if watch is not None:
        watch.checked[result["timeOrigin"]] = result["url"]
        assert not watch.errors(), f"{name}: errors in the page:\n" + "\n".join(watch.errors())

    failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
    assert not failing, (
        f"{name}: {len(failing)} serious/critical accessibility violation(s) on {result['url']}:\n"
        + "\n".join(_format_violation(v) for v in failing)
    )
    return violations


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG to test-artifacts/screenshots/<name>.png and return its path."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(f"screenshot name {name!r}: use letters, digits, '_', '-' and '.'")
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
