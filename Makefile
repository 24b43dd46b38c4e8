# Storyteller developer commands.
#
#   make run     install, migrate, seed the demo data, start the worker and the web app
#   make test    install, then run the test suite
#
# Needs python3 (>= 3.11), node and npm. Everything else is installed into
# $(VENV) (Python) and node_modules/ -> static/vendor/ (front-end libraries).

VENV ?= .venv
PYTHON ?= python3
PY = $(VENV)/bin/python
PORT ?= 5000
PYTEST_ARGS ?=

PY_STAMP = $(VENV)/.installed
VENDOR_STAMP = static/vendor/.stamp

export FLASK_APP ?= wsgi.py

.DEFAULT_GOAL := help
.PHONY: help install vendor run test lint bench clean distclean

help:
	@echo "make install    create $(VENV), pip install -e '.[test]', npm ci and vendor the JS"
	@echo "make run        install, migrate, seed demo data, run worker + app on 127.0.0.1:$(PORT)"
	@echo "make test       install, then pytest (PYTEST_ARGS='-k foo' to narrow)"
	@echo "make lint       ruff check ."
	@echo "make bench      run every bench/*.py"
	@echo "make vendor     copy htmx, axe-core and Chart.js into static/vendor/"
	@echo "make clean      remove node_modules, static/vendor and caches (keeps $(VENV))"
	@echo "make distclean  clean, and remove $(VENV) too"

install: $(PY_STAMP) $(VENDOR_STAMP)

# The venv is (re)created when it has no working pip, e.g. after an
# interrupted `python3 -m venv`; an existing venv is reused as it is.
$(PY_STAMP): pyproject.toml
	@if ! $(PY) -m pip --version >/dev/null 2>&1; then \
		echo "Creating virtualenv in $(VENV)"; \
		$(PYTHON) -m venv $(VENV); \
	fi
	$(PY) -m pip install --disable-pip-version-check -q -e '.[test]'
	@touch $@

vendor: $(VENDOR_STAMP)

$(VENDOR_STAMP): package.json package-lock.json scripts/vendor.mjs
	npm ci --ignore-scripts --no-audit --no-fund
	node scripts/vendor.mjs
	@touch $@

# The worker is started only once storyteller/tasks.py exists, and is stopped
# when the web server stops (Ctrl-C included).
run: install
	$(VENV)/bin/flask db upgrade
	$(VENV)/bin/flask seed-demo
	@worker=; \
	trap 'if [ -n "$$worker" ]; then kill "$$worker" 2>/dev/null; wait "$$worker" 2>/dev/null; fi' EXIT; \
	trap 'exit 130' INT TERM; \
	if [ -f storyteller/tasks.py ]; then \
		$(VENV)/bin/huey_consumer storyteller.tasks.huey & worker=$$!; \
		echo "Started worker (pid $$worker)"; \
	else \
		echo "storyteller/tasks.py not found: not starting the background worker"; \
	fi; \
	$(VENV)/bin/flask run --host 127.0.0.1 --port $(PORT)

# pytest's own exit code is kept: 5 (no tests collected) fails this target.
test: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(PY_STAMP)
	$(VENV)/bin/ruff check .

bench: install
	@set -e; found=0; \
	for script in bench/*.py; do \
		[ -f "$$script" ] || continue; \
		found=1; \
		echo "== $$script"; \
		$(PY) "$$script"; \
	done; \
	if [ "$$found" = 0 ]; then echo "No bench/*.py scripts yet."; fi

clean:
	rm -rf node_modules static/vendor .pytest_cache .ruff_cache test-artifacts build dist
	rm -rf *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
