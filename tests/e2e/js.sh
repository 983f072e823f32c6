#!/usr/bin/env bash
# End-to-end tests through the real matrix-js-sdk (issue: Axon core, §7): the chat scenario
# against a running axon-monolith, stopped and started again in the middle, on the embedded
# default and — when scripts/test.sh has started them — on Postgres + Kafka.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d /tmp/axon-e2e-js.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A port below the kernel's ephemeral range (32768+), where no outgoing connection can take
# it between this check and the server's bind (or while a killed server restarts on it).
free_port() { python3 -c 'import random, socket
for _ in range(500):
    p = random.randint(20000, 31999); s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        s.close(); continue
    s.close(); print(p); break'; }

(cd "$here/js" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
(cd "$repo" && CGO_ENABLED=0 go build -o "$work/axon-monolith" ./cmd/axon-monolith)

start_server() { # start_server NAME LOGFILE ARGS...
  local name=$1 log=$2; shift 2
  # -metrics-bind: a free port, not the default 127.0.0.1:9108 (servers run side by side).
  "$work/axon-monolith" -metrics-bind 127.0.0.1:0 "$@" >>"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    if curl -fsS "$AXON_E2E_BASE_URL/_matrix/client/versions" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then echo "axon-monolith ($name) exited; its log:"; tail -50 "$log"; return 1; fi
    sleep 0.1
  done
  echo "axon-monolith ($name) did not answer in 30 s; its log:"; tail -50 "$log"; return 1
}

stop_server() {
  kill -TERM "$pid"
  wait "$pid" || { echo "axon-monolith did not exit cleanly on SIGTERM"; return 1; }
  pid=""
}

scenario() { # scenario NAME ARGS... — phase 1, restart, phase 2
  local name=$1; shift
  local port; port=$(free_port)
  export AXON_E2E_BASE_URL="http://127.0.0.1:$port"
  export AXON_E2E_STATE="$work/$name.state.json"
  local log="$work/$name.log"
  echo "== e2e ($name): matrix-js-sdk against axon-monolith on $AXON_E2E_BASE_URL"
  start_server "$name" "$log" -http-bind "127.0.0.1:$port" "$@"
  if ! (cd "$here/js" && node --test --test-force-exit phase1-chat.test.mjs phase1-ids-versions.test.mjs phase1-sync-conformance.test.mjs phase1-keys.test.mjs phase1-crosssigning-backup.test.mjs phase1-media.test.mjs phase1-edu.test.mjs phase1-device-lists.test.mjs phase1-verification.test.mjs phase1-verification-inroom.test.mjs phase1-todevice-restart.test.mjs); then echo "--- server log ($name)"; tail -80 "$log"; return 1; fi
  stop_server
  start_server "$name" "$log" -http-bind "127.0.0.1:$port" "$@"
  if ! (cd "$here/js" && node --test --test-force-exit phase2-restart.test.mjs phase2-todevice-restart.test.mjs); then echo "--- server log ($name)"; tail -80 "$log"; return 1; fi
  stop_server
}

# The embedded run keeps the zero-config command line; its data directory's config file is
# written beforehand only to turn the rate limits off (the scenarios send faster than the
# defaults allow), everything else keeps its default.
mkdir -p "$work/data-embedded"
printf 'global:\n  data_dir: "%s"\n  rate_limits:\n    enabled: false\n' "$work/data-embedded" >"$work/data-embedded/axon.yaml"
scenario embedded -data-dir "$work/data-embedded"

if [ -n "${AXON_TEST_POSTGRES_DSN:-}" ] && [ -n "${AXON_TEST_KAFKA_BROKERS:-}" ]; then
  db="axon_e2e_$$"
  psql "$AXON_TEST_POSTGRES_DSN" -qc "CREATE DATABASE $db" >/dev/null
  dsn=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(u.urlunparse(p._replace(path="/"+sys.argv[2])))' "$AXON_TEST_POSTGRES_DSN" "$db")
  mkdir -p "$work/data-pgkafka"
  brokers=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1].split(",")))' "$AXON_TEST_KAFKA_BROKERS")
  cat >"$work/pgkafka.yaml" <<YAML
global:
  server_name: localhost
  data_dir: "$work/data-pgkafka"
  database:
    connection_string: "$dsn"
  event_log:
    backend: kafka
    kafka:
      brokers: $brokers
      topic_prefix: "axon.e2e$$."
      partitions: 4
  # The scenarios send faster than the default rate limits allow.
  rate_limits:
    enabled: false
YAML
  scenario postgres-kafka -data-dir "$work/data-pgkafka" -config "$work/pgkafka.yaml"
  psql "$AXON_TEST_POSTGRES_DSN" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
elif [ "${CI:-}" = "true" ]; then
  echo "e2e: AXON_TEST_POSTGRES_DSN and AXON_TEST_KAFKA_BROKERS must be set in CI (scripts/test.sh starts both)"; exit 1
else
  echo "e2e: skipping the Postgres + Kafka run (run through scripts/test.sh to get both)"
fi
# Federation: an encrypted conversation between two monoliths talking over TLS. The
# federation test harness starts them; its -e2ee scenario runs federation-encrypted.test.mjs
# against both when AXON_E2E_JS_DIR is set.
echo "== e2e (federation): matrix-js-sdk against two federated monoliths (go run ./tests/federation -e2ee)"
(cd "$repo" && AXON_E2E_JS_DIR="$here/js" go run ./tests/federation -e2ee)
echo "e2e (matrix-js-sdk): all scenarios passed"
