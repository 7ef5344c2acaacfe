# `rtio serve` (server/): the standalone server binary, its install, its suite.
# Included by the top Makefile; every path is relative to the repository root.
#
#   make rtio-serve   build target/release/rtio
#   make test-serve   the suite with the official socket.io-client (tests/interop/serve)
#   make install      also installs the binary as $(PREFIX)/bin/rtio

.PHONY: rtio-serve test-serve install-serve

RTIO_SERVE := target/release/rtio

rtio-serve:
	$(CARGO) build --release -p rtio-server

test-serve: $(NODE_MODULES) rtio-serve
	node --test $(INTEROP)/serve/

install-serve: rtio-serve
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(RTIO_SERVE) $(DESTDIR)$(PREFIX)/bin/rtio

install: install-serve

TEST_TARGETS += test-serve
