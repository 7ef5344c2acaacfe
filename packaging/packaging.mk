# Distribution (issue 21), the parts that are not C: the crates, and the one version of every
# package. Included by ffi-c/c.mk (which has dist-c and VERSION).
.PHONY: dist-rust test-dist-rust test-versions print-version

print-version:
	@echo $(VERSION)

# The .crate files crates.io takes, fully verified (each builds from its own package), into
# target/dist/. Without --allow-dirty: commit first. Publish rtio first, then rtio-redis.
dist-rust:
	$(CARGO) package -p rtio -p rtio-redis
	@mkdir -p $(DIST)
	cp target/package/rtio-$(VERSION).crate target/package/rtio-redis-$(VERSION).crate $(DIST)/

# Metadata, no path-only dependency, package contents (cargo package --list, --no-verify).
test-dist-rust:
	$(PYTHON) tests/packaging/crates.py

test-versions:
	$(PYTHON) tests/packaging/versions.py

TEST_TARGETS += test-versions test-dist-rust
