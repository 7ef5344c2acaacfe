# The Python binding (bindings-python/): wheel, install into .venv, tests.
# Included by the top Makefile; every path is relative to the repository root.
#
#   make wheel           the abi3 wheel (CPython 3.9+) in dist/
#   make python-install  build the wheel (release) and install it into .venv when stale
#   make test-python     the binding's pytest suite, then both interop suites against the
#                        Python scenarios server (official socket.io-client and python-socketio)
#   make test-python-mounted  both interop suites against the scenarios server mounted in
#                        gunicorn (WSGIApp), uvicorn (ASGIApp) and aiohttp (attach): hosts
#                        python-wsgi, python-asgi, python-aiohttp (issue 17)
#   make dist-python     what a PyPI upload takes, in dist/: the abi3 wheel (CPython 3.9+) tagged
#                        manylinux_2_17 (maturin --zig with zig from PyPI's `ziglang`, maturin's
#                        manylinux compliance check on) and the sdist (builds from source)
#   make test-dist-python  the wheel installed into a fresh venv with no cargo or rustc on PATH:
#                        the examples and the binding's test suite against the installed package
#                        (tests/packaging/python/test-dist.sh)
#   make test-sdist-python  the sdist built from source in a fresh venv (needs cargo; a cold
#                        release build, about 4 minutes: not in `make test`)

.PHONY: wheel python-install test-python python-unit interop-js-python interop-python-python \
        test-python-mounted dist-python test-dist-python test-sdist-python

PY_BINDING   := bindings-python
PY_MATURIN   := $(VENV)/.maturin-installed
PY_INSTALLED := $(VENV)/.rtio-installed
PY_WHEELDIR  := target/python-wheel
PY_SOURCES   := $(shell find $(PY_BINDING)/src $(PY_BINDING)/python core/src redis/src -type f \
                  -not -name '*.pyc' -not -name '*.so' 2>/dev/null) \
                $(PY_BINDING)/Cargo.toml $(PY_BINDING)/pyproject.toml core/Cargo.toml redis/Cargo.toml \
                Cargo.lock

$(PY_MATURIN): $(PY_DEPS)
	$(VENV)/bin/pip install --quiet "maturin>=1.16,<2"
	touch $@

$(PY_INSTALLED): $(PY_MATURIN) $(PY_SOURCES)
	rm -rf $(PY_WHEELDIR)
	$(VENV)/bin/maturin build --quiet --release -m $(PY_BINDING)/Cargo.toml \
		--interpreter $(VENV)/bin/python -o $(PY_WHEELDIR)
	$(VENV)/bin/pip install --quiet --force-reinstall --no-deps $(PY_WHEELDIR)/rtio-*.whl
	touch $@

python-install: $(PY_INSTALLED)

wheel: $(PY_MATURIN)
	$(VENV)/bin/maturin build --release -m $(PY_BINDING)/Cargo.toml -o dist

python-unit: $(PY_INSTALLED)
	$(VENV)/bin/python -m pytest -q $(PY_BINDING)/tests

interop-js-python: $(PY_INSTALLED) $(NODE_MODULES)
	RTIO_PY_BUILT=1 RTIO_HOST=python node --test $(INTEROP)/js/

interop-python-python: $(PY_INSTALLED) $(PY_DEPS) $(NODE_MODULES)
	RTIO_PY_BUILT=1 RTIO_HOST=python $(VENV)/bin/python -m pytest -q $(INTEROP)/python

test-python: python-unit interop-js-python interop-python-python

PY_MOUNTED_HOSTS := python-wsgi python-asgi python-aiohttp

test-python-mounted: $(PY_INSTALLED) $(PY_DEPS) $(NODE_MODULES)
	set -e; for host in $(PY_MOUNTED_HOSTS); do \
		RTIO_PY_BUILT=1 RTIO_HOST=$$host node --test $(INTEROP)/js/; \
		RTIO_PY_BUILT=1 RTIO_HOST=$$host $(VENV)/bin/python -m pytest -q $(INTEROP)/python; \
	done

# --- distribution (issue 21) -------------------------------------------------------------
# zig links the extension against glibc 2.17's symbols (manylinux2014) whatever this machine's
# glibc is; it comes from PyPI (the `ziglang` package), into .venv.
PY_ZIG        := $(VENV)/.ziglang-installed
PY_DIST_STAMP := target/dist-python/.built
PY_DIST_COMPAT ?= manylinux2014

$(PY_ZIG): $(PY_MATURIN)
	$(VENV)/bin/pip install --quiet "ziglang==0.17.1"
	touch $@

# Its own target directory: the zig-linked build (with --target) shares nothing with the
# host build, and waits for no other cargo run's lock.
$(PY_DIST_STAMP): $(PY_ZIG) $(PY_SOURCES) $(PY_BINDING)/README.md $(PY_BINDING)/LICENSE
	mkdir -p dist target/dist-python
	rm -f dist/rtio-*.whl dist/rtio-*.tar.gz
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" CARGO_TARGET_DIR=target/dist-python \
		$(VENV)/bin/maturin build --release --strip -m $(PY_BINDING)/Cargo.toml --zig \
		--compatibility $(PY_DIST_COMPAT) --interpreter $(VENV)/bin/python -o dist
	$(VENV)/bin/maturin sdist -m $(PY_BINDING)/Cargo.toml -o dist
	touch $@

# (built again when dist/ lost them since)
dist-python: $(PY_DIST_STAMP)
	@ls dist/rtio-*manylinux*.whl dist/rtio-*.tar.gz >/dev/null 2>&1 || \
		{ rm -f $(PY_DIST_STAMP); $(MAKE) --no-print-directory $(PY_DIST_STAMP); }

test-dist-python: dist-python
	PYTHON=$(PYTHON) tests/packaging/python/test-dist.sh dist

test-sdist-python: dist-python
	PYTHON=$(PYTHON) tests/packaging/python/test-sdist.sh dist

TEST_TARGETS += test-python test-python-mounted test-dist-python
