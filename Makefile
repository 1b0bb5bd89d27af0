# townstat: the two commands are `make run` and `make test`.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
RUN := $(UV) run --frozen
SCALE ?= county
SEED ?= 7
# The one Dagster instance `make run`, `townstat refresh`, `townstat status`, the sensor and
# `make ui` share (its dagster.yaml is tracked in git); the command line defaults to the same
# folder when run from here. Set DAGSTER_HOME (an absolute path) to use another.
export DAGSTER_HOME ?= $(CURDIR)/dagster_home

.PHONY: run test system env lint ui bench demo docs clean

## system: install the system programs the tests need when missing (scripts/setup-system.sh)
system:
	@bash scripts/setup-system.sh

env: .venv/.synced
.venv/.synced: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || test -x $(UV) || python3 -m pip install --quiet --user uv
	$(UV) sync --frozen
	@touch $@

## run: create the environment, write county demo data into raw/ when it is empty, refresh the warehouse
run: env
	@mkdir -p raw warehouse
	@if [ -z "$$(ls -A raw | grep -v "^\.gitkeep$$")" ]; then $(RUN) townstat demo-data --scale $(SCALE) --seed $(SEED) --out raw; fi
	$(RUN) townstat refresh --raw raw
	@echo "Dagster 实例 instance: $(DAGSTER_HOME)；查看运行记录 / see the runs: make ui"

## test: the whole suite, on SQLite and on a real PostgreSQL the tests start themselves
## (first installs what is missing: PostgreSQL server, Chromium, CJK fonts, uv)
test: system env
	$(RUN) ruff check .
	$(RUN) pytest -n 2 -q

lint: env
	$(RUN) ruff check .

## ui: the Dagster UI on http://127.0.0.1:3000
ui: env
	@mkdir -p "$(DAGSTER_HOME)"
	$(RUN) dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

bench: env
	$(RUN) python bench/run.py --scale $(SCALE)

docs: env
	$(RUN) python -m pipelines.warehouse.dictionary

clean:
	rm -rf warehouse/warehouse.sqlite* warehouse/cache warehouse/staging
