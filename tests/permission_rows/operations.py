"""Permission rows: /healthz, /readyz and /metrics do not depend on who is signed in.

/healthz and /readyz are public. The test database is made with create_all and carries no
Alembic revision, so /readyz honestly answers 503 there (tests/test_operations.py checks 200
at the head). /metrics opens to the METRICS_TOKEN or to this machine whatever the role; the
test client comes from 127.0.0.1 with no proxy header, so everyone gets 200 (the refusals
from elsewhere are in tests/test_operations.py).
"""

from __future__ import annotations

from tests.permissions_common import ROLES, Route

ROWS = {
    "operations.healthz": Route("GET", lambda s, own: "/healthz", other=dict.fromkeys(ROLES, 200)),
    "operations.readyz": Route("GET", lambda s, own: "/readyz", other=dict.fromkeys(ROLES, 503)),
    "operations.prometheus_metrics": Route(
        "GET", lambda s, own: "/metrics", other=dict.fromkeys(ROLES, 200)
    ),
}
