#!/usr/bin/env bash
# Monolith benchmark (issue #3 point 8; docs/benchmarks.md "Monolith (axon-loadtest)"): the
# three scenarios of the issue, each on a fresh axon-monolith and a fresh data directory,
# driven by cmd/axon-loadtest through the public client-server API only.
#
#   S1  1 sender in 1 room (2 users, both long-polling /sync), as fast as it goes
#   S2  10 senders in 1 room (10 users, all long-polling /sync), as fast as they go
#   S3  1,000 users in 100 rooms of 10, every user long-polling /sync, 200 sends/s in total
#       from 100 senders, staggered so the rate arrives evenly
#
# on SQLite with the embedded event log (the default) and, if AXON_TEST_POSTGRES_DSN is set,
# on Postgres (a database created for each run on that server, dropped afterwards) with the
# embedded event log in the same database. It prints one table row per run (the columns of
# docs/benchmarks.md, and the delivery p99 of the messages sent in the send phase's first
# second and in its worst second: the load tool's delivery_by_second) and keeps the load
# tool's JSON when KEEP_TMP=1.
#
#   scripts/bench-monolith.sh                       # SQLite and (with the DSN) Postgres
#   BACKENDS=sqlite SCENARIOS="S3" ROUNDS=3 scripts/bench-monolith.sh
#
# Settings (environment): BACKENDS ("sqlite postgres"), SCENARIOS ("S1 S2 S3"), ROUNDS (1),
# DURATION (15s for S1/S2, 20s for S3), SYNCS ("spec": the syncers' API, any of spec, v3 and
# v3-list, the load tool's -sync; several alternate within a round), SQLITE_SYNC (full, the default, or normal: the
# global.sqlite_synchronous key), KEEP_TMP=1, MONOLITH_ARGS (extra server flags, e.g.
# "-pprof-bind 127.0.0.1:6060" to take a CPU profile during a run). Users are registered with bcrypt cost 4 to keep
# setup short (1,000 registrations at the default cost 12 take minutes on 2 cores); login is
# not part of any measured phase. Everything listens on 127.0.0.1 and every server is stopped
# (SIGTERM) after its run. Bounded: about 40 s per S1/S2 run and 45 s per S3 run.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
for tool in go python3 curl; do
  command -v "$tool" >/dev/null || { echo "bench-monolith: $tool not found"; exit 1; }
done
BACKENDS=${BACKENDS:-"sqlite postgres"}
SCENARIOS=${SCENARIOS:-"S1 S2 S3"}
ROUNDS=${ROUNDS:-1}
SQLITE_SYNC=${SQLITE_SYNC:-full}
SYNCS=${SYNCS:-spec}

work=$(mktemp -d /tmp/axon-bench-monolith.XXXXXX)
mkdir -p "$work/bin" "$work/results"
server_pid=""
dbs=()
status=1

say() { printf '== bench-monolith %s: %s\n' "$(date +%T)" "$*" >&2; }

stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}

