# The C ABI: library, header check, C/C++ tests, examples, install, and the C host's interop
# run. Included by the top Makefile.
CC       ?= cc
CXX      ?= c++
PREFIX   ?= /usr/local
C_OUT    := target/c
FFI_SRC  := $(wildcard ffi-c/src/*.rs core/src/*.rs core/src/*/*.rs) ffi-c/Cargo.toml ffi-c/build.rs
FFI_A    := target/release/librtio.a
FFI_SO   := target/release/librtio.so
# What `cargo rustc --print native-static-libs` reports for the static library.
C_LIBS   := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
# One version for everything: [workspace.package] version in the top Cargo.toml.
VERSION  := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
# The ABI version: the shared library's soname is librtio.so.$(SO_MAJOR) (docs/c.md).
SO_MAJOR := 0
# The shared library that ships (make install, the .deb): linked from the static library with
# the soname and the symbol versions of ffi-c/rtio.map (rustc's own cdylib cannot take a named
# version script: it passes an anonymous one of its own).
C_LIB    := $(C_OUT)/lib
FFI_SOV  := $(C_LIB)/librtio.so.$(VERSION)
C_FLAGS  := -std=c11 -Wall -Wextra -Werror -O1 -g -Iinclude
CXX_FLAGS := -std=c++17 -Wall -Wextra -Werror -O1 -g -Iinclude

.PHONY: header header-check ffi c-scenarios-server c-examples test-c test-c-unit test-c-asan \
        test-c-valgrind test-c-interop test-c-install install

header:
	$(CARGO) run --quiet -p xtask -- header

header-check:
	$(CARGO) run --quiet -p xtask -- header --check

$(FFI_A) $(FFI_SO): $(FFI_SRC)
	$(CARGO) build --release -p rtio-ffi
	@touch $(FFI_A) $(FFI_SO)
	@ln -sf librtio.so target/release/librtio.so.$(SO_MAJOR)

$(FFI_SOV): $(FFI_A) ffi-c/rtio.map
	@mkdir -p $(C_LIB)
	$(CC) -shared -o $@ -Wl,-soname,librtio.so.$(SO_MAJOR) -Wl,--version-script=ffi-c/rtio.map \
	  -Wl,--gc-sections -Wl,-z,relro,-z,now -Wl,--whole-archive $(FFI_A) -Wl,--no-whole-archive $(C_LIBS)
	ln -sf librtio.so.$(VERSION) $(C_LIB)/librtio.so.$(SO_MAJOR)
	ln -sf librtio.so.$(SO_MAJOR) $(C_LIB)/librtio.so

ffi: $(FFI_A) $(FFI_SO) $(FFI_SOV)

# The C scenarios server is built the way a user builds against an installed rtio: only
# <rtio.h> and `pkg-config --cflags --libs rtio`, so the interop suites prove that path.
C_PREFIX := $(CURDIR)/$(C_OUT)/prefix
$(C_OUT)/prefix/lib/pkgconfig/rtio.pc: $(FFI_A) $(FFI_SOV) include/rtio.h include/rtio.hpp ffi-c/rtio.pc.in
	$(MAKE) --no-print-directory install PREFIX=$(C_PREFIX)

$(C_OUT)/scenarios-server: examples/c/scenarios_server.c $(C_OUT)/prefix/lib/pkgconfig/rtio.pc
	PKG_CONFIG_PATH=$(C_PREFIX)/lib/pkgconfig sh -c '$(CC) -std=c11 -Wall -Wextra -Werror -O2 $< \
	  $$(pkg-config --cflags --libs rtio) -Wl,-rpath,$(C_PREFIX)/lib -o $@'

c-scenarios-server: $(C_OUT)/scenarios-server

$(C_OUT)/test_api: tests/c/test_api.c include/rtio.h $(FFI_A)
	@mkdir -p $(C_OUT)
	$(CC) $(C_FLAGS) $< $(FFI_A) $(C_LIBS) -o $@

$(C_OUT)/test_api_asan: tests/c/test_api.c include/rtio.h $(FFI_A)
	@mkdir -p $(C_OUT)
	$(CC) $(C_FLAGS) -fsanitize=address,undefined -fno-omit-frame-pointer $< $(FFI_A) $(C_LIBS) -o $@

$(C_OUT)/test_api_shared: tests/c/test_api.c include/rtio.h $(FFI_SOV)
	@mkdir -p $(C_OUT)
	$(CC) $(C_FLAGS) $< -L$(C_LIB) -Wl,-rpath,$(CURDIR)/$(C_LIB) -lrtio -lpthread -o $@

