"""Running it in production: /healthz, /readyz and /metrics (Prometheus).

/healthz and /readyz are public (a load balancer asks them without signing in) and say
nothing private. /metrics answers only the bearer of METRICS_TOKEN or a request from this
machine that no proxy forwarded (``metrics.may_scrape``); everyone else gets 404, as if it
did not exist.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, jsonify, request

from storyteller import metrics, readiness
from storyteller.extensions import db

bp = Blueprint("operations", __name__)

bp.before_app_request(metrics.observe_request_start)
bp.after_app_request(metrics.observe_request_end)

NO_STORE = {"Cache-Control": "no-store"}


@bp.route("/healthz")
def healthz():
    return Response("ok\n", mimetype="text/plain", headers=NO_STORE)


@bp.route("/readyz")
def readyz():
    state = readiness.check_readiness(db.session, current_app.extensions["migrate"].directory)
    response = jsonify(state.as_dict())
    response.status_code = 200 if state.ready else 503
    response.headers.update(NO_STORE)
    return response


@bp.route("/metrics")
def prometheus_metrics():
    if not metrics.may_scrape(
        remote_addr=request.remote_addr,
        headers=request.headers,
        token=current_app.config.get("METRICS_TOKEN"),
        behind_proxy=bool(current_app.config.get("STORYTELLER_PROXY_FIX")),
    ):
        abort(404)
    body, content_type = metrics.render_metrics(db.session)
    return Response(body, content_type=content_type, headers=NO_STORE)
