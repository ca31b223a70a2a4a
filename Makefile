# The README's two commands are `make run` and `make test`; everything else
# here serves them. Each target sets up what it needs on a fresh machine.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# Runs a command with the devstack's variables and its view of registry.test.
IN_DEVSTACK := devstack/exec
PYTEST_ARGS ?=

.PHONY: run test lint venv devstack devstack-down unit integration browser faults clean

## the dashboard on the devstack at http://127.0.0.1:8000/ (Ctrl-C stops it all)
run: venv devstack
	$(IN_DEVSTACK) $(PY) manage.py migrate --noinput
	$(IN_DEVSTACK) $(PY) manage.py seed_devstack
	@echo "dchweb: http://127.0.0.1:8000/  (Ctrl-C stops the dashboard and the devstack)"
	@echo "dchweb: mail it would send is written to var/mail/ (DCHWEB_EMAIL_HOST sends it instead)"
	trap 'devstack/down' EXIT; $(IN_DEVSTACK) $(VENV)/bin/honcho -f Procfile start

## the whole suite: lint, unit, integration (real engine, registry, Redis, worker), browser
test: venv devstack lint
	$(IN_DEVSTACK) $(VENV)/bin/pytest $(PYTEST_ARGS)

## the same suite on PostgreSQL: a private cluster (devstack/postgres) and DATABASE_URL;
## tests marked `once` (the soak, the token and directory fuzz runs, the browser tests
## but the accessibility walk at 1366 px) ran in `make test`
.PHONY: test-postgres
test-postgres: venv devstack lint
	devstack/postgres
	set -a && . var/devstack/postgres.env && set +a && $(IN_DEVSTACK) $(VENV)/bin/pytest -m "not once" $(PYTEST_ARGS)

unit: venv
	$(VENV)/bin/pytest tests/unit $(PYTEST_ARGS)

integration: venv devstack
	$(IN_DEVSTACK) $(VENV)/bin/pytest -m integration $(PYTEST_ARGS)

browser: venv devstack
	$(IN_DEVSTACK) $(VENV)/bin/pytest -m browser $(PYTEST_ARGS)

faults: venv devstack
	$(IN_DEVSTACK) $(VENV)/bin/pytest -m faults $(PYTEST_ARGS)

## hostile input: fuzzed API (schemathesis), tokens, CSRF, escaping in Chromium, uploads
.PHONY: badinput
badinput: venv devstack
	$(IN_DEVSTACK) $(VENV)/bin/pytest -m badinput $(PYTEST_ARGS)

## time to a ready build host: dchweb against docker-py by hand (bench/README.md)
.PHONY: bench-provision
bench-provision: venv devstack
	$(IN_DEVSTACK) $(PY) bench/provision.py

## a build host from the warm pool against a cold one by hand, then 10 requests at once;
## a rebuild on the owner's build cache against one on a fresh engine (bench/README.md)
.PHONY: bench-pool bench-cache
bench-pool: venv devstack
	flock -x /tmp/dchweb-bench.lock $(IN_DEVSTACK) $(PY) bench/pool.py

bench-cache: venv devstack
	flock -x /tmp/dchweb-bench.lock $(IN_DEVSTACK) $(PY) bench/cache.py

## 15 minutes of pipelines and page/API clients with a fault every 3 (bench/README.md);
## it restarts this checkout's engine, Redis and registry: not while tests use them
.PHONY: bench-soak
bench-soak: venv devstack
	$(IN_DEVSTACK) $(PY) bench/soak.py

## ruff, the import contracts, shellcheck and missing migrations: all four run,
## and lint fails if any of them does (-k keeps going after the first failure)
lint: venv
	@$(MAKE) --no-print-directory -k lint-ruff lint-imports lint-shell lint-migrations

.PHONY: lint-ruff lint-imports lint-shell lint-migrations
lint-ruff: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The contracts are in pyproject.toml ([tool.importlinter]); docs/architecture.md
# explains them. No cache: the check takes a second and leaves no folder behind.
lint-imports: venv
	$(VENV)/bin/lint-imports --no-cache

# Every shell script in devstack/ and .ci/: *.sh (sourced, no shebang) and any
# file whose first line is a sh or bash shebang, whatever its name.
SHELL_SCRIPTS = $(shell find devstack .ci -type f \( -name '*.sh' -o -exec sh -c \
	'head -n1 "$$1" | grep -qE "^\#!.*[/ ](ba|da)?sh\b"' _ {} \; \) -print | sort)

# Installs Debian's shellcheck when missing, with the devstack's own helper.
lint-shell:
	@command -v shellcheck >/dev/null || \
	  bash -euo pipefail -c 'source devstack/lib.sh && install_packages shellcheck'
	shellcheck -x $(SHELL_SCRIPTS)

# An in-memory SQLite and no DATABASE_URL: makemigrations reads the migration
# history of the database it is given, and this check must neither need nor
# touch a real one (nor create var/ on a fresh clone).
lint-migrations: venv
	env -u DATABASE_URL DCHWEB_SQLITE_PATH=:memory: DCHWEB_TEST_SQLITE_PATH=:memory: \
	  $(PY) manage.py makemigrations --check --dry-run

venv: $(VENV)/.installed

# What the venv needs from Debian on a fresh machine: venv itself, and for
# python-ldap (built from source) a C compiler with the Python, OpenLDAP and
# SASL headers. Installed when missing, with the devstack's own helper.
VENV_PACKAGES := python3-venv python3-dev gcc libc6-dev libldap2-dev libsasl2-dev

$(VENV)/.installed: requirements.txt requirements-dev.txt
	bash -euo pipefail -c 'source devstack/lib.sh && install_packages $(VENV_PACKAGES)'
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

devstack:
	devstack/up

devstack-down:
	devstack/down

## removes the venv and the devstack's state (images cached in ~/.cache/dchweb stay)
clean: devstack-down
	rm -rf $(VENV) var
