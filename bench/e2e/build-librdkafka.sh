#!/usr/bin/env bash
# Builds the real-client tools the end-to-end benchmarks and the conformance runs use, from
# Debian's librdkafka source package (the version Debian ships, 2.0.2 on bookworm):
#   - librdkafka itself (static + shared, only what the tools below need),
#   - examples/rdkafka_performance   (load generator for bench/e2e/run.ts),
#   - tests/test-runner              (librdkafka's own test suite, for test/compat/librdkafka.sh),
#   - mock-cluster                   (bench/e2e/mock-cluster.c: librdkafka's in-memory mock
#                                     cluster, the "client ceiling" of the benchmarks).
#
# Everything is built OUTSIDE the repository, in ${BUNKA_CACHE:-$HOME/.cache/bunka}/librdkafka.
# Idempotent: a second run finds the stamp and only prints the tool paths. Meant for CI on a
# fresh Debian machine: runs as root with no stdin (or uses sudo -n when not root).
#
# Output (stdout, last lines, one per tool, parsed by run.ts and librdkafka.sh):
#   rdkafka_performance=<path>
#   test_runner=<path>
#   mock_cluster=<path>
#   librdkafka_src=<path>
# Env: BUNKA_CACHE (cache root), BUILD_JOBS (default 2), FORCE=1 (rebuild the tools),
#      LIBRDKAFKA=debian|2.12.0 (default debian). 2.12.0 is upstream's release as bundled,
#      with its tests/ tree, in the npm package node-rdkafka 3.6.1 (fetched from the npm
#      registry, checked against the pinned sha1 below, built beside the Debian one): the
#      client for tests that hit bugs of 2.0.2 fixed since (test/compat/FINDINGS.md F-4).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cache="${BUNKA_CACHE:-$HOME/.cache/bunka}"
flavour="${LIBRDKAFKA:-debian}"
case "$flavour" in
  debian) root="$cache/librdkafka" ;;
  2.12.0)
    root="$cache/librdkafka-2.12.0"
    npm_tarball="https://registry.npmjs.org/node-rdkafka/-/node-rdkafka-3.6.1.tgz"
    npm_sha1="164357f08ff23a4722e89bfb3b2b09481c1e8cc1" ;;
  *) printf '[build-librdkafka] error: LIBRDKAFKA=%s: expected debian or 2.12.0\n' "$flavour" >&2; exit 1 ;;
esac
jobs="${BUILD_JOBS:-2}"
stamp="$root/.built-v2"   # bump when the configure options or dependencies change

