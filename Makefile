# rtio — the front door. `make demo` runs the demo; `make test` runs everything CI runs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO   ?= cargo
NPM     ?= npm
PYTHON  ?= python3
VENV    := .venv
INTEROP := tests/interop
NODE_MODULES := $(INTEROP)/node_modules/.package-lock.json
PY_DEPS := $(VENV)/.installed

.PHONY: help demo test build fmt lint unit interop interop-js interop-python engineio browser deps clean

help:
	@echo "make demo    build and start the demo (visitor counter + chat) at http://127.0.0.1:3000"
	@echo "make test    lint, unit and integration tests, interop suites with the official clients"
	@echo "make fmt     format the Rust code"
	@echo "make lint    rustfmt --check and clippy -D warnings"
	@echo "make clean   remove build outputs and installed test dependencies"

# --- dependencies (npm and PyPI packages for the official clients and the demo bundle) -------
$(NODE_MODULES): $(INTEROP)/package.json $(INTEROP)/package-lock.json
	cd $(INTEROP) && $(NPM) install --no-audit --no-fund
	touch $@

$(PY_DEPS): $(INTEROP)/python/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r $(INTEROP)/python/requirements.txt
	touch $@

deps: $(NODE_MODULES) $(PY_DEPS)

# --- build -------------------------------------------------------------------------------------
build:
	$(CARGO) build --release -p rtio-examples

demo: $(NODE_MODULES) build
	PORT=$${PORT:-3000} ./target/release/demo

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# --- tests -------------------------------------------------------------------------------------
unit:
	$(CARGO) test --workspace

interop-js: $(NODE_MODULES) build
	RTIO_HOST=rust node --test $(INTEROP)/js/

interop-python: $(PY_DEPS) build
	RTIO_HOST=rust $(VENV)/bin/python -m pytest -q $(INTEROP)/python

engineio: $(NODE_MODULES) build
	node --test $(INTEROP)/engineio/

browser: $(NODE_MODULES) build
	node --test $(INTEROP)/browser/

interop: interop-js interop-python engineio browser

# Each part of the project adds its own test targets to TEST_TARGETS in its .mk file.
TEST_TARGETS := lint unit interop
-include ffi-c/c.mk bindings-python/python.mk bindings-node/node.mk bench/bench.mk server/serve.mk
-include $(INTEROP)/cluster/cluster.mk

test: $(TEST_TARGETS)

clean:
	$(CARGO) clean
	rm -rf $(VENV) $(INTEROP)/node_modules
