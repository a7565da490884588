# Kundenpuls: `make run` starts everything on SQLite, `make test` runs the suite on SQLite and PostgreSQL.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
PORT ?= 5000
STAFF_EMAIL ?= admin@example.com
STAFF_PASSWORD ?= kundenpuls-demo-2026
PG_CLUSTER = $(shell pg_lsclusters -h 2>/dev/null | awk 'NR==1{print $$1}')

.PHONY: run prod test lint fmt bench translations services clean

$(BIN)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(BIN)/.dev: $(BIN)/.runtime requirements-dev.txt
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

translations: $(BIN)/.runtime
	@$(BIN)/pybabel compile -d translations

run: $(BIN)/.runtime translations
	$(FLASK) db upgrade
	$(FLASK) demo seed --if-empty --customers 3000
	@$(FLASK) users create $(STAFF_EMAIL) --role admin --password $(STAFF_PASSWORD) --name "Demo Admin" >/dev/null
	@echo
	@echo "  Kundenpuls runs at http://127.0.0.1:$(PORT)/"
	@echo "  Staff login: $(STAFF_EMAIL) / $(STAFF_PASSWORD)"
	@echo "  Mail goes to the local mailbox at http://127.0.0.1:$(PORT)/mailbox (no SMTP_URL set)"
	@echo
	@$(FLASK) outbox status
	@echo
	@# Ctrl-C reaches every process here; the trap stops the scheduler (it ignores SIGINT in the background) and
	@# waits for it. `kill 0` would signal make itself, which then reported a "Segmentation fault".
	@trap 'kill $$(jobs -p) 2>/dev/null; wait' EXIT INT TERM; \
	  $(FLASK) scheduler run --interval 30 & \
	  $(FLASK) run --host 127.0.0.1 --port $(PORT)

# Production on this host: KUNDENPULS_ENV=production, SECRET_KEY and DATABASE_URL (PostgreSQL) must be set
# (the app refuses to start otherwise); gunicorn serves the web app and one scheduler process runs beside it.
prod: $(BIN)/.runtime translations
	KUNDENPULS_ENV=production $(FLASK) db upgrade
	@trap 'kill $$(jobs -p) 2>/dev/null; wait' EXIT INT TERM; \
	  KUNDENPULS_ENV=production $(FLASK) scheduler run & \
	  KUNDENPULS_ENV=production $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $(PG_CLUSTER) main start
	@for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
	@(command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1) || \
	  (command -v redis-server >/dev/null && redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null) || \
	  echo "redis is not running and could not be started: the shared rate-limit test will fail"
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null); } || \
	  echo "chromium is missing and could not be installed: browser tests will fail under CI=true"

test: $(BIN)/.dev translations services
	KP_TEST_DB=sqlite $(BIN)/pytest -p no:cacheprovider
	KP_TEST_DB=postgresql $(BIN)/pytest -p no:cacheprovider

lint: $(BIN)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

fmt: $(BIN)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(BIN)/.dev services
	$(BIN)/python -m bench.submit
	$(BIN)/python -m bench.dispatch
	$(BIN)/python -m bench.queue
	$(BIN)/python -m bench.analytics
	$(BIN)/python -m bench.lifecycle

clean:
	rm -rf $(VENV) instance .pytest_cache

i18n-update: $(BIN)/.runtime
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k _l -o translations/messages.pot --ignore-dirs=".venv migrations tests" .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching
