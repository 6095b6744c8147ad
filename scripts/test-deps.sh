#!/usr/bin/env bash
# Installs what the test suite needs beyond npm packages: real Kafka clients from Debian
# (kcat; confluent-kafka-python and kafka-python for /usr/bin/python3) and bsdutils/jq for
# kcat's own tests, and prometheus for promtool (test/metrics checks the endpoint's text with
# it). Idempotent and quiet when everything is present. Needs root or passwordless sudo to
# install; without them it says what is missing and goes on (the tests that need a missing
# client then fail, never pass silently). librdkafka's test suite is built on first use by
# bench/e2e/build-librdkafka.sh.
set -uo pipefail
want=(kcat python3-confluent-kafka python3-kafka jq bsdutils prometheus)
missing=()
for p in "${want[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: no apt-get; install ${missing[*]} by hand" >&2
  exit 0
fi
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if sudo -n true 2>/dev/null; then sudo_cmd=(sudo -n); else
    echo "test-deps: not root and no sudo; missing: ${missing[*]}" >&2
    exit 0
  fi
fi
echo "test-deps: apt-get install ${missing[*]}" >&2
{ "${sudo_cmd[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >/tmp/bunka-test-deps.log 2>&1 \
  || echo "test-deps: apt-get failed (see /tmp/bunka-test-deps.log)" >&2
exit 0