# The header also compiles as C++, included twice, and through the C++ wrapper.
$(C_OUT)/cpp_example: examples/c/cpp_example.cpp include/rtio.hpp include/rtio.h $(FFI_A)
	@mkdir -p $(C_OUT)
	$(CXX) $(CXX_FLAGS) $< $(FFI_A) $(C_LIBS) -o $@

$(C_OUT)/visitor_counter: examples/c/visitor_counter.c include/rtio.h $(FFI_A)
	@mkdir -p $(C_OUT)
	$(CC) $(C_FLAGS) $< $(FFI_A) $(C_LIBS) -o $@

$(C_OUT)/chat: examples/c/chat.c include/rtio.h $(FFI_A)
	@mkdir -p $(C_OUT)
	$(CC) $(C_FLAGS) $< $(FFI_A) $(C_LIBS) -o $@

c-examples: $(C_OUT)/cpp_example $(C_OUT)/visitor_counter $(C_OUT)/chat
	$(C_OUT)/cpp_example --self-test

test-c-unit: $(C_OUT)/test_api $(C_OUT)/test_api_shared
	$(C_OUT)/test_api
	$(C_OUT)/test_api_shared

test-c-asan: $(C_OUT)/test_api_asan
	ASAN_OPTIONS=detect_leaks=1 $(C_OUT)/test_api_asan

test-c-valgrind: $(C_OUT)/test_api_shared
	valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
	  --show-leak-kinds=definite,indirect $(C_OUT)/test_api_shared

test-c-interop: $(NODE_MODULES) $(PY_DEPS) $(C_OUT)/scenarios-server
	RTIO_HOST=c node --test $(INTEROP)/js/
	RTIO_HOST=c $(VENV)/bin/python -m pytest -q $(INTEROP)/python

