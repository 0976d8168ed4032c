# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run worker serve db migrate superuser test lint format bench bench-http bench-slow bench-search bench-import-jobs fuzz clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

db: install
	DJANGO_DEBUG=$${DJANGO_DEBUG:-true} $(PY) manage.py ensure_database

migrate: db
	DJANGO_DEBUG=$${DJANGO_DEBUG:-true} $(PY) manage.py migrate --no-input

# Local development: the web server with debug on and a background worker beside it; Ctrl-C
# stops both.
run: migrate
	@export DJANGO_DEBUG=$${DJANGO_DEBUG:-true}; \
	$(PY) manage.py procrastinate worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT)

# The background worker alone (run it beside `make serve`, as many as you like, on any
# machine that reaches the database): the Procfile's `worker:` line.
worker: install
	DJANGO_DEBUG=$${DJANGO_DEBUG:-false} $(PY) manage.py procrastinate worker \
		--concurrency $${WORKER_CONCURRENCY:-4}

# An admin account for /admin/ and the pages' login (asks for username, name and password).
superuser: migrate
	DJANGO_DEBUG=$${DJANGO_DEBUG:-true} $(PY) manage.py createsuperuser

# Production-style server (needs DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS). Debug is off
# here whatever the environment or a developer's .env says.
serve: install
	DJANGO_DEBUG=false $(PY) manage.py ensure_database
	DJANGO_DEBUG=false $(PY) manage.py migrate --no-input
	DJANGO_DEBUG=false $(PY) manage.py collectstatic --no-input
	DJANGO_DEBUG=false $(BIN)/granian --interface asgi --host $(HOST) --port $(PORT) \
		--workers $${WEB_CONCURRENCY:-2} --loop uvloop --no-ws issuetracker.serving:application

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_DEBUG=true $(BIN)/mypy tracker issuetracker
	DJANGO_DEBUG=true $(PY) manage.py makemigrations --check --dry-run

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Every figure beside a baseline measured in the same run (see README, Benchmarks).
bench: install
	$(PY) bench/run.py
	$(PY) bench/http_bench.py
	$(PY) bench/slow_clients.py
	$(PY) bench/search_bench.py
	$(PY) bench/migration_bench.py
	$(PY) bench/notifications_bench.py
	$(PY) bench/webhooks_bench.py
	$(PY) bench/markdown_bench.py

# The background import beside manage.py import_issues (ROWS=1000000 by default; long).
bench-import-jobs: install
	$(PY) bench/import_jobs.py

# The hot API paths over HTTP with wrk (PEER_URL=... to compare with another server).
bench-http: install
	$(PY) bench/http_bench.py

# Search and the CSV export at a million issues and two million comments.
bench-search: install
	$(PY) bench/search_bench.py

# 200 clients trickling headers or bodies while ordinary requests are timed; a long upload.
bench-slow: install
	$(PY) bench/slow_clients.py

# Schemathesis against a live server on a scratch database, in both auth modes, for
# FUZZ_SECONDS in all (default 300); fails on any 5xx or any answer the schema does not allow
# (bench/fuzz.py).
fuzz: install
	FUZZ_SECONDS=$${FUZZ_SECONDS:-300} $(PY) bench/fuzz.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache .mypy_cache
