"""The WSGI entry point: `gunicorn wsgi:app`, or `flask --app wsgi run`."""

import gc

from storyteller import create_app

app = create_app()
# The objects made at start-up live as long as the process: out of the garbage collector's
# sight, its full collections stop costing a request 100-250 ms (bench/operator_dashboards.py).
gc.freeze()