# LIBSUBDIR: lib/x86_64-linux-gnu for Debian's multiarch layout (the .deb, make dist-c).
LIBSUBDIR ?= lib
install: $(FFI_A) $(FFI_SOV)
	install -d $(DESTDIR)$(PREFIX)/$(LIBSUBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 644 $(FFI_A) $(DESTDIR)$(PREFIX)/$(LIBSUBDIR)/librtio.a
	install -m 755 $(FFI_SOV) $(DESTDIR)$(PREFIX)/$(LIBSUBDIR)/librtio.so.$(VERSION)
	ln -sf librtio.so.$(VERSION) $(DESTDIR)$(PREFIX)/$(LIBSUBDIR)/librtio.so.$(SO_MAJOR)
	ln -sf librtio.so.$(SO_MAJOR) $(DESTDIR)$(PREFIX)/$(LIBSUBDIR)/librtio.so
	install -m 644 include/rtio.h include/rtio.hpp $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$${prefix}/$(LIBSUBDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	  -e 's|@LIBS_PRIVATE@|$(C_LIBS)|' ffi-c/rtio.pc.in > $(DESTDIR)$(PREFIX)/$(LIBSUBDIR)/pkgconfig/rtio.pc

# A C program built only with `pkg-config --cflags --libs rtio` against an installed copy.
test-c-install: $(C_OUT)/prefix/lib/pkgconfig/rtio.pc
	PKG_CONFIG_PATH=$(CURDIR)/$(C_OUT)/prefix/lib/pkgconfig sh -c \
	  '$(CC) -std=c11 -Wall -Werror tests/c/installed.c $$(pkg-config --cflags --libs rtio) \
	   -Wl,-rpath,$(CURDIR)/$(C_OUT)/prefix/lib -o $(C_OUT)/installed'
	$(C_OUT)/installed

test-c: header-check test-c-unit test-c-asan test-c-valgrind c-examples test-c-install test-c-interop

TEST_TARGETS += test-c

# ---- Embedding in libmicrohttpd (issue 17): examples/c/rtio_microhttpd.h ------------------
# Needs libmicrohttpd (Debian: libmicrohttpd-dev); every target below is skipped with a
# message when pkg-config cannot find it.
MHD_OK := $(shell pkg-config --exists libmicrohttpd && echo yes)
MHD_SKIP := echo "SKIPPED: libmicrohttpd not found by pkg-config (Debian: apt-get install libmicrohttpd-dev)"

ifeq ($(MHD_OK),yes)
$(C_OUT)/microhttpd_server: examples/c/microhttpd_server.c examples/c/rtio_microhttpd.h $(C_OUT)/prefix/lib/pkgconfig/rtio.pc
	PKG_CONFIG_PATH=$(C_PREFIX)/lib/pkgconfig sh -c '$(CC) -std=c11 -Wall -Wextra -Werror -O2 $< \
	  $$(pkg-config --cflags --libs rtio libmicrohttpd) -Wl,-rpath,$(C_PREFIX)/lib -o $@'

$(C_OUT)/scenarios-server-embedded: examples/c/scenarios_server.c examples/c/rtio_microhttpd.h $(C_OUT)/prefix/lib/pkgconfig/rtio.pc
	PKG_CONFIG_PATH=$(C_PREFIX)/lib/pkgconfig sh -c '$(CC) -std=c11 -Wall -Wextra -Werror -O2 \
	  -DRTIO_WITH_MICROHTTPD $< $$(pkg-config --cflags --libs rtio libmicrohttpd) \
	  -Wl,-rpath,$(C_PREFIX)/lib -o $@'

# The glue under AddressSanitizer + LeakSanitizer (a leak makes the exit code, checked by the
# test, non-zero).
$(C_OUT)/microhttpd_server_asan: examples/c/microhttpd_server.c examples/c/rtio_microhttpd.h include/rtio.h $(FFI_A)
	@mkdir -p $(C_OUT)
	$(CC) $(C_FLAGS) -fsanitize=address,undefined -fno-omit-frame-pointer $< \
	  $$(pkg-config --cflags --libs libmicrohttpd) $(FFI_A) $(C_LIBS) -o $@

c-microhttpd: $(C_OUT)/microhttpd_server $(C_OUT)/scenarios-server-embedded $(C_OUT)/microhttpd_server_asan

# The official socket.io-client against the example (websocket, polling, upgrade, its own page),
# then both interop suites against the scenarios server embedded in libmicrohttpd.
test-c-microhttpd: $(NODE_MODULES) $(PY_DEPS) c-microhttpd
	node --test tests/c/microhttpd.test.mjs
	ASAN_OPTIONS=detect_leaks=1 RTIO_MHD_SERVER=$(C_OUT)/microhttpd_server_asan node --test tests/c/microhttpd.test.mjs
	RTIO_HOST=c-embedded node --test $(INTEROP)/js/
	RTIO_HOST=c-embedded $(VENV)/bin/python -m pytest -q $(INTEROP)/python
else
c-microhttpd test-c-microhttpd:
	@$(MHD_SKIP)
endif

.PHONY: c-microhttpd test-c-microhttpd
test-c: test-c-microhttpd

# ---- Distribution (issue 21): the .deb packages librtio0 + librtio-dev --------------------
# make dist-c writes target/dist/librtio0_<v>-1_<arch>.deb and librtio-dev_<v>-1_<arch>.deb
# (packaging/deb/build-deb.sh: Depends from dpkg-shlibdeps, shlibs + symbols files). Needs
# dpkg-deb (dpkg) and binutils; dpkg-shlibdeps and dpkg-architecture come with Debian's
# dpkg-dev (without it: Depends from the GLIBC_ versions objdump reports).
DIST        := target/dist
DEB_ARCH    := $(shell dpkg-architecture -qDEB_HOST_ARCH 2>/dev/null || dpkg --print-architecture 2>/dev/null)
DEB_MULTIARCH := $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || $(CC) -print-multiarch 2>/dev/null)
DEBS        := $(DIST)/librtio0_$(VERSION)-1_$(DEB_ARCH).deb $(DIST)/librtio-dev_$(VERSION)-1_$(DEB_ARCH).deb

$(DEBS) &: $(FFI_A) $(FFI_SOV) include/rtio.h include/rtio.hpp ffi-c/rtio.pc.in packaging/deb/build-deb.sh \
           packaging/deb/librtio0.symbols LICENSE CHANGELOG.md
	@command -v dpkg-deb >/dev/null || { echo "dist-c: dpkg-deb not found (Debian package: dpkg)"; exit 2; }
	@command -v dpkg-shlibdeps >/dev/null || echo "dist-c: dpkg-shlibdeps not found (Debian package: dpkg-dev); Depends from objdump -T"
	rm -rf $(DIST)/stage
	$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/$(DIST)/stage PREFIX=/usr LIBSUBDIR=lib/$(DEB_MULTIARCH)
	packaging/deb/build-deb.sh $(DIST)/stage $(DIST) $(VERSION) $(DEB_MULTIARCH)
	rm -rf $(DIST)/stage

dist-c: $(DEBS)

# Installs both packages (root; skipped with a message otherwise), builds the examples with
# pkg-config only, runs them against socket.io-client, removes the packages — with no cargo
# or rustc on PATH, as on a user's machine (the script drops them).
test-dist-c: $(DEBS) $(NODE_MODULES)
	tests/packaging/test-deb.sh $(DIST) $(VERSION)

.PHONY: dist-c test-dist-c
TEST_TARGETS += test-dist-c
-include packaging/packaging.mk
