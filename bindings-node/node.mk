# The Node binding (bindings-node/, npm package `rtio`): addon build, tests, packed install.
# Included by the top Makefile; every path is relative to the repository root.
#
#   make node-build        npm dependencies of bindings-node, then the native addon
#                          (`napi build --platform --release`) when missing or older than the
#                          Rust sources (no cargo run at all when it is current)
#   make node-pack         rtio-<version>.tgz in dist/ with the addon of this machine's build
#                          (npm pack in bindings-node; needs cargo; for this machine only)
#   make dist-node         what an npm upload takes, dist/rtio-<version>.tgz: the package's files
#                          (npm's own selection, `files` in package.json) with the addon prebuilt
#                          for linux (rtio.linux-x64-gnu.node) linked by zig against glibc 2.17's
#                          symbols (zig from PyPI's `ziglang`, driven by maturin's `zig cc`, both
#                          in .venv), so that installing it needs no Rust and any glibc >= 2.17
#   make test-dist-node    that tarball installed into a fresh npm project with no cargo or
#                          rustc on PATH: an app with require and one with import; its contents
#                          (`npm pack --dry-run --json`) are only what an app needs
#   make test-node         the binding's node:test suite; the packed tarball installed into a
#                          fresh npm project with a smoke test; both interop suites against the
#                          Node scenarios server (official socket.io-client and python-socketio),
#                          on rtio's own listener and attached to an http.Server (node-http)

.PHONY: node-build node-pack dist-node test-dist-node test-node node-unit node-pack-smoke interop-js-node interop-python-node \
	interop-js-node-http interop-python-node-http

NODE_PKG  := bindings-node
NODE_DEPS := $(NODE_PKG)/node_modules/.package-lock.json

$(NODE_DEPS): $(NODE_PKG)/package.json $(NODE_PKG)/package-lock.json
	cd $(NODE_PKG) && RTIO_SKIP_BUILD=1 $(NPM) install --no-audit --no-fund
	touch $@

node-build: $(NODE_DEPS)
	cd $(NODE_PKG) && node scripts/install.js

NODE_VERSION = $(shell node -p "require('./$(NODE_PKG)/package.json').version")

node-pack: node-build
	mkdir -p dist
	rm -f dist/rtio-$(NODE_VERSION).tgz
	cd $(NODE_PKG) && $(NPM) pack --pack-destination ../dist

# --- distribution (issue 21) -------------------------------------------------------------
NODE_DIST_DIR    := target/dist-node
NODE_DIST_ARCH   := $(shell uname -m)
NODE_DIST_TARGET := $(NODE_DIST_ARCH)-unknown-linux-gnu
NODE_DIST_ADDON  := $(NODE_DIST_DIR)/$(NODE_DIST_TARGET)/release/librtio_node.so
NODE_DIST_NAME   := rtio.linux-$(if $(filter aarch64,$(NODE_DIST_ARCH)),arm64,x64)-gnu.node
NODE_RS_SOURCES  := $(shell find $(NODE_PKG)/src core/src redis/src -type f 2>/dev/null) \
                    $(NODE_PKG)/Cargo.toml $(NODE_PKG)/build.rs core/Cargo.toml redis/Cargo.toml Cargo.lock
NODE_ZIGCC       := $(NODE_DIST_DIR)/zigcc.sh

# zig as C compiler and linker of the cargo build (what `maturin --zig` does for the wheel);
# its own target directory: shares nothing with the host build, waits for no other's lock
$(NODE_ZIGCC): $(PY_ZIG)
	mkdir -p $(NODE_DIST_DIR)
	printf '%s\n' '#!/bin/sh' \
		'export CARGO_ZIGBUILD_ZIG_COMMAND="$(CURDIR)/$(VENV)/bin/python3"' \
		"export CARGO_ZIGBUILD_ZIG_COMMAND_ARGS='-m ziglang'" \
		'exec "$(CURDIR)/$(VENV)/bin/maturin" zig cc -- -g -fno-sanitize=all -target $(NODE_DIST_ARCH)-linux-gnu.2.17 "$$@"' >$@
	chmod +x $@

$(NODE_DIST_ADDON): $(NODE_ZIGCC) $(NODE_RS_SOURCES)
	CARGO_TARGET_DIR=$(NODE_DIST_DIR) CC_$(subst -,_,$(NODE_DIST_TARGET))="$(CURDIR)/$(NODE_ZIGCC)" \
		CARGO_TARGET_$(shell echo $(NODE_DIST_TARGET) | tr a-z- A-Z_)_LINKER="$(CURDIR)/$(NODE_ZIGCC)" \
		$(CARGO) build --release --target $(NODE_DIST_TARGET) -p rtio-node
	touch $@

# the package staged in target/dist-node/pkg: the files npm selects in bindings-node (but
# addons built here), plus the zig-linked addon; its prepack (scripts/install.js) loads it
dist-node: $(NODE_DIST_ADDON)
	mkdir -p dist
	cd $(NODE_PKG) && NPM=$(NPM) node scripts/stage-dist.js "$(CURDIR)/$(NODE_DIST_DIR)/pkg" \
		"$(CURDIR)/$(NODE_DIST_ADDON)" $(NODE_DIST_NAME)
	rm -f dist/rtio-$(NODE_VERSION).tgz
	cd $(NODE_DIST_DIR)/pkg && $(NPM) pack --pack-destination $(CURDIR)/dist

test-dist-node: dist-node
	$(NODE_PKG)/scripts/pack-smoke.sh --no-rust dist/rtio-$(NODE_VERSION).tgz

# the seed-app tests also run each app on the reference socket.io from tests/interop
node-unit: node-build $(NODE_MODULES)
	cd $(NODE_PKG) && node --test __test__/

node-pack-smoke: node-build
	$(NODE_PKG)/scripts/pack-smoke.sh

interop-js-node: node-build $(NODE_MODULES)
	RTIO_HOST=node node --test $(INTEROP)/js/

interop-python-node: node-build $(PY_DEPS)
	RTIO_HOST=node $(VENV)/bin/python -m pytest -q $(INTEROP)/python

# the scenarios server attached to an http.Server of its own (io.attach(httpServer))
interop-js-node-http: node-build $(NODE_MODULES)
	RTIO_HOST=node-http node --test $(INTEROP)/js/

interop-python-node-http: node-build $(PY_DEPS)
	RTIO_HOST=node-http $(VENV)/bin/python -m pytest -q $(INTEROP)/python

test-node: node-unit node-pack-smoke interop-js-node interop-python-node interop-js-node-http \
	interop-python-node-http

TEST_TARGETS += test-node test-dist-node
