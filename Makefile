# The two commands a newcomer needs: `make demo` and `make test`. Both set everything up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test bench soak hosts lint audit clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[demo,test,bench]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/dsr demo

test: $(STAMP)
	$(BIN)/pytest

# ruff (lint and format), mypy (strict on the source; tests and benchmarks too, less strict),
# the import contracts in pyproject.toml, and the README's drawing of them (tools/drawing.py).
# Under a minute from cold caches.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python tools/drawing.py

# Known vulnerabilities in the installed packages (pip-audit); exit 3 and a plain message when no
# vulnerability database is reachable (then nothing was audited).
audit: $(STAMP)
	$(BIN)/python tools/audit.py

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

# Faults on a schedule against the soak's own PostgreSQL, Redis and SMTP servers (~5 minutes);
# the invariants are checked at the end. A short version runs in `make test`.
soak: $(STAMP)
	$(BIN)/python -m benchmarks.soak.run

# Two worker hosts as network namespaces sharing only the servers; one killed mid-run (root and
# `ip netns` needed; ~4 minutes). A 60-request version runs in `make test` where it can.
hosts: $(STAMP)
	$(BIN)/python -m benchmarks.hosts.run

clean:
	rm -rf var .pytest_cache .hypothesis
