#!/bin/sh
# The C / C++ packages as a user gets them (make test-dist-c):
#
#   tests/packaging/test-deb.sh DISTDIR VERSION
#
# installs librtio0 and librtio-dev with dpkg -i, checks the package contents, builds the C
# and C++ examples with nothing but `pkg-config --cflags --libs rtio` (no path into the
# source tree), checks they load librtio.so.0 from /usr/lib/<multiarch>, runs the C++ self-test
# and the chat and visitor counter against the official socket.io-client, links a program
# statically against librtio.a, then removes both packages and checks every file went.
# Needs root (dpkg -i); the packages are removed whatever happens.
set -eu

DIST=$1 VERSION=$2
TOP=$(cd "$(dirname "$0")/../.." && pwd)
DEBVER="$VERSION-1"

if [ "$(id -u)" != 0 ]; then
  echo "SKIPPED: test-dist-c installs the .deb packages with dpkg -i and needs root"
  exit 0
fi
missing=""
for tool in dpkg dpkg-query pkg-config cc c++ ldd readelf node; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
  echo "test-dist-c: missing:$missing" >&2
  exit 2
fi
. "$TOP/tests/packaging/without-rust.sh"
without_rust test-dist-c
for pkg in librtio0 librtio-dev; do
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
    echo "test-dist-c: $pkg is already installed on this machine; remove it first (dpkg -r $pkg)" >&2
    exit 1
  fi
done
if command -v dpkg-architecture >/dev/null 2>&1; then
  MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
else
  MA=$(cc -print-multiarch)
fi
LIBDIR=/usr/lib/$MA
# What the dynamic loader reports: /usr/lib/<ma> or, with merged /usr, /lib/<ma>.
LOADED="=> (/usr)?/lib/$MA/librtio\.so\.0"
set -- "$DIST"/librtio0_"${DEBVER}"_*.deb
DEB0=$1
set -- "$DIST"/librtio-dev_"${DEBVER}"_*.deb
DEBDEV=$1
[ -f "$DEB0" ] && [ -f "$DEBDEV" ] || { echo "test-dist-c: no $DEBVER packages in $DIST (make dist-c)" >&2; exit 1; }

work=$(mktemp -d)
cleanup() {
  status=$?
  if dpkg-query -W -f='${Status}' librtio0 2>/dev/null | grep -q installed; then
    dpkg -r librtio-dev librtio0 >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  [ $status = 0 ] || echo "test-dist-c: FAILED" >&2
}
trap cleanup EXIT
fail() { echo "test-dist-c: $*" >&2; exit 1; }

echo "== package metadata"
dpkg-deb --field "$DEB0" Package Version Depends Multi-Arch
dpkg-deb --field "$DEBDEV" Package Depends
dpkg-deb --contents "$DEB0" | awk '{print $1, $2, $6, $7, $8}'
dpkg-deb --contents "$DEBDEV" | awk '{print $1, $2, $6, $7, $8}'
for deb in "$DEB0" "$DEBDEV"; do
  dpkg-deb --contents "$deb" | awk '$2 != "root/root" {print; bad=1} END {exit bad}' ||
    fail "$deb: files not owned by root/root"
done
dpkg-deb --field "$DEB0" Depends | grep -q 'libc6 (>= 2\.' || fail "librtio0 does not depend on libc6"
[ "$(dpkg-deb --field "$DEBDEV" Depends)" = "librtio0 (= $DEBVER)" ] || fail "librtio-dev Depends"

echo "== dpkg -i"
dpkg -i "$DEB0" "$DEBDEV"
dpkg -L librtio0 librtio-dev | sort -u > "$work/files"
for f in "$LIBDIR/librtio.so.$VERSION" "$LIBDIR/librtio.so.0" "$LIBDIR/librtio.so" "$LIBDIR/librtio.a" \
         "$LIBDIR/pkgconfig/rtio.pc" /usr/include/rtio.h /usr/include/rtio.hpp; do
  [ -e "$f" ] || fail "$f not installed"
