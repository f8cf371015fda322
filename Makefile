# Tradewind developer entry points. Both targets install what they need.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
export TRADEWIND_HOME ?= $(HOME)/tradewind

.PHONY: run test install install-dev services bench clean

$(VENV)/.installed: pyproject.toml
	bash scripts/make-venv.sh $(PYTHON) $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[postgres,compat,examples]'
	touch $@

$(VENV)/.dev-installed: pyproject.toml
	bash scripts/make-venv.sh $(PYTHON) $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

install-dev: $(VENV)/.dev-installed

## make run: install, migrate the DB and start standalone with the example DAGs.
run: install
	$(VENV)/bin/tradewind db migrate
	$(VENV)/bin/tradewind standalone

## make test: install dev dependencies and test services, then run the whole suite.
test: install-dev services
	$(VENV)/bin/ruff check src tests bench
	$(PY) -m pytest -n 2 --dist loadgroup

## Services the tests need (PostgreSQL server binaries); installed with apt when missing.
services:
	@bash scripts/install-services.sh

bench: install-dev
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
