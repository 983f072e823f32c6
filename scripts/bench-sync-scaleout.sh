#!/usr/bin/env bash
# Sync scale-out benchmark (issue #4 point 5; ARCHITECTURE.md §7; docs/benchmarks.md "Sync
# scale-out"): read throughput of the polylith with 1, 2 and 4 axon-sync-api instances
# behind client-api-proxy.
#
# It builds the binaries, creates a fresh Postgres database on the server of
# AXON_TEST_POSTGRES_DSN and uses the Kafka broker of AXON_TEST_KAFKA_BROKERS with a topic
# prefix of its own, and starts axon-user-api, axon-roomserver and axon-client-api once.
# Then, for each N in SYNC_COUNTS, it starts N sync instances (each its own -instance, so
# its own consumer group on topics 1 and 2 and its own Postgres schema, and so its own view
# built from the start of the log) and client-api-proxy listing their N URLs, and runs
# `axon-loadtest -mode read` (cmd/axon-loadtest/read.go) through the proxy: first a short
# warm-up, then the measured run. The first N also seeds the data (users, rooms, SEED
# messages per room, through the proxy: arrow 4 clientapi → roomserver, topic 2 to the sync
# instances); every later N reads the same data from the loadtest's -state file. Before
# each run every sync instance must show every room's last seeded event (-ready-urls, each
# instance directly). The load tool measures the CPU each process used during the read
# phase (/proc/PID/stat utime+stime) and its RSS, the same summed over this database's
# Postgres backends, and the share of the machine's cores that was busy; the script prints one table row per N. Then it stops the sync instances and the
# proxy and goes on with the next N.
#
# Everything listens on 127.0.0.1. Every process it started is stopped (SIGTERM) and the
# database dropped on exit; the Kafka topics (prefix axon.bench<pid>.) stay on the shared
# broker. Bounded: about 40 s per N plus a minute of setup with the defaults.
#
#   source /tmp/svc/pg.env; source /tmp/svc/kafka.env   # or scripts/test.sh's services
#   scripts/bench-sync-scaleout.sh
#
# Settings (environment): SYNC_COUNTS ("1 2 4"), ROUNDS (1; 2 runs the counts again in
# reverse order, to see drift from other load on the machine), DURATION (20s measured per
# N), WARMUP (5s), READERS (32), USERS (40), ROOMS (20), MEMBERS (4 per room), SEED (50
# messages per room), READ_MIX (the load tool's default), KEEP_TMP=1 keeps logs and JSON.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

: "${AXON_TEST_POSTGRES_DSN:?set AXON_TEST_POSTGRES_DSN (a Postgres server to create a database on)}"
: "${AXON_TEST_KAFKA_BROKERS:?set AXON_TEST_KAFKA_BROKERS (a Kafka broker)}"
for tool in go psql python3 curl; do
  command -v "$tool" >/dev/null || { echo "bench-sync-scaleout: $tool not found"; exit 1; }
done
SYNC_COUNTS=${SYNC_COUNTS:-"1 2 4"}
ROUNDS=${ROUNDS:-1}
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-5s}
READERS=${READERS:-32}
USERS=${USERS:-40}
ROOMS=${ROOMS:-20}
MEMBERS=${MEMBERS:-4}
SEED=${SEED:-50}
READ_MIX=${READ_MIX:-}

work=$(mktemp -d /tmp/axon-bench-sync.XXXXXX)
mkdir -p "$work/bin" "$work/logs" "$work/data" "$work/results"
db="axon_bench_sync_$$"
prefix="axon.bench$$."
declare -A pid=()
status=1

say() { printf '== bench-sync-scaleout %s: %s\n' "$(date +%T)" "$*" >&2; }

stop_proc() { # stop_proc NAME: SIGTERM and wait, if it runs
  local p=${pid[$1]:-}
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
    kill -TERM "$p"
    wait "$p" 2>/dev/null || true
  fi
  unset "pid[$1]"
}

cleanup() {
  set +e
  local n
  for n in "${!pid[@]}"; do
    case $n in sync-* | proxy) stop_proc "$n" ;; esac
  done
  for n in client-api roomserver user-api; do stop_proc "$n"; done
  psql "$AXON_TEST_POSTGRES_DSN" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  if [ "$status" = 0 ] && [ -z "${KEEP_TMP:-}" ]; then
    rm -rf "$work"
  else
    echo "bench-sync-scaleout: logs, config and results kept in $work" >&2
  fi
}
trap cleanup EXIT

