# Warden: `make run` starts the gateway, `make test` runs everything.
# Both set up what they need from nothing but python3, make and the package
# registries (a virtual environment, the npm clients for the end-to-end tests,
# a throwaway PostgreSQL when none is running).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
E2E_DIR := tests/e2e
E2E_STAMP := $(E2E_DIR)/node_modules/.installed
CONFIG ?= examples/quickstart.yaml

.PHONY: run test lint typecheck unit bench setup node clean

setup: $(STAMP)

# python3-saml needs lxml and xmlsec built against the system's libxml2
# (their binary wheels bundle different copies and refuse to load together);
# the tests' SAML identity provider (pysaml2) runs the xmlsec1 program.
SAML_DEBS := xmlsec1 libxmlsec1-dev libxml2-dev libxslt1-dev pkg-config gcc python3-dev

$(STAMP): pyproject.toml
	@{ pkg-config --exists xmlsec1 && command -v xmlsec1; } >/dev/null 2>&1 || { \
	  echo "installing the SAML build dependencies from the Debian packages"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SAML_DEBS); }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-binary lxml,xmlsec -e '.[dev]'
	touch $@

node:
	@command -v npm >/dev/null 2>&1 || { \
	  echo "installing Node.js and npm from the Debian packages"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; }

$(E2E_STAMP): $(E2E_DIR)/package.json $(E2E_DIR)/package-lock.json | node
	npm ci --prefix $(E2E_DIR) --no-audit --no-fund --loglevel=error
	touch $@

run: $(STAMP)
	mkdir -p var
	$(BIN)/warden serve -c $(CONFIG)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) $(E2E_STAMP) lint typecheck
	WARDEN_TEST_PG_URL="$${WARDEN_TEST_PG_URL:-$$(bash scripts/ensure-postgres.sh)}" \
	  $(BIN)/pytest -q

unit: $(STAMP)
	$(BIN)/pytest -q --ignore=tests/e2e

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/run_all.py --out docs/benchmarks.md

clean:
	rm -rf $(VENV) $(E2E_DIR)/node_modules .mypy_cache .ruff_cache .pytest_cache
