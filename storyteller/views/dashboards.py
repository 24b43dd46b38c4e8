"""Admin dashboards: LLM usage, cost, latency and sessions (charts, tables, CSV)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request

from storyteller import authz, dashboards, interview
from storyteller.day_input import parse_day
from storyteller.extensions import db
from storyteller.models import utcnow

bp = Blueprint("dashboards", __name__, url_prefix="/admin/dashboards")

PRESETS = {"7": 7, "30": 30, "90": 90}
DEFAULT_PRESET = "30"
MAX_DAYS = 400
DEFAULT_ABANDONED_AFTER_DAYS = 14
# Tables of more rows (a month by day) scroll inside a box of about this many rows, their
# heading and total kept in view, so the charts and tables that follow are not pages away.
LONG_TABLE_ROWS = 14


# The tables' figures, as filters: a month by day is a thousand cells, and a filter is a
# plain function call where a Jinja macro is several. A dash stands for "no figure".
@bp.app_template_filter("figure")
def figure(value: Any, digits: int = 0) -> str:
    """1234567 -> "1,234,567"; with digits, 1234.5 -> "1,234.50"; None -> "—"."""
    if value is None:
        return "—"
    return f"{value:,.{digits}f}" if digits else f"{value:,}"


@bp.app_template_filter("percentage")
def percentage(value: float | None) -> str:
    """0.1234 -> "12.3%"; None -> "—"."""
    return "—" if value is None else f"{value * 100:.1f}%"


@bp.app_template_filter("milliseconds")
def milliseconds(value: int | None) -> str:
    """1500 -> "1,500 ms"; None -> "—"."""
    return "—" if value is None else f"{value:,} ms"


class BadRequest(ValueError):
    """The address asks for something the dashboard cannot show; the message says why."""


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date
    preset: str  # "7", "30", "90" or "custom"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def _parse_day(value: str, label: str) -> date:
    try:
        return parse_day(value, label)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc


def _date_range(args: Any, today: date) -> DateRange:
    preset = args.get("range", "").strip() or (
        "custom" if args.get("from") or args.get("to") else DEFAULT_PRESET
    )
    if preset in PRESETS:
        return DateRange(today - timedelta(days=PRESETS[preset] - 1), today, preset)
    if preset != "custom":
        raise BadRequest("Choose a range of 7, 30 or 90 days, or your own dates.")
    if not args.get("from") or not args.get("to"):
        raise BadRequest("For your own dates, give both a first and a last date.")
    start = _parse_day(args["from"], "first")
    end = _parse_day(args["to"], "last")
    if end < start:
        raise BadRequest("The last date is before the first date.")
    if (end - start).days + 1 > MAX_DAYS:
        raise BadRequest(f"Choose at most {MAX_DAYS} days.")
    return DateRange(start, end, "custom")


def _group_by(args: Any, choices: dict[str, str]) -> str:
    group_by = args.get("group", "day").strip() or "day"
    if group_by not in choices:
        names = ", ".join(label.lower() for label in choices.values())
        raise BadRequest(f"Group by one of: {names}.")
    return group_by


def _wants_csv(args: Any) -> bool:
    fmt = args.get("format", "html")
    if fmt not in ("html", "csv"):
        raise BadRequest("The format must be html or csv.")
    return fmt == "csv"


def _asked_for(args: Any, today: date, groups: dict[str, str]) -> tuple[DateRange, str, bool]:
    """The range, the grouping and whether a CSV is wanted; BadRequest says what is wrong."""
    return _date_range(args, today), _group_by(args, groups), _wants_csv(args)


def _bad_request(template: str, message: str, **context: Any) -> tuple[str, int]:
    return render_template(template, error=message, **context), 400


def _csv(filename: str, header: list[str], rows: Iterable[list[Any]]) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _report_csv(
    name: str, span: DateRange, group_by: str, columns: list[tuple[str, Any]], report: Any
) -> Response:
    """Every row of a report, then its total ("All"), one column per (name, getter)."""
    return _csv(
        f"{name}-{span.start}-to-{span.end}-by-{group_by}.csv",
        [group_by, *(column for column, _ in columns)],
        [[row.label, *(get(row) for _, get in columns)] for row in report.rows]
        + [["All", *(get(report.total) for _, get in columns)]],
    )


def _ratio(value: float | None, digits: int = 4) -> float | None:
    return round(value, digits) if value is not None else None


LLM_CSV_COLUMNS: list[tuple[str, Callable[[dashboards.LlmUsageRow], Any]]] = [
    ("calls", lambda r: r.calls),
    ("failed_calls", lambda r: r.failed_calls),
    ("error_rate", lambda r: _ratio(r.error_rate)),
    ("fallback_calls", lambda r: r.fallback_calls),
    ("fallback_rate", lambda r: _ratio(r.fallback_rate)),
    ("prompt_tokens", lambda r: r.prompt_tokens),
    ("response_tokens", lambda r: r.response_tokens),
    ("priced_calls", lambda r: r.priced_calls),
    ("cost_usd", lambda r: r.cost if r.priced_calls else None),
    ("unpriced_calls", lambda r: r.unpriced_calls),
    ("latency_p50_ms", lambda r: r.latency_p50),
    ("latency_p95_ms", lambda r: r.latency_p95),
    ("ttft_p50_ms", lambda r: r.ttft_p50),
    ("ttft_p95_ms", lambda r: r.ttft_p95),
]

SESSION_CSV_COLUMNS: list[tuple[str, Callable[[dashboards.SessionRow], Any]]] = [
    ("scheduled", lambda r: r.scheduled),
    ("started", lambda r: r.started),
    ("completed", lambda r: r.completed),
    ("abandoned", lambda r: r.abandoned),
    ("avg_duration_minutes", lambda r: _ratio(r.avg_duration_minutes, 1)),
    ("avg_completion_percentage", lambda r: _ratio(r.avg_completion_percentage, 1)),
    ("avg_quality_score", lambda r: _ratio(r.avg_quality_score, 3)),
    ("avg_satisfaction", lambda r: _ratio(r.avg_satisfaction, 2)),
    ("rated_sessions", lambda r: r.satisfaction_n),
    ("artifacts_created", lambda r: r.artifacts_created),
    ("artifacts_approved", lambda r: r.artifacts_approved),
    ("artifacts_per_session", lambda r: _ratio(r.artifacts_per_session, 2)),
    ("approved_per_session", lambda r: _ratio(r.approved_per_session, 2)),
]


def _common(today: date) -> dict[str, Any]:
    return {
        "presets": PRESETS,
        "long_table_rows": LONG_TABLE_ROWS,
        "today": today,
        "errors_endpoint": "agent_errors.index" in current_app.view_functions,
    }


@bp.route("/")
@authz.roles_required("admin")
def index():
    today = utcnow().date()
    context = {**_common(today), "groups": dashboards.LLM_GROUPS, "args": request.args}
    try:
        span, group_by, as_csv = _asked_for(request.args, today, dashboards.LLM_GROUPS)
    except BadRequest as exc:
        return _bad_request("dashboards/llm.html", str(exc), **context)
    report = dashboards.llm_usage(
        db.session, span.start, span.end, group_by, today=today, every_group=as_csv
    )
    if as_csv:
        return _report_csv("llm-usage", span, group_by, LLM_CSV_COLUMNS, report)
    return render_template(
        "dashboards/llm.html",
        report=report,
        llm_enabled=interview.settings_from_config(current_app.config).llm.enabled,
        span=span,
        group_by=group_by,
        chart_data=_llm_chart_data(report),
        **context,
    )


def _llm_chart_data(report: dashboards.LlmUsageReport) -> dict[str, Any]:
    rows = report.shown_rows
    return {
        "labels": [row.label for row in rows],
        "calls": [row.calls - row.failed_calls for row in rows],
        "failed": [row.failed_calls for row in rows],
        "fallbacks": [row.fallback_calls for row in rows],
        "cost": [float(row.cost) if row.priced_calls else None for row in rows],
        "unpriced": [row.unpriced_calls for row in rows],
        "latency_p50": [row.latency_p50 for row in rows],
        "latency_p95": [row.latency_p95 for row in rows],
        "ttft_p50": [row.ttft_p50 for row in rows],
        "ttft_p95": [row.ttft_p95 for row in rows],
    }


def _abandoned_after_days() -> int:
    value = current_app.config.get("STORYTELLER_ABANDONED_AFTER_DAYS")
    try:
        return max(1, int(value)) if value is not None else DEFAULT_ABANDONED_AFTER_DAYS
    except (TypeError, ValueError):
        return DEFAULT_ABANDONED_AFTER_DAYS


@bp.route("/sessions")
@authz.roles_required("admin")
def sessions():
    today = utcnow().date()
    context = {**_common(today), "groups": dashboards.SESSION_GROUPS, "args": request.args}
    try:
        span, group_by, as_csv = _asked_for(request.args, today, dashboards.SESSION_GROUPS)
    except BadRequest as exc:
        return _bad_request("dashboards/sessions.html", str(exc), **context)
    report = dashboards.sessions(
        db.session,
        span.start,
        span.end,
        group_by,
        abandoned_after_days=_abandoned_after_days(),
    )
    if as_csv:
        return _report_csv("sessions", span, group_by, SESSION_CSV_COLUMNS, report)
    rows = report.rows
    chart_data = {
        "labels": [row.label for row in rows],
        "scheduled": [row.scheduled for row in rows],
        "started": [row.started for row in rows],
        "completed": [row.completed for row in rows],
        "abandoned": [row.abandoned for row in rows],
        "completion": [_ratio(row.avg_completion_percentage, 1) for row in rows],
        "quality": [
            _ratio(row.avg_quality_score * 100, 1) if row.avg_quality_score is not None else None
            for row in rows
        ],
        "satisfaction": [
            _ratio(row.avg_satisfaction * 20, 1) if row.avg_satisfaction is not None else None
            for row in rows
        ],
        "artifacts": [_ratio(row.artifacts_per_session, 2) for row in rows],
        "approved": [_ratio(row.approved_per_session, 2) for row in rows],
    }
    return render_template(
        "dashboards/sessions.html",
        report=report,
        span=span,
        group_by=group_by,
        chart_data=chart_data,
        **context,
    )
