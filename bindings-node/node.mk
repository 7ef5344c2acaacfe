# The Node binding (bindings-node/, npm package `rtio`): addon build, tests, packed install.
# Included by the top Makefile; every path is relative to the repository root.
#
#   make node-build        npm dependencies of bindings-node, then the native addon
#                          (`napi build --platform --release`) when missing or older than the
#                          Rust sources (no cargo run at all when it is current)
#   make node-pack         rtio-<version>.tgz in dist/ (npm pack)
#   make test-node         the binding's node:test suite; the packed tarball installed into a
#                          fresh npm project with a smoke test; both interop suites against the
#                          Node scenarios server (official socket.io-client and python-socketio),
#                          on rtio's own listener and attached to an http.Server (node-http)

.PHONY: node-build node-pack test-node node-unit node-pack-smoke interop-js-node interop-python-node \
	interop-js-node-http interop-python-node-http

NODE_PKG  := bindings-node
NODE_DEPS := $(NODE_PKG)/node_modules/.package-lock.json

$(NODE_DEPS): $(NODE_PKG)/package.json $(NODE_PKG)/package-lock.json
	cd $(NODE_PKG) && RTIO_SKIP_BUILD=1 $(NPM) install --no-audit --no-fund
	touch $@

node-build: $(NODE_DEPS)
	cd $(NODE_PKG) && node scripts/install.js

node-pack: node-build
	mkdir -p dist
	cd $(NODE_PKG) && $(NPM) pack --pack-destination ../dist

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

TEST_TARGETS += test-node
