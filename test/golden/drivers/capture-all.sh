#!/usr/bin/env bash
# Re-captures the golden request fixtures under test/golden/<client>/<scenario>/ by running
# each real client against the capture fake broker (scripts/capture.ts), one fake broker
# process per scenario. Needs kcat and python3-confluent-kafka (Debian) and the npm dev
# dependencies kafkajs and @platformatic/kafka.
#
#   bash test/golden/drivers/capture-all.sh            # every scenario
#   bash test/golden/drivers/capture-all.sh kcat/group # one scenario
#
# Fixtures are bytes from real clients: after re-capturing, check `git diff --stat
# test/golden` and run `bun test test/protocol/golden`.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$ROOT"
DRIVERS=test/golden/drivers
KCAT_BASE=(-X client.id=golden-kcat)
# kcat produce scenarios add a 64-byte compressible header to every record: librdkafka sends
# a batch uncompressed when compressing does not make it smaller, which three tiny records
# would not be for gzip and lz4.

# run_scenario NAME COMMAND...: starts the fake broker for NAME, exports PORT, runs COMMAND.
run_scenario() {
  local name=$1
  shift
  local log
  log=$(mktemp)
  bun scripts/capture.ts --client "$name" >"$log" 2>&1 &
  local pid=$!
  local port=""
  for _ in $(seq 1 100); do
    port=$(grep -o 'listening 127.0.0.1:[0-9]*' "$log" | cut -d: -f2 || true)
    [[ -n "$port" ]] && break
    sleep 0.1
  done
  if [[ -z "$port" ]]; then
    cat "$log" >&2
    kill "$pid" 2>/dev/null || true
    return 1
  fi
  echo "== $name (port $port): $*"
  local status=0
  PORT=$port bash -c "$*" || status=$?
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  grep '^saved\|^capture:' "$log" | sed "s|$ROOT/||" || true
  rm -f "$log"
  if [[ $status -ne 0 ]]; then
    echo "scenario $name: client exited with $status" >&2
    return "$status"
  fi
}

K="kcat -b 127.0.0.1:\$PORT ${KCAT_BASE[*]}"
declare -A SCENARIOS=(
  [kcat/metadata]="$K -L"
  [kcat/produce-none]="printf 'k1:golden-1\nk2:golden-2\nk3:golden-3\n' | $K -P -t golden -K: -H pad=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx -z none -X linger.ms=100"
  [kcat/produce-gzip]="printf 'k1:golden-1\nk2:golden-2\nk3:golden-3\n' | $K -P -t golden -K: -H pad=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx -z gzip -X linger.ms=100"
  [kcat/produce-snappy]="printf 'k1:golden-1\nk2:golden-2\nk3:golden-3\n' | $K -P -t golden -K: -H pad=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx -z snappy -X linger.ms=100"
  [kcat/produce-lz4]="printf 'k1:golden-1\nk2:golden-2\nk3:golden-3\n' | $K -P -t golden -K: -H pad=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx -z lz4 -X linger.ms=100"
  [kcat/produce-zstd]="printf 'k1:golden-1\nk2:golden-2\nk3:golden-3\n' | $K -P -t golden -K: -H pad=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx -z zstd -X linger.ms=100"
  [kcat/produce-idempotent-gzip]="printf 'k1:golden-1\nk2:golden-2\nk3:golden-3\n' | $K -P -t golden -K: -H pad=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx -z gzip -X enable.idempotence=true -X linger.ms=100"
  [kcat/consume]="$K -C -t golden -o beginning -e -q"
  [kcat/group]="timeout 20 $K -G golden-kcat-group -X heartbeat.interval.ms=300 -X auto.offset.reset=earliest -e -q golden"
  [kcat/query]="$K -Q -t golden:0:1700000000000"
  [confluent-python/admin]="/usr/bin/python3 $DRIVERS/confluent.py \$PORT admin"
  [confluent-python/producer]="/usr/bin/python3 $DRIVERS/confluent.py \$PORT producer"
  [confluent-python/consumer]="timeout 30 /usr/bin/python3 $DRIVERS/confluent.py \$PORT consumer"
  [kafka-python/admin]="timeout 30 /usr/bin/python3 $DRIVERS/kafka-python.py \$PORT admin"
  [kafka-python/producer]="timeout 30 /usr/bin/python3 $DRIVERS/kafka-python.py \$PORT producer"
  [kafka-python/consumer]="timeout 30 /usr/bin/python3 $DRIVERS/kafka-python.py \$PORT consumer"
  [kafkajs/admin]="timeout 30 bun $DRIVERS/kafkajs.ts \$PORT admin"
  [kafkajs/producer]="timeout 30 bun $DRIVERS/kafkajs.ts \$PORT producer"
  [kafkajs/producer-gzip]="timeout 30 bun $DRIVERS/kafkajs.ts \$PORT producer-gzip"
  [kafkajs/consumer]="timeout 30 bun $DRIVERS/kafkajs.ts \$PORT consumer"
  [platformatic/admin]="timeout 30 bun $DRIVERS/platformatic.ts \$PORT admin"
  [platformatic/producer]="timeout 30 bun $DRIVERS/platformatic.ts \$PORT producer"
  [platformatic/producer-snappy]="timeout 30 bun $DRIVERS/platformatic.ts \$PORT producer-snappy"
  [platformatic/producer-lz4]="timeout 30 bun $DRIVERS/platformatic.ts \$PORT producer-lz4"
  [platformatic/producer-idempotent-zstd]="timeout 30 bun $DRIVERS/platformatic.ts \$PORT producer-idempotent-zstd"
  [platformatic/consumer]="timeout 30 bun $DRIVERS/platformatic.ts \$PORT consumer"
)

if [[ $# -gt 0 ]]; then
  names=("$@")
else
  mapfile -t names < <(printf '%s\n' "${!SCENARIOS[@]}" | sort)
fi
for name in "${names[@]}"; do
  cmd=${SCENARIOS[$name]:-}
  if [[ -z "$cmd" ]]; then
    echo "unknown scenario $name" >&2
    exit 2
  fi
  run_scenario "$name" "$cmd"
done
