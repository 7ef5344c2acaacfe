# Sourced by the install tests of issue 21 (test-deb.sh, python/test-dist.sh,
# bindings-node/scripts/pack-smoke.sh): `without_rust NAME` leaves PATH without cargo and
# rustc, as on a user's machine, so a package that would quietly compile the core fails its
# test instead. NAME prefixes the failure message. POSIX sh: test-deb.sh is not bash.
without_rust() {
  _rtio_clean=
  _rtio_rest=$PATH:
  while [ -n "$_rtio_rest" ]; do
    _rtio_dir=${_rtio_rest%%:*}
    _rtio_rest=${_rtio_rest#*:}
    [ -n "$_rtio_dir" ] || continue
    if [ -x "$_rtio_dir/cargo" ] || [ -x "$_rtio_dir/rustc" ]; then continue; fi
    # rustup's directories, even where this machine has no binary in them
    case "$_rtio_dir" in */.cargo/bin | */.cargo/bin/ | */.rustup/*) continue ;; esac
    _rtio_clean=${_rtio_clean:+$_rtio_clean:}$_rtio_dir
  done
  PATH=$_rtio_clean
  export PATH
  unset CARGO CARGO_HOME RUSTUP_HOME RUSTC _rtio_clean _rtio_rest _rtio_dir
  if command -v cargo >/dev/null 2>&1 || command -v rustc >/dev/null 2>&1; then
    echo "$1: FAIL: cargo or rustc still on PATH ($(command -v cargo rustc | tr '\n' ' '))" >&2
    exit 1
  fi
  echo "PATH without cargo and rustc: $PATH"
}
