"""An admin works through the operator tools in a real browser: the home page's Tools list, the
LLM usage dashboard (rolled-up past days plus today's raw calls, Chart.js drawn under the CSP,
the table, the CSV, another grouping and range), the sessions dashboard, a new interviewer
version (create, activate, roll back, compare), the data browser and the audit log of those
reads, and a storyteller's privacy page (ZIP download, erasure refused then done). axe-core on
every page; screenshots to test-artifacts/screenshots/admin-*.png."""

from __future__ import annotations

import csv
import io
import json
import uuid
import zipfile
from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from storyteller import rollups
from storyteller.models import LlmInteraction, Storyteller, utcnow
from tests.browser.axe import check_accessibility, screenshot

pytestmark = pytest.mark.browser

TABLE = Storyteller.__tablename__


def _calls(live_server, storyteller_id: uuid.UUID, model: str) -> None:
    """Three calls a day today and on each of the three days before; one fails each day, one
    has a price."""
    now = utcnow().replace(microsecond=0)
    today = now.date()
    with live_server.db() as db:
        for days_ago in range(4):
            at = now - timedelta(days=days_ago)
            for n in range(3):
                db.add(
                    LlmInteraction(
                        storyteller_id=storyteller_id,
                        purpose="next_question",
                        prompt=[{"role": "user", "content": "Ask about the farm"}],
                        response=None if n == 2 else "Who milked the cows?",
                        model=model,
                        response_model=model,
                        prompt_tokens=100,
                        response_tokens=10,
                        latency_ms=400 + 100 * n,
                        cost=Decimal("0.0005") if n == 0 else None,
                        success=n != 2,
                        error_type="server_error" if n == 2 else None,
                        status_code=500 if n == 2 else 200,
                        created_at=at - timedelta(seconds=n),
                    )
                )
        db.flush()
        rollups.rollup(db, today - timedelta(days=3), today - timedelta(days=1))


def _canvas_painted(page: Page, chart: str) -> int:
    """How many pixels of the chart's canvas are not transparent."""
    selector = f"canvas[data-chart='{chart}']"
    page.wait_for_function(
        "(sel) => window.Chart && Chart.getChart(document.querySelector(sel))", arg=selector
    )
    return page.evaluate(
        """(sel) => {
            const canvas = document.querySelector(sel);
            const ctx = canvas.getContext('2d');
            const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
            return painted;
        }""",
        selector,
    )


def _chart_total(page: Page, chart: str) -> float:
    return page.evaluate(
        """(sel) => Chart.getChart(document.querySelector(sel)).data.datasets
            .flatMap(d => d.data).reduce((a, b) => a + (Number(b) || 0), 0)""",
        f"canvas[data-chart='{chart}']",
    )


def _check(page: Page, name: str) -> None:
    check_accessibility(page, name)
    screenshot(page, f"admin-{name}")