cleanup() {
  set +e
  stop_server
  for d in "${dbs[@]}"; do
    psql "$AXON_TEST_POSTGRES_DSN" -qc "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1
  done
  if [ "$status" = 0 ] && [ -z "${KEEP_TMP:-}" ]; then
    rm -rf "$work"
  else
    echo "bench-monolith: logs, configs and results kept in $work" >&2
  fi
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

# db_dsn NAME: the DSN of database NAME on the server of AXON_TEST_POSTGRES_DSN.
db_dsn() {
  python3 - "$AXON_TEST_POSTGRES_DSN" "$1" <<'EOF'
import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
print(urllib.parse.urlunsplit(u._replace(path="/" + sys.argv[2])))
EOF
}

say "building into $work/bin"
(cd "$repo" && CGO_ENABLED=0 go build -o "$work/bin/" ./cmd/axon-monolith ./cmd/axon-loadtest)

# run BACKEND SCENARIO ROUND SYNC: one fresh server, one load tool run, one JSON file.
run() {
  local backend=$1 scen=$2 round=$3 sync=$4
  local dir="$work/data/$backend-$scen-$round-$sync" port
  mkdir -p "$dir"
  port=$(free_port)
  {
    echo "global:"
    echo "  server_name: localhost"
    echo "  data_dir: $dir"
    echo "  sqlite_synchronous: $SQLITE_SYNC"
    # A benchmark, not a server people use: the load exceeds the default rate limits.
    echo "  rate_limits:"
    echo "    enabled: false"
    if [ "$backend" = postgres ]; then
      local db="axon_bench_mono_$$_${scen,,}_$round"
      psql "$AXON_TEST_POSTGRES_DSN" -qc "CREATE DATABASE $db" >/dev/null
      dbs+=("$db")
      echo "  database:"
      echo "    connection_string: \"$(db_dsn "$db")\""
    fi
    echo "user_api:"
    echo "  bcrypt_cost: 4"
  } >"$dir/axon.yaml"
  "$work/bin/axon-monolith" -config "$dir/axon.yaml" -http-bind "127.0.0.1:$port" -metrics-bind 127.0.0.1:0 ${MONOLITH_ARGS:-} >"$dir/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 300); do
    curl -fsS -m 2 "http://127.0.0.1:$port/_matrix/client/versions" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { tail -n 20 "$dir/server.log" >&2; echo "bench-monolith: server exited" >&2; exit 1; }
    sleep 0.1
  done
  local args
  case $scen in
    S1) args=(-users 2 -rooms 1 -senders 1 -duration "${DURATION:-15s}" -drain 10s) ;;
    S2) args=(-users 10 -rooms 1 -senders 10 -duration "${DURATION:-15s}" -drain 10s) ;;
    S3) args=(-users 1000 -rooms 100 -members 10 -senders 100 -rate 200 -duration "${DURATION:-20s}" -drain 10s -setup-concurrency 32) ;;
    *) echo "bench-monolith: unknown scenario $scen" >&2; exit 1 ;;
  esac
  local out="$work/results/$backend-$scen-$round-$sync.json"
  # Missing or duplicate deliveries (exit 3) still print their row (the missing / dup
  # column); v3-list sees each room's newest event only, so messages overtaken between two
  # polls count as missing there.
  "$work/bin/axon-loadtest" -json ${LOADTEST_ARGS:-} -sync "$sync" -hs "http://127.0.0.1:$port" -server-pid "$server_pid" "${args[@]}" >"$out" ||
    { rc=$?; [ "$rc" = 3 ] || exit "$rc"; }
  stop_server
  local label=$scen
  [ "$sync" = spec ] || label="$scen sync $sync"
  python3 - "$backend" "$label" "$out" "$(cut -d' ' -f1 /proc/loadavg)" <<'EOF'
import json, sys
backend, scen, path, load = sys.argv[1:5]
r = json.load(open(path))
s, d = r["send_latency"], r["delivery_latency"]
secs = [x for x in r.get("delivery_by_second") or [] if x["n"] > 0]
by_second = "%.1f / %.1f" % (secs[0]["p99_ms"], max(x["p99_ms"] for x in secs)) if secs else "-"
print("| %s | %s | %.0f | %.2f / %.1f | %.2f / %.1f | %s | %d / %d | %.2f | %.1f | %.1f | %s |" % (
    scen, backend, r["sends_per_second"], s["p50_ms"], s["p99_ms"], d["p50_ms"], d["p99_ms"], by_second,
    r["missing"], r["duplicates"], r.get("server_cpu_ms_per_send", 0),
    r.get("server_rss_idle_kb", 0) / 1024, r.get("server_rss_after_kb", 0) / 1024, load))
EOF
}

echo "| scenario | backend | sends/s | send p50 / p99 ms | delivery p50 / p99 ms | delivery p99 first s / worst s ms | missing / dup | server CPU ms/send | idle RSS MB | RSS after MB | load avg |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for round in $(seq 1 "$ROUNDS"); do
  for backend in $BACKENDS; do
    if [ "$backend" = postgres ] && [ -z "${AXON_TEST_POSTGRES_DSN:-}" ]; then
      say "AXON_TEST_POSTGRES_DSN not set: Postgres skipped"
      continue
    fi
    for scen in $SCENARIOS; do
      for sync in $SYNCS; do
        say "$backend $scen sync $sync (round $round)"
        run "$backend" "$scen" "$round" "$sync"
      done
    done
  done
done
status=0