log() { printf '[build-librdkafka] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

print_paths() {
  local src; src="$(cat "$root/.srcdir")"
  echo "rdkafka_performance=$src/examples/rdkafka_performance"
  echo "test_runner=$src/tests/test-runner"
  echo "mock_cluster=$root/bin/mock-cluster"
  echo "librdkafka_src=$src"
}

# The mock-cluster program is ours and cheap to rebuild: do it whenever its source changed.
build_mock_cluster() {
  local src; src="$(cat "$root/.srcdir")"
  mkdir -p "$root/bin"
  if [ ! -x "$root/bin/mock-cluster" ] || [ "$here/mock-cluster.c" -nt "$root/bin/mock-cluster" ] \
    || [ "$src/src/librdkafka.a" -nt "$root/bin/mock-cluster" ]; then
    log "compiling mock-cluster"
    # Static librdkafka plus the libraries its build detected (recorded by mklove).
    local libs; libs="$(sed -n 's/^MKL_DYNAMIC_LIBS=//p' "$src/Makefile.config")"
    # shellcheck disable=SC2086
    # Headers under the same <librdkafka/...> names librdkafka-dev installs.
    mkdir -p "$root/include/librdkafka"
    ln -sf "$src/src/rdkafka.h" "$src/src/rdkafka_mock.h" "$root/include/librdkafka/"
    cc -O2 -Wall -Wextra -o "$root/bin/mock-cluster" "$here/mock-cluster.c" \
      -I"$root/include" "$src/src/librdkafka.a" $libs -lpthread -lm -ldl
  fi
}

if [ -f "$stamp" ] && [ "${FORCE:-0}" != 1 ]; then
  build_mock_cluster
  print_paths
  exit 0
fi

started=$(date +%s)
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "not root and no sudo: cannot install build dependencies"
  sudo_cmd=(sudo -n)
fi
export DEBIAN_FRONTEND=noninteractive

# --- 1. deb-src entries mirroring the binary Debian sources --------------------------------
[ "$flavour" = debian ] && { bash "$here/enable-deb-src.sh" || die "could not enable deb-src entries"; }

# --- 2. apt: build dependencies and the source package -------------------------------------
# rapidjson-dev (headers only) lets the test runner check the statistics JSON (0053, 0110).
deps=(build-essential dpkg-dev pkg-config python3 zlib1g-dev libssl-dev libsasl2-dev libzstd-dev liblz4-dev rapidjson-dev)
missing=()
for p in "${deps[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if { [ "$flavour" = debian ] && ! apt-cache showsrc librdkafka 2>/dev/null | grep -q '^Package: librdkafka'; } || [ ${#missing[@]} -gt 0 ]; then
  log "apt-get update"
  "${sudo_cmd[@]}" apt-get update -qq
fi
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

mkdir -p "$root/src"
srcdir="$(find "$root/src" -mindepth 1 -maxdepth 1 -type d -name 'librdkafka-*' | sort | tail -n1)"
if [ "$flavour" != debian ] && { [ -z "$srcdir" ] || [ ! -f "$srcdir/configure" ]; }; then
  log "fetching $npm_tarball"
  command -v curl >/dev/null 2>&1 || { "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends curl ca-certificates >&2; }
  curl -fsSL -o "$root/src/package.tgz" "$npm_tarball" || die "download failed: $npm_tarball"
  got="$(sha1sum "$root/src/package.tgz" | cut -d' ' -f1)"
  [ "$got" = "$npm_sha1" ] || die "sha1 of $npm_tarball is $got, expected $npm_sha1"
  rm -rf "$root/src/unpack" && mkdir -p "$root/src/unpack"
  tar xzf "$root/src/package.tgz" -C "$root/src/unpack" package/deps/librdkafka || die "the package holds no deps/librdkafka"
  mv "$root/src/unpack/package/deps/librdkafka" "$root/src/librdkafka-$flavour"
  rm -rf "$root/src/unpack" "$root/src/package.tgz"
  chmod +x "$root/src/librdkafka-$flavour/configure" "$root/src/librdkafka-$flavour/lds-gen.py" 2>/dev/null || true
  srcdir="$root/src/librdkafka-$flavour"
fi
if [ -z "$srcdir" ] || [ ! -f "$srcdir/configure" ]; then
  log "apt-get source librdkafka"
  (cd "$root/src" && apt-get source -qq librdkafka >&2)
  srcdir="$(find "$root/src" -mindepth 1 -maxdepth 1 -type d -name 'librdkafka-*' | sort | tail -n1)"
  [ -n "$srcdir" ] && [ -f "$srcdir/configure" ] || die "apt-get source gave no librdkafka tree in $root/src"
fi
echo "$srcdir" >"$root/.srcdir"
log "source: $srcdir"

# --- 3. configure and build only what the tools need ---------------------------------------
cd "$srcdir"
# Reconfigure whenever the stamp is missing: a new dependency (or option) must be detected.
if [ ! -f "$stamp" ] || [ ! -f Makefile.config ]; then
  log "configure"
  # No install step: the tools run from the tree. curl (OIDC) and GSSAPI are not needed for a
  # plaintext broker; leaving them out keeps the apt dependency list short.
  ./configure --prefix="$root/prefix" --disable-curl --disable-gssapi >"$root/configure.log" 2>&1 \
    || { tail -n 40 "$root/configure.log" >&2; die "configure failed (full log: $root/configure.log)"; }
fi
log "make -C src (library)"
make -j"$jobs" -C src lib >"$root/make-src.log" 2>&1 \
  || { tail -n 40 "$root/make-src.log" >&2; die "library build failed (log: $root/make-src.log)"; }
# The test runner links the C++ wrapper too (tests/*.cpp).
log "make -C src-cpp (C++ wrapper, for the test runner)"
make -j"$jobs" -C src-cpp lib >"$root/make-src-cpp.log" 2>&1 \
  || { tail -n 40 "$root/make-src-cpp.log" >&2; die "C++ wrapper build failed (log: $root/make-src-cpp.log)"; }
log "make -C examples rdkafka_performance"
make -j"$jobs" -C examples rdkafka_performance >"$root/make-examples.log" 2>&1 \
  || { tail -n 40 "$root/make-examples.log" >&2; die "rdkafka_performance build failed (log: $root/make-examples.log)"; }
log "make -C tests (test-runner)"
make -j"$jobs" -C tests test-runner >"$root/make-tests.log" 2>&1 \
  || { tail -n 40 "$root/make-tests.log" >&2; die "test-runner build failed (log: $root/make-tests.log)"; }

build_mock_cluster
for t in "$srcdir/examples/rdkafka_performance" "$srcdir/tests/test-runner" "$root/bin/mock-cluster"; do
  [ -x "$t" ] || die "expected tool missing after build: $t"
done
touch "$stamp"
log "built in $(( $(date +%s) - started )) s"
print_paths
