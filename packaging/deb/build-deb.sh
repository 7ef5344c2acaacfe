#!/bin/sh
# Builds librtio0_<v>-1_<arch>.deb and librtio-dev_<v>-1_<arch>.deb from a staged
# `make install DESTDIR=<stage> PREFIX=/usr LIBSUBDIR=lib/<multiarch>` (make dist-c does that).
#
#   packaging/deb/build-deb.sh STAGE OUTDIR VERSION MULTIARCH
#
# librtio0     /usr/lib/<multiarch>/librtio.so.<v> and the soname link librtio.so.0
# librtio-dev  librtio.so (link), librtio.a, pkgconfig/rtio.pc, /usr/include/rtio.h, rtio.hpp
#
# Depends of librtio0 come from dpkg-shlibdeps (Debian's dpkg-dev) when it is installed; without
# it, from the highest GLIBC_ symbol version the library needs (objdump -T), plus libgcc-s1 for
# the unwinder. The symbols file (packaging/deb/librtio0.symbols) must list exactly the symbols
# the library exports: a new rtio_* function fails the build until it is added there with the
# version that introduces it (see docs/c.md, "Soname and symbol versions").
set -eu

STAGE=$1 OUT=$2 VERSION=$3 MULTIARCH=$4
mkdir -p "$OUT"
STAGE=$(cd "$STAGE" && pwd) OUT=$(cd "$OUT" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
DEBVER="$VERSION-1"
SO_MAJOR=0
LIBDIR="usr/lib/$MULTIARCH"
MAINTAINER="rtio maintainers <maintainers@users.noreply.b-seed-43c72bf2.example>"
HOMEPAGE=$(sed -n 's/^homepage = "\(.*\)"/\1/p' "$TOP/Cargo.toml" | head -1)

missing=""
for tool in dpkg-deb strip objdump nm; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
  echo "build-deb: missing:$missing (Debian: apt-get install dpkg binutils)" >&2
  exit 2
fi
if command -v dpkg-architecture >/dev/null 2>&1; then
  ARCH=$(dpkg-architecture -qDEB_HOST_ARCH)
else
  ARCH=$(dpkg --print-architecture)
fi

so="$STAGE/$LIBDIR/librtio.so.$VERSION"
[ -f "$so" ] || { echo "build-deb: $so not found (stage it with make install)" >&2; exit 2; }

# The exported symbols must be exactly those of the symbols file (name@NODE; the version
# nodes themselves, RTIO_0@RTIO_0, are absolute symbols, left out of the comparison).
exported=$(nm -D --defined-only "$so" | awk '$2 != "A" {print $3}' | sort)
listed=$(awk 'NR > 1 && /^ / {split($1, p, "@"); if (p[1] != p[2]) print p[1] "@@" p[2]}' \
  "$HERE/librtio0.symbols" | sort)
if [ "$exported" != "$listed" ]; then
  echo "build-deb: the exported symbols differ from packaging/deb/librtio0.symbols" >&2
  echo "  (< exported only, > listed only; a new function: add ' rtio_name@RTIO_0 $VERSION'," >&2
  echo "  see docs/c.md, \"Soname and symbol versions\")" >&2
  echo "$exported" > "$OUT/.exported"
  echo "$listed" > "$OUT/.listed"
  diff "$OUT/.exported" "$OUT/.listed" >&2 || true
  rm -f "$OUT/.exported" "$OUT/.listed"
  exit 1
fi

rm -rf "$OUT/librtio0" "$OUT/librtio-dev"
r0="$OUT/librtio0" rd="$OUT/librtio-dev"
mkdir -p "$r0/DEBIAN" "$r0/$LIBDIR" "$rd/DEBIAN" "$rd/$LIBDIR/pkgconfig" "$rd/usr/include"

# Shared library: stripped, not executable (Debian policy 8.1, 10.1).
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
  -o "$r0/$LIBDIR/librtio.so.$VERSION" "$so"
chmod 644 "$r0/$LIBDIR/librtio.so.$VERSION"
ln -s "librtio.so.$VERSION" "$r0/$LIBDIR/librtio.so.$SO_MAJOR"

# Development files.
ln -s "librtio.so.$SO_MAJOR" "$rd/$LIBDIR/librtio.so"
strip --strip-debug --remove-section=.comment --remove-section=.note --enable-deterministic-archives \
  -o "$rd/$LIBDIR/librtio.a" "$STAGE/$LIBDIR/librtio.a"
chmod 644 "$rd/$LIBDIR/librtio.a"
install -m 644 "$STAGE/$LIBDIR/pkgconfig/rtio.pc" "$rd/$LIBDIR/pkgconfig/rtio.pc"
install -m 644 "$STAGE/usr/include/rtio.h" "$STAGE/usr/include/rtio.hpp" "$rd/usr/include/"

for pkg in librtio0 librtio-dev; do
  doc="$OUT/$pkg/usr/share/doc/$pkg"
  mkdir -p "$doc"
  {
    echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
    echo "Upstream-Name: rtio"
    [ -n "$HOMEPAGE" ] && echo "Source: $HOMEPAGE"
    echo
    echo "Files: *"
    echo "Copyright: rtio contributors"
    echo "License: MIT"
    sed -e 's/^$/./' -e 's/^/ /' "$TOP/LICENSE"
  } > "$doc/copyright"
  gzip -9n < "$TOP/CHANGELOG.md" > "$doc/changelog.gz"
  chmod 644 "$doc/copyright" "$doc/changelog.gz"
done

# Depends of the shared library.
if command -v dpkg-shlibdeps >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  mkdir "$tmp/debian"
  printf 'Source: rtio\n\nPackage: librtio0\nArchitecture: any\n' > "$tmp/debian/control"
  depends=$(cd "$tmp" && dpkg-shlibdeps -O "-e$OUT/librtio0/$LIBDIR/librtio.so.$VERSION" 2>/dev/null |
    sed -n 's/^shlibs:Depends=//p')
  rm -rf "$tmp"
  how="dpkg-shlibdeps"
else
  glibc=$(objdump -T "$so" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
  depends="libc6 (>= $glibc), libgcc-s1 (>= 3.0)"
  how="objdump -T (dpkg-shlibdeps not found: Debian package dpkg-dev)"
fi
[ -n "$depends" ] || { echo "build-deb: could not compute the Depends of librtio0" >&2; exit 1; }
echo "build-deb: librtio0 Depends: $depends (from $how)"

size() { du -sk --exclude=DEBIAN "$1" | cut -f1; }

cat > "$r0/DEBIAN/control" <<EOF
Package: librtio0
Source: rtio
Version: $DEBVER
Architecture: $ARCH
Multi-Arch: same
Maintainer: $MAINTAINER
Installed-Size: $(size "$r0")
Depends: $depends
Section: libs
Priority: optional
${HOMEPAGE:+Homepage: $HOMEPAGE
}Description: embeddable Socket.IO server - shared library
 rtio runs a complete Socket.IO server (Engine.IO v4 + Socket.IO v5, WebSocket and
 HTTP long-polling) on its own threads, so a C or C++ program serves the standard
 socket.io clients without protocol code.
 .
 This package contains the shared library.
EOF

cat > "$rd/DEBIAN/control" <<EOF
Package: librtio-dev
Source: rtio
Version: $DEBVER
Architecture: $ARCH
Multi-Arch: same
Maintainer: $MAINTAINER
Installed-Size: $(size "$rd")
Depends: librtio0 (= $DEBVER)
Section: libdevel
Priority: optional
${HOMEPAGE:+Homepage: $HOMEPAGE
}Description: embeddable Socket.IO server - development files
 rtio runs a complete Socket.IO server (Engine.IO v4 + Socket.IO v5, WebSocket and
 HTTP long-polling) on its own threads, so a C or C++ program serves the standard
 socket.io clients without protocol code.
 .
 This package contains the header rtio.h, the C++ wrapper rtio.hpp, the static
 library and the pkg-config file (pkg-config --cflags --libs rtio).
EOF

# Libraries linked against librtio.so.0 need librtio0 of at least this version (shlibs, the
# fallback) or of the version that introduced each symbol they use (symbols).
echo "librtio $SO_MAJOR librtio0 (>= $VERSION)" > "$r0/DEBIAN/shlibs"
install -m 644 "$HERE/librtio0.symbols" "$r0/DEBIAN/symbols"
echo "activate-noawait ldconfig" > "$r0/DEBIAN/triggers"

for root in "$r0" "$rd"; do
  chmod 644 "$root/DEBIAN/control" "$root/DEBIAN/shlibs" "$root/DEBIAN/symbols" "$root/DEBIAN/triggers" 2>/dev/null || true
  (cd "$root" && find usr -type f | LC_ALL=C sort | xargs md5sum > DEBIAN/md5sums)
  chmod 644 "$root/DEBIAN/md5sums"
done

rm -f "$OUT"/librtio0_*.deb "$OUT"/librtio-dev_*.deb
dpkg-deb --build --root-owner-group -Zxz "$r0" "$OUT/librtio0_${DEBVER}_$ARCH.deb"
dpkg-deb --build --root-owner-group -Zxz "$rd" "$OUT/librtio-dev_${DEBVER}_$ARCH.deb"
rm -rf "$r0" "$rd"
