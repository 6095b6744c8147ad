#!/usr/bin/env bash
# Conformance: kcat's own test scripts (tests/*.sh of Debian's kafkacat 1.7.1 source package)
# against bunka, with the kcat binary Debian ships (installed from apt when missing).
#
# Usage: test/compat/kcat.sh [NNNN ...]      (default: every tests/NNNN-*.sh)
# Env: BROKERS=host:port (use a running broker), BUNKA_BROKER_CMD (see broker.sh),
#      COMPAT_TIMEOUT (seconds per test script, default 120), COMPAT_LOG_DIR, BUNKA_CACHE.
# Output: one line per script "PASS|FAIL|SKIP|TIMEOUT NNNN-name <seconds>s [reason]", then
#   "compat-kcat: N passed, N failed" (skips listed separately). Exit 1 on any failure.
#
# The upstream scripts call "../kcat" relative to tests/, need jq and a terminal (run under
# script(1) from bsdutils), and assume a broker with auto topic creation and >= 3 partitions
# per new topic (bunka is started that way).
set -uo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${BUNKA_CACHE:-$HOME/.cache/bunka}/kcat"
log() { printf '[compat-kcat] %s\n' "$*" >&2; }
die() { log "error: $*"; echo "compat-kcat: 0 passed, 1 failed"; exit 2; }

sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo -n)
export DEBIAN_FRONTEND=noninteractive

# --- kcat and jq from apt ---------------------------------------------------------------
missing=()
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
command -v jq >/dev/null 2>&1 || missing+=(jq)
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  { "${sudo_cmd[@]}" apt-get update -qq && "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >&2 \
    || die "could not install ${missing[*]}"
fi
kcat_bin="$(command -v kcat)"

# --- the source package (only its tests/ are used) ---------------------------------------
mkdir -p "$cache"
srcdir="$(find "$cache" -mindepth 1 -maxdepth 1 -type d \( -name 'kafkacat-*' -o -name 'kcat-*' \) | sort | tail -n1)"
if [ -z "$srcdir" ] || [ ! -d "$srcdir/tests" ]; then
  bash "$repo/bench/e2e/enable-deb-src.sh" || die "could not enable deb-src entries"
  if ! apt-cache showsrc kafkacat 2>/dev/null | grep -q '^Package: kafkacat'; then
    "${sudo_cmd[@]}" apt-get update -qq >&2 || die "apt-get update failed"
  fi
  log "apt-get source kafkacat"
  # apt-get source may fail on the Debian packaging tarball alone (seen: a 404 for
  # kafkacat_1.7.1-2.debian.tar.xz) after fetching the upstream tarball, which is all we
  # need: fall back to unpacking the .orig tarball.
  (cd "$cache" && apt-get source -qq kafkacat >&2) || log "apt-get source failed; trying the upstream tarball"
  srcdir="$(find "$cache" -mindepth 1 -maxdepth 1 -type d \( -name 'kafkacat-*' -o -name 'kcat-*' \) | sort | tail -n1)"
  if [ -z "$srcdir" ]; then
    orig="$(find "$cache" -maxdepth 1 -name 'kafkacat_*.orig.tar.*' | sort | tail -n1)"
    [ -n "$orig" ] || die "no kafkacat source in $cache"
    tar -xf "$orig" -C "$cache" || die "cannot unpack $orig"
    srcdir="$(find "$cache" -mindepth 1 -maxdepth 1 -type d \( -name 'kafkacat-*' -o -name 'kcat-*' \) | sort | tail -n1)"
  fi
  [ -n "$srcdir" ] && [ -d "$srcdir/tests" ] || die "kafkacat source has no tests/ in $cache"
fi
ln -sf "$kcat_bin" "$srcdir/kcat"   # the scripts run ../kcat

# --- broker --------------------------------------------------------------------------------
# shellcheck source=test/compat/broker.sh
source "$repo/test/compat/broker.sh"
logdir="${COMPAT_LOG_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/compat-kcat-XXXXXX")}"
mkdir -p "$logdir"
trap compat_broker_down EXIT
compat_broker_up "$logdir" || die "no broker"
log "broker $bootstrap; kcat $("$kcat_bin" -V 2>&1 | head -n1); logs in $logdir"

scripts=()
if [ $# -eq 0 ]; then
  for f in "$srcdir"/tests/[0-9][0-9][0-9][0-9]-*.sh; do scripts+=("$(basename "$f")"); done
else
  for n in "$@"; do
    m=("$srcdir"/tests/"$n"-*.sh)
    [ -e "${m[0]}" ] || die "no kcat test $n"
    scripts+=("$(basename "${m[0]}")")
  done
fi

per_test="${COMPAT_TIMEOUT:-120}"
passed=0; failed=0; skipped_list=""; failed_list=""
for s in "${scripts[@]}"; do
  name="${s%.sh}"
  tlog="$logdir/$name.log"
  t0=$(date +%s)
  # Under a pseudo-terminal: kcat picks producer mode when stdin is not a tty, and the
  # scripts' "consumer without -e must time out" checks assume the terminal of `make run`.
  (cd "$srcdir/tests" && BROKERS="$bootstrap" exec timeout -k 5 "$per_test" script -qefc "bash ./$s" /dev/null) >"$tlog" 2>&1 </dev/null
  rc=$?
  secs=$(( $(date +%s) - t0 ))
  clean="$(sed 's/\x1b\[[0-9;]*m//g' "$tlog")"
  if { [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; } && [ "$secs" -ge "$per_test" ]; then
    status=TIMEOUT; why="killed after ${per_test}s"
  elif [ "$rc" -ne 0 ]; then
    status=FAIL; why="$(printf '%s\n' "$clean" | grep -m1 -E 'FAIL|rror' | cut -c1-200)"
    [ -n "$why" ] || why="exit $rc: $(printf '%s\n' "$clean" | tail -n1 | cut -c1-160)"
  elif printf '%s\n' "$clean" | grep -q 'TEST SKIPPED'; then
    status=SKIP; why="$(printf '%s\n' "$clean" | grep -m1 'TEST SKIPPED' | sed 's/.*TEST SKIPPED: //')"
  else
    status=PASS; why=""
  fi
  if ! compat_broker_alive; then
    status=FAIL; why="broker process exited during the test (log: $logdir/broker.log)"
    compat_broker_restart || die "broker restart failed"
  fi
  case "$status" in
    PASS) passed=$((passed + 1)) ;;
    SKIP) skipped_list="$skipped_list $name" ;;
    *) failed=$((failed + 1)); failed_list="$failed_list $name" ;;
  esac
  printf '%-7s %s %4ss %s\n' "$status" "$name" "$secs" "$why"
done
[ -n "$skipped_list" ] && echo "skipped (the script skipped itself, not counted as passed):$skipped_list"
[ -n "$failed_list" ] && echo "failed:$failed_list (logs: $logdir/<name>.log)"
echo "compat-kcat: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
