# shellcheck shell=bash
# Sourced by the compat runners: starts (or adopts) the broker under test.
#   compat_broker_up <logdir>   sets $bootstrap; starts bunka unless BROKERS=host:port is set
#   compat_broker_alive         false when the bunka we started has exited
#   compat_broker_restart       fresh data dir, new port, updates $bootstrap
#   compat_broker_down          stops bunka (TERM, then KILL after 5 s), removes its data
# BUNKA_BROKER_CMD is a template split on whitespace; {port} and {dir} are substituted.
# The default runs bunka with auto topic creation and 4 partitions per new topic, which
# both librdkafka's and kcat's suites assume.
compat_default_cmd="bun src/main.ts broker --set listeners=PLAINTEXT://127.0.0.1:{port} --set log.dirs={dir} --set auto.create.topics.enable=true --set num.partitions=4"
compat_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
broker_pid=""
broker_dir=""
broker_logdir=""
bootstrap=""

compat_free_port() {
  bun -e 'const s=require("node:net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
compat_port_open() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }

compat_start_bunka() {
  local port cmd
  port="$(compat_free_port)" || { echo "[compat] no free port" >&2; return 1; }
  broker_dir="$(mktemp -d "${TMPDIR:-/tmp}/bunka-compat-XXXXXX")"
  cmd="${BUNKA_BROKER_CMD:-$compat_default_cmd}"
  cmd="${cmd//\{port\}/$port}"
  cmd="${cmd//\{dir\}/$broker_dir/data}"
  echo "[compat] starting broker: $cmd" >&2
  # shellcheck disable=SC2086 # the template is split on whitespace on purpose
  (cd "$compat_repo" && exec $cmd) >>"$broker_logdir/broker.log" 2>&1 </dev/null &
  broker_pid=$!
  bootstrap="127.0.0.1:$port"
  for _ in $(seq 1 300); do
    compat_port_open "$bootstrap" && return 0
    if ! kill -0 "$broker_pid" 2>/dev/null; then
      tail -n 20 "$broker_logdir/broker.log" >&2
      echo "[compat] broker exited before listening (log: $broker_logdir/broker.log)" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "[compat] broker did not listen on $bootstrap within 30 s (log: $broker_logdir/broker.log)" >&2
  return 1
}

compat_broker_up() {
  broker_logdir="$1"
  if [ -n "${BROKERS:-}" ]; then
    bootstrap="$BROKERS"
    compat_port_open "${bootstrap%%,*}" || { echo "[compat] BROKERS=$bootstrap does not accept connections" >&2; return 1; }
    return 0
  fi
  compat_start_bunka
}

compat_broker_alive() {
  [ -n "${BROKERS:-}" ] && return 0
  [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null
}

compat_broker_down() {
  if [ -n "$broker_pid" ]; then
    kill "$broker_pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$broker_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$broker_pid" 2>/dev/null
    wait "$broker_pid" 2>/dev/null
    broker_pid=""
  fi
  if [ -n "$broker_dir" ]; then rm -rf "$broker_dir"; fi
  broker_dir=""
}

compat_broker_restart() {
  compat_broker_down
  compat_start_bunka
}