def test_admin_uses_the_operator_tools(page, live_server, sign_in):
    tag = uuid.uuid4().hex[:6]
    model = f"model-{tag}"
    name = f"Mabel Hartley {tag}"
    storyteller_id = live_server.create_storyteller(name)
    live_server.create_session(storyteller_id, session_name="The farm years")
    done = utcnow().replace(microsecond=0)
    live_server.create_session(
        storyteller_id,
        session_name="The school on the hill",
        status="completed",
        scheduled_at=done - timedelta(hours=1),
        started_at=done - timedelta(minutes=40),
        ended_at=done - timedelta(minutes=5),
        actual_duration_minutes=35,
        completion_percentage=100,
        user_satisfaction=5,
    )
    _calls(live_server, storyteller_id, model)
    admin = live_server.create_user("admin", name="Ada Admin")
    sign_in(admin)

    # Home: the tools are listed.
    tools = page.locator("h2:text-is('Tools') + ul.tool-list")
    for link in ("LLM usage and cost", "Sessions", "Agents and versions", "Data browser"):
        expect(tools.get_by_role("link", name=link)).to_be_visible()
    for link in ("Audit log", "Privacy"):
        expect(tools.get_by_role("link", name=link)).to_be_visible()
    screenshot(page, "admin-home")

    # LLM usage, by day, last 30 days: the chart is drawn and the table has the numbers.
    tools.get_by_role("link", name="LLM usage and cost").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("LLM usage")
    assert _canvas_painted(page, "llm-calls") > 500
    assert _canvas_painted(page, "llm-cost") > 0
    assert _canvas_painted(page, "llm-speed") > 0
    calls_table = page.locator("section[aria-labelledby='calls-heading'] table")
    today = utcnow().date()
    for days_ago in range(4):
        day = (today - timedelta(days=days_ago)).isoformat()
        row = calls_table.locator("tbody tr", has=page.locator(f"th:text-is('{day}')"))
        expect(row).to_have_count(1)
        # At least our 3 calls and 1 failure that day (other tests share the live server).
        cells = row.locator("td").all_inner_texts()
        assert int(cells[0].replace(",", "")) >= 3 and int(cells[1].replace(",", "")) >= 1
    assert _chart_total(page, "llm-calls") >= 12
    # Thirty days scroll inside the table's box, opened at its end: the latest days.
    box = page.locator("section[aria-labelledby='calls-heading'] .table-wrap")
    assert "table-long" in box.get_attribute("class")
    at_end = "b => b.scrollTop > 0 && b.scrollTop + b.clientHeight >= b.scrollHeight - 2"
    assert box.evaluate(at_end)
    _check(page, "dashboard-llm")

    # The CSV link downloads a CSV with a header row.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download every figure as CSV").click()
    with open(download_info.value.path(), encoding="utf-8") as downloaded:
        rows = list(csv.reader(io.StringIO(downloaded.read())))
    assert rows[0] and not any(cell.replace(",", "").isdigit() for cell in rows[0])
    assert {(today - timedelta(days=d)).isoformat() for d in range(4)} <= {r[0] for r in rows[1:]}

    # By model, last 7 days.
    page.get_by_label("Range").select_option("7")
    page.get_by_label("Group by").select_option("model")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", level=2).first).to_contain_text("by model")
    row = calls_table.locator("tbody tr", has=page.locator(f"th:text-is('{model}')"))
    expect(row.locator("td").nth(0)).to_have_text("12")
    expect(row.locator("td").nth(1)).to_have_text("4")
    expect(row.locator("td").nth(2)).to_have_text("33.3%")
    tokens = page.locator("section[aria-labelledby='cost-heading'] table tbody tr", has_text=model)
    expect(tokens.locator("td").nth(0)).to_have_text("1,200")
    assert _canvas_painted(page, "llm-calls") > 500
    labels = page.evaluate(
        "() => Chart.getChart(document.querySelector(\"canvas[data-chart='llm-calls']\"))"
        ".data.labels"
    )
    assert model in labels
    assert "range=7" in page.url and "group=model" in page.url
    _check(page, "dashboard-llm-by-model")

    # Sessions dashboard.
    page.get_by_role("navigation", name="Dashboards").get_by_role("link", name="Sessions").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sessions")
    assert _canvas_painted(page, "session-counts") > 500
    assert _canvas_painted(page, "session-quality") > 0
    assert _chart_total(page, "session-counts") >= 3  # scheduled, started, completed
    expect(page.locator("#sessions-summary")).not_to_contain_text("0 completed")
    _check(page, "dashboard-sessions")

    # Agents and versions: a new interviewer version, activate it, roll back, compare.
    page.goto("/")
    check_accessibility(page, "home again")
    page.get_by_role("link", name="Agents and versions").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Agents")
    _check(page, "agents")
    page.locator("table a", has_text="interviewer").first.click()
    check_accessibility(page, "interviewer")
    before = page.locator("strong").first.inner_text()  # "Version in use: <strong>"
    page.get_by_label("What this version changes, and why").fill(f"Shorter questions {tag}")
    page.get_by_label("Temperature").fill("0.4")
    page.get_by_label("Version number (optional)").fill(f"browser-{tag}")
    page.get_by_role("button", name="Save the new version").click()
    expect(page.get_by_text(f"Version browser-{tag} is saved.")).to_be_visible()
    check_accessibility(page, "version saved")
    new_row = page.locator(f"tr[id='version-browser-{tag}']")
    expect(new_row).to_contain_text(f"Shorter questions {tag}")
    new_row.get_by_role("button", name="Use this version").click()
    expect(page.get_by_text(f"Version browser-{tag} is now in use")).to_be_visible()
    expect(page.locator("p", has_text="Version in use:").locator("strong")).to_have_text(
        f"browser-{tag}"
    )
    check_accessibility(page, "version activated")
    page.locator(f"tr[id='version-{before}']").get_by_role(
        "button", name=f"Roll back to {before}"
    ).click()
    expect(page.get_by_text(f"Version {before} is now in use")).to_be_visible()
    expect(new_row).to_contain_text("From ")
    _check(page, "agent-detail")
    page.get_by_role("link", name="Compare versions side by side").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Compare versions")
    page.get_by_label("First version").select_option(label=f"browser-{tag}")
    _check(page, "agent-compare")

    # Data browser: the storytellers table, filtered to ours, and its row.
    page.goto("/admin/data/")
    _check(page, "data-browser")
    page.locator("#data-tables").get_by_role("link", name=TABLE, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Table {TABLE}")
    check_accessibility(page, "data table")
    page.get_by_label("Column", exact=True).select_option("id")
    page.get_by_label("Equals", exact=True).fill(str(storyteller_id))
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#data-rows tbody tr")).to_have_count(1)
    _check(page, "data-table")
    page.get_by_role("link", name=str(storyteller_id)).click()
    expect(page.get_by_text(name).first).to_be_visible()
    _check(page, "data-row")

    # The audit log shows those reads.
    page.goto("/admin/audit/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    ours = page.locator("#audit-table tbody tr", has_text=name).filter(has_text="Ada Admin")
    reads = [t for t in ours.all_inner_texts() if "\tread\t" in t]
    # The data browser's table and row of this storyteller (the privacy page comes later).
    assert len(reads) >= 2, ours.all_inner_texts()
    _check(page, "audit-log")

    # Privacy: download the ZIP, erase with the wrong name (refused), then the right one.
    page.goto("/admin/privacy/")
    check_accessibility(page, "privacy list")
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    _check(page, "privacy-storyteller")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download everything (ZIP)").click()
    with zipfile.ZipFile(download_info.value.path()) as archive:
        names = archive.namelist()
        tables = [n for n in names if n.startswith("tables/") and n.endswith(".json")]
        assert tables, names
        storytellers = next(n for n in tables if n.startswith("tables/storyteller"))
        assert name in json.dumps(json.loads(archive.read(storytellers)))
    page.get_by_label("To confirm, type their name").fill("Someone Else")
    page.get_by_role("button", name=f"Erase {name}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nothing was changed")
    _check(page, "privacy-refused")
    with live_server.db() as db:
        assert db.get(Storyteller, storyteller_id) is not None
    page.go_back()
    check_accessibility(page, "privacy page again")
    page.get_by_label("To confirm, type their name").fill(name)
    page.get_by_role("button", name=f"Erase {name}").click()
    expect(page.get_by_text("Everything about the storyteller was erased")).to_be_visible()
    expect(page.get_by_role("link", name=name)).to_have_count(0)
    _check(page, "privacy-erased")
    with live_server.db() as db:
        assert db.get(Storyteller, storyteller_id) is None