done
[ "$(readlink "$LIBDIR/librtio.so.0")" = "librtio.so.$VERSION" ] || fail "librtio.so.0 link"
readelf -d "$LIBDIR/librtio.so.$VERSION" | grep -q 'SONAME.*\[librtio\.so\.0\]' || fail "soname"
ldconfig -p | grep -Eq "librtio\.so\.0 .*$LOADED\$" || fail "ldconfig does not know librtio.so.0"
others=$(nm -D --defined-only "$LIBDIR/librtio.so.0" | awk '$2 != "A" && $3 !~ /^rtio_[a-z0-9_]*@@RTIO_[0-9.]*$/')
[ -z "$others" ] || fail "exports other than rtio_*@@RTIO_*: $others"

echo "== pkg-config"
unset PKG_CONFIG_PATH PKG_CONFIG_LIBDIR || true
[ "$(pkg-config --modversion rtio)" = "$VERSION" ] || fail "pkg-config --modversion rtio"
[ "$(pkg-config --variable=libdir rtio)" = "$LIBDIR" ] || \
  fail "pkg-config finds another rtio.pc ($(pkg-config --variable=pcfiledir rtio)); remove it"
echo "pkg-config --cflags --libs rtio: $(pkg-config --cflags --libs rtio)"

echo "== build the examples with pkg-config only"
cd "$work"
for ex in chat visitor_counter scenarios_server; do
  cc -std=c11 -Wall -Wextra -Werror -O2 "$TOP/examples/c/$ex.c" $(pkg-config --cflags --libs rtio) -o "$ex"
done
c++ -std=c++17 -Wall -Wextra -Werror -O2 "$TOP/examples/c/cpp_example.cpp" $(pkg-config --cflags --libs rtio) \
  -o cpp_example
cc -std=c11 -Wall -Werror "$TOP/tests/c/installed.c" $(pkg-config --cflags --libs rtio) -o installed
# Static: librtio.a and Libs.private; --as-needed drops the unused -lrtio.
cc -std=c11 -Wall -Werror "$TOP/tests/c/installed.c" $(pkg-config --cflags rtio) -l:librtio.a \
  -Wl,--as-needed $(pkg-config --static --libs rtio) -o installed_static

for bin in chat visitor_counter cpp_example installed; do
  ldd "$bin" | grep -Eq "librtio\.so\.0 $LOADED " || { ldd "$bin"; fail "$bin: librtio.so.0 not from $LIBDIR"; }
done
if readelf -d installed_static | grep -q 'NEEDED.*librtio'; then fail "installed_static needs librtio.so"; fi
echo "ldd: librtio.so.0 => $LIBDIR/librtio.so.0 for chat, visitor_counter, cpp_example, installed"

echo "== run"
./installed | tee "$work/installed.out"
grep -q "^installed rtio $VERSION served" "$work/installed.out" || fail "rtio_version() is not $VERSION"
./installed_static
./cpp_example --self-test
node "$TOP/tests/packaging/deb-client.mjs" "$work/chat" "$work/visitor_counter"

echo "== dpkg -r"
cd "$TOP"
dpkg -r librtio-dev librtio0
for pkg in librtio0 librtio-dev; do
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'installed'; then fail "$pkg still installed"; fi
done
left=""
while read -r f; do
  [ -d "$f" ] && [ ! -L "$f" ] && continue   # directories other packages share
  if [ -e "$f" ] || [ -L "$f" ]; then left="$left $f"; fi
done < "$work/files"
for d in /usr/share/doc/librtio0 /usr/share/doc/librtio-dev; do [ ! -e "$d" ] || left="$left $d"; done
[ -z "$left" ] || fail "left after dpkg -r:$left"
if ldconfig -p | grep -q librtio; then fail "ldconfig still lists librtio"; fi
echo "test-dist-c: all checks passed ($(basename "$DEB0"), $(basename "$DEBDEV"))"