fail() {
  echo "bench-sync-scaleout: FAILED: $*" >&2
  for f in "$work"/logs/*.log; do echo "--- $(basename "$f") (last 10 lines)" >&2; tail -n 10 "$f" >&2; done
  exit 1
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

start_proc() { # start_proc NAME HEALTH-URL BINARY ARGS…: start it, wait until HEALTH-URL answers 200
  local n=$1 url=$2
  shift 2
  "$work/bin/$1" "${@:2}" >>"$work/logs/$n.log" 2>&1 &
  pid[$n]=$!
  for _ in $(seq 1 600); do
    curl -fsS -m 2 "$url" >/dev/null 2>&1 && return 0
    kill -0 "${pid[$n]}" 2>/dev/null || fail "$n exited during start"
    sleep 0.1
  done
  fail "$n did not answer $url in 60 s"
}

say "building into $work/bin"
(cd "$repo" && CGO_ENABLED=0 go build -o "$work/bin/" ./cmd/axon-user-api ./cmd/axon-roomserver ./cmd/axon-client-api \
  ./cmd/axon-sync-api ./cmd/client-api-proxy ./cmd/axon-generate-keys ./cmd/axon-loadtest)

psql "$AXON_TEST_POSTGRES_DSN" -qc "CREATE DATABASE $db" >/dev/null
dsn=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(u.urlunparse(p._replace(path="/"+sys.argv[2])))' "$AXON_TEST_POSTGRES_DSN" "$db")

p_user=$(free_port); p_rs=$(free_port); p_client=$(free_port); p_proxy=$(free_port); p_media=$(free_port); p_fed=$(free_port)
secret=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
proxy_url="http://127.0.0.1:$p_proxy"
# The proxy's /metrics is on its own listener (client_api_proxy.metrics_listen).
p_proxy_metrics=$(free_port); proxy_metrics_url="http://127.0.0.1:$p_proxy_metrics"

# write_config FILE SYNC-URL…: the one config every binary reads; only client_api_proxy's
# sync_api_urls differ between the N runs.
write_config() {
  local file=$1 urls
  shift
  urls=$(printf '"%s", ' "$@")
  cat >"$file" <<YAML
global:
  server_name: localhost
  data_dir: "$work/data"
  private_key_path: "$work/signing.key"
  database:
    connection_string: "$dsn"
    max_open_conns: 10
  event_log:
    backend: kafka
    kafka:
      brokers: ["$AXON_TEST_KAFKA_BROKERS"]
      topic_prefix: "$prefix"
      partitions: 4
  internal_api_secret: "$secret"
  metrics:
    enabled: true
  logging:
    level: warn
  # A benchmark, not a server people use: the load exceeds the default rate limits.
  rate_limits:
    enabled: false
user_api:
  internal_api_listen: "127.0.0.1:$p_user"
  internal_api_url: "http://127.0.0.1:$p_user"
  bcrypt_cost: 4
room_server:
  internal_api_listen: "127.0.0.1:$p_rs"
  internal_api_url: "http://127.0.0.1:$p_rs"
client_api:
  public_listen: "127.0.0.1:$p_client"
  public_base_url: "$proxy_url"
sync_api:
  public_listen: "127.0.0.1:$(free_port)"
client_api_proxy:
  listen: "127.0.0.1:$p_proxy"
  metrics_listen: "127.0.0.1:$p_proxy_metrics"
  client_api_urls: ["http://127.0.0.1:$p_client"]
  sync_api_urls: [${urls%, }]
  # No media or federation binary runs here; nothing listens on these ports.
  media_api_urls: ["http://127.0.0.1:$p_media"]
  federation_api_urls: ["http://127.0.0.1:$p_fed"]
  health_check_interval: 500ms
  health_check_timeout: 1s
  connect_timeout: 2s
YAML
}

cfg="$work/axon.yaml"
write_config "$cfg" "http://127.0.0.1:1"
"$work/bin/axon-generate-keys" -config "$cfg" >/dev/null

say "starting axon-user-api, axon-roomserver, axon-client-api (Postgres database $db, Kafka $AXON_TEST_KAFKA_BROKERS, topic prefix $prefix)"
start_proc user-api "http://127.0.0.1:$p_user/health" axon-user-api -config "$cfg"
start_proc roomserver "http://127.0.0.1:$p_rs/health" axon-roomserver -config "$cfg"
start_proc client-api "http://127.0.0.1:$p_client/health" axon-client-api -config "$cfg"

# wait_routed N: the proxy reaches the clientapi and all N sync instances.
wait_routed() {
  for _ in $(seq 1 200); do
    local m
    m=$(curl -fsS -m 2 "$proxy_metrics_url/metrics" 2>/dev/null || true)
    if [ "$(grep -cE '^axon_proxy_upstream_healthy\{kind="(client|sync)".*\} 1$' <<<"$m")" = $(($1 + 1)) ]; then
      return 0
    fi
    sleep 0.1
  done
  fail "client-api-proxy does not route to the clientapi and $1 sync instances"
}

mix=()
[ -n "$READ_MIX" ] && mix=(-read-mix "$READ_MIX")
lt=("$work/bin/axon-loadtest" -mode read -hs "$proxy_url" -users "$USERS" -rooms "$ROOMS" -members "$MEMBERS"
  -seed "$SEED" -readers "$READERS" -state "$work/state.json" "${mix[@]}")

# run_n N ROUND: N sync instances and the proxy, warm-up, measured run, stop.
run_n() {
  local n=$1 round=$2 i urls=() ready pids
  for ((i = 1; i <= n; i++)); do
    local port name=sync-$i
    port=$(free_port)
    start_proc "$name" "http://127.0.0.1:$port/health" axon-sync-api -config "$cfg" -instance "r${round}n${n}_$i" -public-bind "127.0.0.1:$port"
    urls+=("http://127.0.0.1:$port")
  done
  write_config "$work/proxy-$n.yaml" "${urls[@]}"
  start_proc proxy "$proxy_url/_matrix/client/versions" client-api-proxy -config "$work/proxy-$n.yaml"
  wait_routed "$n"
  if [ ! -f "$work/state.json" ]; then
    say "seeding: $USERS users, $ROOMS rooms × $MEMBERS members, $SEED messages per room"
    "${lt[@]}" -seed-only >>"$work/logs/loadtest.log" 2>&1 || fail "seeding (see loadtest.log)"
  fi
  ready=$(IFS=,; echo "${urls[*]}")
  pids="proxy=${pid[proxy]},user-api=${pid[user-api]},roomserver=${pid[roomserver]},client-api=${pid[client-api]}"
  for ((i = 1; i <= n; i++)); do pids+=",sync-$i=${pid[sync-$i]}"; done
  say "N=$n: warm-up $WARMUP (after every instance shows the seeded data)"
  "${lt[@]}" -ready-urls "$ready" -duration "$WARMUP" -json >"$work/results/warmup-r$round-n$n.json" 2>>"$work/logs/loadtest.log" ||
    fail "warm-up with N=$n (see $work/results/warmup-r$round-n$n.json)"
  say "N=$n: measuring $DURATION with $READERS readers"
  "${lt[@]}" -ready-urls "$ready" -duration "$DURATION" -measure-pids "$pids" -measure-match "postgres= $db " -json >"$work/results/r$round-n$n.json" 2>>"$work/logs/loadtest.log" ||
    fail "read run with N=$n (see $work/results/r$round-n$n.json)"
  stop_proc proxy
  for ((i = 1; i <= n; i++)); do stop_proc "sync-$i"; done
}

counts=($SYNC_COUNTS)
for ((round = 1; round <= ROUNDS; round++)); do
  order=("${counts[@]}")
  if ((round % 2 == 0)); then
    order=()
    for ((i = ${#counts[@]} - 1; i >= 0; i--)); do order+=("${counts[$i]}"); done
  fi
  for n in "${order[@]}"; do run_n "$n" "$round"; done
done

# The table: one row per run, in the order run.
python3 - "$work/results" "$ROUNDS" "${counts[@]}" <<'PY'
import json, os, sys
d, rounds, counts = sys.argv[1], int(sys.argv[2]), [int(c) for c in sys.argv[3:]]
load = lambda r, n: json.load(open(os.path.join(d, f"r{r}-n{n}.json")))
print("| N sync | round | requests/s | × first N | errors | p50 / p99 ms: incremental, catch-up, initial, messages "
      "| sync CPU ms/request, all instances | sync CPU, % of a core, each | sync RSS MB, each "
      "| proxy CPU ms/req | user-api CPU ms/req | Postgres CPU ms/req | loadtest CPU ms/req | machine busy |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in range(1, rounds + 1):
    base = load(r, counts[0])["requests_per_second"]
    for n in (counts if r % 2 else counts[::-1]):
        j = load(r, n)
        k = {x["kind"]: x for x in j["kinds"]}
        lat = ", ".join("%.1f / %.0f" % (k[x]["p50_ms"], k[x]["p99_ms"]) if x in k else "–"
                        for x in ("sync_incremental", "sync_catchup", "sync_initial", "messages"))
        p = {x["name"]: x for x in j["processes"]}
        sync = [p["sync-%d" % i] for i in range(1, n + 1)]
        cells = [n, r, "%.0f" % j["requests_per_second"], "%.2f" % (j["requests_per_second"] / base if base else 0),
                 j["errors"], lat,
                 "%.3f" % sum(s["cpu_ms_per_request"] for s in sync),
                 " ".join("%.0f" % s["cpu_percent"] for s in sync),
                 " ".join("%.0f" % (s["rss_kb"] / 1024) for s in sync),
                 "%.3f" % p["proxy"]["cpu_ms_per_request"], "%.3f" % p["user-api"]["cpu_ms_per_request"], "%.3f" % p["postgres"]["cpu_ms_per_request"],
                 "%.3f" % p["axon-loadtest"]["cpu_ms_per_request"], "%.0f%%" % j.get("machine_busy_percent", 0)]
        print("| " + " | ".join(str(c) for c in cells) + " |")
PY
say "done"
status=0
