#!/usr/bin/env bash
# End-to-end tests through matrix-nio, a real Python client library (ARCHITECTURE.md §7):
# the chat scenario of tests/e2e/nio against a running axon-monolith, stopped with SIGTERM
# and started again between phase 1 and phase 2. Runs on the embedded default, and on
# Postgres + Kafka too when AXON_TEST_POSTGRES_DSN and AXON_TEST_KAFKA_BROKERS are set
# (scripts/test.sh starts both).
#
# Needs python3 (with pip) and go; matrix-nio and pytest are installed into a venv cached
# under ${XDG_CACHE_HOME:-~/.cache}/axon-e2e-nio, keyed by the requirements file.
# AXON_E2E_MONOLITH=/path/to/axon-monolith skips the go build.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d /tmp/axon-e2e-nio.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- the Python side: a venv with the pinned requirements, reused while they are unchanged.
reqs="$here/nio/requirements.txt"
key=$( { python3 -c 'import sys; print(sys.version)'; cat "$reqs"; } | python3 -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:16])')
cache="${XDG_CACHE_HOME:-$HOME/.cache}/axon-e2e-nio"
env_dir="$cache/$key"
if [ ! -f "$env_dir/.complete" ]; then
  echo "== e2e (matrix-nio): installing $(grep -m1 '^matrix-nio==' "$reqs") into $env_dir"
  mkdir -p "$cache"
  tmp="$cache/$key.tmp.$$"
  rm -rf "$tmp"
  if python3 -m venv "$tmp" >/dev/null 2>&1 && [ -x "$tmp/bin/python" ] && "$tmp/bin/python" -m pip --version >/dev/null 2>&1; then
    "$tmp/bin/python" -m pip install -q --disable-pip-version-check -r "$reqs"
  else
    # No venv module (e.g. Debian without python3-venv): install into a plain directory.
    rm -rf "$tmp"
    mkdir -p "$tmp"
    python3 -m pip install -q --disable-pip-version-check --target "$tmp/site" -r "$reqs"
  fi
  touch "$tmp/.complete"
  if [ -f "$env_dir/.complete" ]; then
    rm -rf "$tmp" # a concurrent run finished first: keep its environment
  else
    rm -rf "$env_dir"
    mv "$tmp" "$env_dir"
  fi
fi
if [ -x "$env_dir/bin/python" ]; then
  py=("$env_dir/bin/python")
else
  py=(env "PYTHONPATH=$env_dir/site" python3)
fi
export PYTHONDONTWRITEBYTECODE=1

# --- the server.
if [ -n "${AXON_E2E_MONOLITH:-}" ]; then
  cp "$AXON_E2E_MONOLITH" "$work/axon-monolith"
else
  (cd "$repo" && CGO_ENABLED=0 go build -o "$work/axon-monolith" ./cmd/axon-monolith)
fi

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
answers() { python3 -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" >/dev/null 2>&1; }

start_server() { # start_server NAME LOGFILE ARGS...
  local name=$1 log=$2; shift 2
  # -metrics-bind: a free port, not the default 127.0.0.1:9108 (servers run side by side).
  "$work/axon-monolith" -metrics-bind 127.0.0.1:0 "$@" >>"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    if answers "$AXON_E2E_BASE_URL/_matrix/client/versions"; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then echo "axon-monolith ($name) exited; its log:"; tail -50 "$log"; return 1; fi
    sleep 0.1
  done
  echo "axon-monolith ($name) did not answer in 30 s; its log:"; tail -50 "$log"; return 1
}

stop_server() {
  kill -TERM "$pid"
  if ! wait "$pid"; then pid=""; echo "axon-monolith did not exit cleanly on SIGTERM"; return 1; fi
  pid=""
}

run_phase() { # run_phase NAME LOGFILE TESTFILE
  local name=$1 log=$2 file=$3
  if ! (cd "$repo" && timeout 300 "${py[@]}" -m pytest -q -x -p no:cacheprovider "$here/nio/$file"); then
    echo "--- server log ($name), last 80 lines"; tail -80 "$log"; return 1
  fi
}

failed=0
scenario() { # scenario NAME ARGS... — phase 1, restart, phase 2
  local name=$1; shift
  local port; port=$(free_port)
  export AXON_E2E_BASE_URL="http://127.0.0.1:$port"
  export AXON_E2E_STATE="$work/$name.state.json"
  local log="$work/$name.log"
  echo "== e2e ($name): matrix-nio against axon-monolith on $AXON_E2E_BASE_URL"
  start_server "$name" "$log" -http-bind "127.0.0.1:$port" "$@"
  # A phase-1 failure after the state was handed over still lets phase 2 show what a
  # restart keeps; the run fails either way.
  run_phase "$name" "$log" test_phase1_chat.py || failed=1
  run_phase "$name" "$log" test_phase1_forget_ignore.py || failed=1
  if [ ! -f "$AXON_E2E_STATE" ]; then return 1; fi
  echo "== e2e ($name): restarting axon-monolith"
  stop_server || { tail -30 "$log"; return 1; }
  start_server "$name" "$log" -http-bind "127.0.0.1:$port" "$@"
  run_phase "$name" "$log" test_phase2_restart.py || failed=1
  stop_server || { tail -30 "$log"; return 1; }
}

# The embedded run keeps the zero-config command line; its data directory's config file is
# written beforehand only to turn the rate limits off (the scenarios send faster than the
# defaults allow), everything else keeps its default.
mkdir -p "$work/data-embedded"
printf 'global:\n  data_dir: "%s"\n  rate_limits:\n    enabled: false\n' "$work/data-embedded" >"$work/data-embedded/axon.yaml"
scenario embedded -data-dir "$work/data-embedded"

if [ -n "${AXON_TEST_POSTGRES_DSN:-}" ] && [ -n "${AXON_TEST_KAFKA_BROKERS:-}" ] && command -v psql >/dev/null; then
  db="axon_e2e_nio_$$"
  psql "$AXON_TEST_POSTGRES_DSN" -qc "CREATE DATABASE $db" >/dev/null
  drop_db() { psql "$AXON_TEST_POSTGRES_DSN" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; }
  trap 'cleanup; drop_db' EXIT
  dsn=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(u.urlunparse(p._replace(path="/"+sys.argv[2])))' "$AXON_TEST_POSTGRES_DSN" "$db")
  brokers=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1].split(",")))' "$AXON_TEST_KAFKA_BROKERS")
  mkdir -p "$work/data-pgkafka"
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
      topic_prefix: "axon.e2enio$$."
      partitions: 4
  # The scenarios send faster than the default rate limits allow.
  rate_limits:
    enabled: false
YAML
  scenario postgres-kafka -data-dir "$work/data-pgkafka" -config "$work/pgkafka.yaml"
else
  echo "e2e (matrix-nio): skipping the Postgres + Kafka run (needs AXON_TEST_POSTGRES_DSN, AXON_TEST_KAFKA_BROKERS and psql; scripts/test.sh starts both)"
fi
if [ "$failed" != 0 ]; then echo "e2e (matrix-nio): FAILED"; exit 1; fi
echo "e2e (matrix-nio): all scenarios passed"
