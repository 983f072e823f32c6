#!/usr/bin/env bash
# The polylith end-to-end test (issue #4 point 6; ARCHITECTURE.md §4, §5, §7, §9).
#
# What it proves: Axon split into its binaries — axon-user-api, axon-roomserver,
# axon-key-server, axon-edu-server, axon-federation-sender, axon-appservice, axon-client-api, axon-media-api, two axon-sync-api instances and client-api-proxy, each its own process,
# sharing one config file, one Postgres database and one Kafka broker — serves real Matrix
# clients through client-api-proxy exactly as the monolith does, and loses or duplicates
# nothing when its parts crash:
#
#   1. the core scenarios of tests/e2e/js (matrix-js-sdk) and tests/e2e/nio (matrix-nio),
#      phase 1, run unchanged against the proxy's URL; every process is then stopped with
#      SIGTERM (each must exit 0) and started again, and phase 2 checks that logins,
#      rooms, messages, the redaction and sync positions survived;
#   2. the kill -9 drill (tests/polylith/drill): 20 users in 4 rooms send ~60 messages/s
#      through the proxy, retrying failed sends with the same transaction ID, while a
#      long-polling /sync loop per user records every event. Meanwhile this script kills -9
#      the roomserver (arrow 4 and the topic 2/4 outbox go away mid-request), then one sync
#      instance (a topic 1/2 consumer with uncommitted offsets and half the long-polls),
#      then the Kafka broker (topics 1–6 themselves), restarting each after 2 s. The drill
#      then checks that every message a sender got a 200 for reached every member's /sync
#      stream exactly once and in each sender's order, that nothing else did, and that a
#      repeated transaction ID answers the first event ID; it prints the counts and the
#      delivery delays. After the drill every process must still be healthy and stop
#      cleanly on SIGTERM.
#
# The broker is this script's own (scripts/kafka.sh start, in the temporary directory, so
# it can be killed; `scripts/kafka.sh restart` brings it back on the same ports with its
# data); the database is a fresh one on the server of AXON_TEST_POSTGRES_DSN. Every
# listener is on 127.0.0.1, on a free port; global.internal_api_secret is set. With
# CI=true, a missing AXON_TEST_POSTGRES_DSN or AXON_TEST_KAFKA_BROKERS (scripts/test.sh
# sets both; the latter says Java and the Kafka jars are there) fails the run; otherwise
# the script skips with a message. Needs go, node (npm), python3, psql, java and mvn.
# KEEP_TMP=1 keeps the temporary directory (logs, config) even on success; it is kept on
# failure anyway. The whole run takes about 2–4 minutes. For debugging only:
# POLYLITH_SKIP_CLIENTS=1 skips part 1, POLYLITH_NO_KILL=1 runs the drill without the kills.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

if [ -z "${AXON_TEST_POSTGRES_DSN:-}" ] || [ -z "${AXON_TEST_KAFKA_BROKERS:-}" ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "e2e (polylith): AXON_TEST_POSTGRES_DSN and AXON_TEST_KAFKA_BROKERS must be set in CI (scripts/test.sh starts both)"; exit 1
  fi
  echo "e2e (polylith): skipped: needs AXON_TEST_POSTGRES_DSN and AXON_TEST_KAFKA_BROKERS (run through scripts/test.sh)"
  exit 0
fi
for tool in go node npm python3 psql java curl; do
  command -v "$tool" >/dev/null || { echo "e2e (polylith): $tool not found"; exit 1; }
done

work=$(mktemp -d /tmp/axon-e2e-polylith.XXXXXX)
mkdir -p "$work/bin" "$work/logs" "$work/data"
db="axon_polylith_$$"
declare -A pid=() args=() health=() envs=()
order=(user-api roomserver server-key-api federation-sender app-service key-server edu-server client-api federation-api media-api sync-a sync-b proxy)
status=1

say() { printf '== e2e (polylith) %s: %s\n' "$(date +%T)" "$*"; }

cleanup() {
  set +e
  for ((i = ${#order[@]} - 1; i >= 0; i--)); do
    local p=${pid[${order[$i]}]:-}
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then kill -TERM "$p"; wait "$p" 2>/dev/null; fi
  done
  [ -n "${drill_pid:-}" ] && kill -TERM "$drill_pid" 2>/dev/null
  [ -f "$work/kafka/kafka.pid" ] && "$repo/scripts/kafka.sh" stop "$work/kafka" >/dev/null 2>&1
  psql "$AXON_TEST_POSTGRES_DSN" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  if [ "$status" = 0 ] && [ -z "${KEEP_TMP:-}" ]; then
    rm -rf "$work"
  else
    echo "e2e (polylith): logs and config kept in $work"
  fi
}
trap cleanup EXIT

# A port below the kernel's ephemeral range (32768+), where no outgoing connection can take
# it between this check and the server's bind (or while a killed server restarts on it),
# and never one this run handed out before ($work/ports: the processes bind only later,
# so two picks could otherwise return the same free port).
free_port() { python3 - "$work/ports" <<'EOF'
import random, socket, sys
path = sys.argv[1]
try:
    used = set(open(path).read().split())
except OSError:
    used = set()
for _ in range(500):
    p = random.randint(20000, 31999)
    if str(p) in used:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        s.close(); continue
    s.close()
    open(path, "a").write("%d\n" % p)
    print(p); break
EOF
}

logs_tail() { # logs_tail [N]: the end of every process log
  for n in "${order[@]}"; do echo "--- $n (last ${1:-15} lines)"; tail -n "${1:-15}" "$work/logs/$n.log" 2>/dev/null; done
  echo "--- kafka"; tail -n 20 "$work/kafka/kafka.log" 2>/dev/null || true
}
fail() { echo "e2e (polylith): FAILED: $*"; logs_tail 15; exit 1; }

# --- build every binary and the drill
say "building"
(cd "$repo" && CGO_ENABLED=0 go build -o "$work/bin/" ./cmd/axon-user-api ./cmd/axon-roomserver ./cmd/axon-client-api \
  ./cmd/axon-sync-api ./cmd/client-api-proxy ./cmd/axon-generate-keys ./cmd/axon-server-key-api ./cmd/axon-federation-api ./cmd/axon-key-server ./cmd/axon-edu-server ./cmd/axon-federation-sender ./cmd/axon-appservice \
  ./cmd/axon-media-api ./tests/polylith/drill ./tests/polylith/ryw ./tests/polylith/keycheck ./tests/polylith/mediacheck)

# --- our own Kafka broker, and a fresh database
say "starting this run's own Kafka broker"
kafka_env=$("$repo/scripts/kafka.sh" start "$work/kafka") || fail "scripts/kafka.sh start"
brokers=${kafka_env#export AXON_TEST_KAFKA_BROKERS=}
psql "$AXON_TEST_POSTGRES_DSN" -qc "CREATE DATABASE $db" >/dev/null
dsn=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(u.urlunparse(p._replace(path="/"+sys.argv[2])))' "$AXON_TEST_POSTGRES_DSN" "$db")

# --- one config for every binary
p_user=$(free_port); p_rs=$(free_port); p_client=$(free_port); p_sync_a=$(free_port); p_sync_b=$(free_port)
p_proxy=$(free_port); p_media=$(free_port); p_fed=$(free_port); p_sk=$(free_port); p_ks=$(free_port); p_fs=$(free_port); p_edu=$(free_port)
p_as=$(free_port)
secret=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
proxy_url="http://127.0.0.1:$p_proxy"
# The proxy's /metrics is on its own listener (client_api_proxy.metrics_listen), not on
# the public port.
p_proxy_metrics=$(free_port); proxy_metrics_url="http://127.0.0.1:$p_proxy_metrics"
cat >"$work/axon.yaml" <<YAML
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
      brokers: ["$brokers"]
      topic_prefix: "axon.polylith$$."
      partitions: 4
  internal_api_secret: "$secret"
  metrics:
    enabled: true
  # client-api-proxy runs on this machine: its X-Forwarded-For names the client.
  trusted_proxies: ["127.0.0.1"]
  # The scenarios send faster than the default rate limits allow.
  rate_limits:
    enabled: false
user_api:
  internal_api_listen: "127.0.0.1:$p_user"
  internal_api_url: "http://127.0.0.1:$p_user"
  bcrypt_cost: 4
room_server:
  internal_api_listen: "127.0.0.1:$p_rs"
  internal_api_url: "http://127.0.0.1:$p_rs"
server_key_api:
  internal_api_listen: "127.0.0.1:$p_sk"
  internal_api_url: "http://127.0.0.1:$p_sk"
federation_sender:
  internal_api_listen: "127.0.0.1:$p_fs"
  internal_api_url: "http://127.0.0.1:$p_fs"
app_service:
  internal_api_listen: "127.0.0.1:$p_as"
  internal_api_url: "http://127.0.0.1:$p_as"
key_server:
  internal_api_listen: "127.0.0.1:$p_ks"
  internal_api_url: "http://127.0.0.1:$p_ks"
edu_server:
  internal_api_listen: "127.0.0.1:$p_edu"
  internal_api_url: "http://127.0.0.1:$p_edu"
federation_api:
  public_listen: "127.0.0.1:$p_fed"
media_api:
  public_listen: "127.0.0.1:$p_media"
client_api:
  public_listen: "127.0.0.1:$p_client"
  public_base_url: "$proxy_url"
sync_api:
  public_listen: "127.0.0.1:$p_sync_a"
client_api_proxy:
  listen: "127.0.0.1:$p_proxy"
  metrics_listen: "127.0.0.1:$p_proxy_metrics"
  client_api_urls: ["http://127.0.0.1:$p_client"]
  sync_api_urls: ["http://127.0.0.1:$p_sync_a", "http://127.0.0.1:$p_sync_b"]
  # axon-media-api serves /_matrix/media and /_matrix/client/v1/media;
  # axon-federation-api serves federation and key paths.
  media_api_urls: ["http://127.0.0.1:$p_media"]
  federation_api_urls: ["http://127.0.0.1:$p_fed"]
  health_check_interval: 500ms
  health_check_timeout: 1s
  connect_timeout: 2s
YAML
"$work/bin/axon-generate-keys" -config "$work/axon.yaml" >/dev/null

cfg=(-config "$work/axon.yaml")
args[user-api]="axon-user-api ${cfg[*]}";                                   health[user-api]="http://127.0.0.1:$p_user/health"
args[roomserver]="axon-roomserver ${cfg[*]}";                               health[roomserver]="http://127.0.0.1:$p_rs/health"
args[server-key-api]="axon-server-key-api ${cfg[*]}";                       health[server-key-api]="http://127.0.0.1:$p_sk/health"
args[federation-sender]="axon-federation-sender ${cfg[*]}";                 health[federation-sender]="http://127.0.0.1:$p_fs/health"
args[app-service]="axon-appservice ${cfg[*]}";                             health[app-service]="http://127.0.0.1:$p_as/health"
args[key-server]="axon-key-server ${cfg[*]}";                               health[key-server]="http://127.0.0.1:$p_ks/health"
args[edu-server]="axon-edu-server ${cfg[*]}";                               health[edu-server]="http://127.0.0.1:$p_edu/health"
args[federation-api]="axon-federation-api ${cfg[*]}";                       health[federation-api]="http://127.0.0.1:$p_fed/health"
args[media-api]="axon-media-api ${cfg[*]}";                                 health[media-api]="http://127.0.0.1:$p_media/health"
args[client-api]="axon-client-api ${cfg[*]}";                               health[client-api]="http://127.0.0.1:$p_client/health"
p_sync_a_m=$(free_port); p_sync_b_m=$(free_port)  # the sync instances' /metrics listeners
args[sync-a]="axon-sync-api ${cfg[*]} -instance a -metrics-bind 127.0.0.1:$p_sync_a_m"; health[sync-a]="http://127.0.0.1:$p_sync_a/health"
args[sync-b]="axon-sync-api ${cfg[*]} -instance b -public-bind 127.0.0.1:$p_sync_b -metrics-bind 127.0.0.1:$p_sync_b_m"; health[sync-b]="http://127.0.0.1:$p_sync_b/health"
# Both sync instances store each topic 2 record 10 ms late (a test hook): they lag the
# roomserver for certain, so every read right after a write must wait for that write on
# whichever instance the proxy picks (read your own writes, issue #9) — in the ryw check
# and in every scenario below.
envs[sync-a]="AXON_TEST_SYNC_ROOM_EVENT_DELAY=10ms"
envs[sync-b]="AXON_TEST_SYNC_ROOM_EVENT_DELAY=10ms"
# The proxy's own /health is 503 while any kind of upstream is all down: it counts as up
# once it forwards /versions to the clientapi (wait_routed then waits for the sync
# instances; keycheck and mediacheck retry until the proxy finds their upstreams).
args[proxy]="client-api-proxy ${cfg[*]}";                                   health[proxy]="$proxy_url/_matrix/client/versions"

start_proc() { # start_proc NAME: start it and wait until its /health answers 200
  local n=$1 words
  read -r -a words <<<"${args[$n]}"
  env ${envs[$n]:-} "$work/bin/${words[0]}" "${words[@]:1}" >>"$work/logs/$n.log" 2>&1 &
  pid[$n]=$!
  for _ in $(seq 1 600); do
    if curl -fsS -m 2 "${health[$n]}" >/dev/null 2>&1; then return 0; fi
    kill -0 "${pid[$n]}" 2>/dev/null || { wait "${pid[$n]}"; fail "$n exited during start (status $?)"; }
    sleep 0.1
  done
  fail "$n did not answer ${health[$n]} in 60 s"
}

stop_proc() { # stop_proc NAME: SIGTERM; it must exit 0
  local n=$1 rc=0
  kill -TERM "${pid[$n]}"
  wait "${pid[$n]}" || rc=$?
  pid[$n]=""
  [ "$rc" = 0 ] || fail "$n exited with status $rc on SIGTERM"
}

kill9_proc() { # kill9_proc NAME
  local n=$1
  kill -KILL "${pid[$n]}"
  wait "${pid[$n]}" 2>/dev/null || true
  pid[$n]=""
}

start_all() { for n in "${order[@]}"; do start_proc "$n"; done; wait_routed; }
stop_all() { for ((i = ${#order[@]} - 1; i >= 0; i--)); do stop_proc "${order[$i]}"; done; }

# wait_routed waits until the proxy reaches the clientapi and both sync instances (its
# health checks run every 500 ms).
wait_routed() {
  for _ in $(seq 1 100); do
    local m
    m=$(curl -fsS -m 2 "$proxy_metrics_url/metrics" 2>/dev/null || true)
    if curl -fsS -m 2 "$proxy_url/_matrix/client/versions" >/dev/null 2>&1 &&
      [ "$(grep -cE '^axon_proxy_upstream_healthy\{kind="(client|sync)".*\} 1$' <<<"$m")" = 3 ]; then
      return 0
    fi
    sleep 0.1
  done
  fail "client-api-proxy does not route to the clientapi and both sync instances"
}

all_healthy() {
  for n in "${order[@]}"; do
    kill -0 "${pid[$n]}" 2>/dev/null || fail "$n is not running"
    curl -fsS -m 5 "${health[$n]}" >/dev/null || fail "$n: ${health[$n]} is not 200"
  done
}

say "starting ${order[*]} (config $work/axon.yaml)"
start_all
say "all processes healthy; client-api-proxy on $proxy_url"

# --- federation keys through the proxy (axon-federation-api → axon-server-key-api, arrow 11)
say "federation: /_matrix/key/v2/server through the proxy, signed with the key file's key"
"$work/bin/keycheck" -hs "$proxy_url" -server localhost -key-file "$work/signing.key" || fail "federation key check"

# --- media through the proxy (axon-media-api, its token checks over arrow U to axon-user-api)
say "media: upload, then download (authenticated and legacy) through the proxy"
"$work/bin/mediacheck" -hs "$proxy_url" || fail "media check"

# --- read your own writes through the proxy, over both sync instances (sync-b lags)
say "read your own writes: create/messages, invite/join/joined_members, redact/event"
"$work/bin/ryw" -hs "$proxy_url" -rounds 30 >"$work/logs/ryw.log" 2>&1 || { cat "$work/logs/ryw.log"; fail "read your own writes"; }
tail -n 1 "$work/logs/ryw.log"
# The reads really had to wait for their writes (the lag was real), and none gave up.
ryw_metric() { # ryw_metric NAME: the sum of NAME's samples on both sync instances
  for p in "$p_sync_a_m" "$p_sync_b_m"; do curl -fsS -m 5 "http://127.0.0.1:$p/metrics"; done |
    awk -v n="$1" 'index($1, n) == 1 && $1 !~ /_bucket/ { s += $2 } END { print s + 0 }'
}
waited=$(ryw_metric axon_syncapi_read_your_writes_wait_seconds_count)
gave_up=$(ryw_metric axon_syncapi_read_your_writes_give_ups_total)
say "reads that waited for their writes: $waited; gave up: $gave_up"
[ "$waited" -gt 0 ] || fail "no read had to wait: the sync instances did not lag, so the check proved nothing"
[ "$gave_up" = 0 ] || fail "$gave_up reads gave up waiting for their writes"

# --- the client libraries' scenarios, unchanged, through the proxy
export AXON_E2E_BASE_URL="$proxy_url"
if [ ! -d "$here/js/node_modules/matrix-js-sdk" ]; then
  (cd "$here/js" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
# matrix-nio from the venv tests/e2e/nio.sh caches (same key, so the two share it).
reqs="$here/nio/requirements.txt"
key=$( { python3 -c 'import sys; print(sys.version)'; cat "$reqs"; } | python3 -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:16])')
env_dir="${XDG_CACHE_HOME:-$HOME/.cache}/axon-e2e-nio/$key"
if [ ! -f "$env_dir/.complete" ]; then
  say "installing matrix-nio into $work/nio-venv"
  python3 -m venv "$work/nio-venv" && "$work/nio-venv/bin/python" -m pip install -q --disable-pip-version-check -r "$reqs"
  env_dir="$work/nio-venv"
fi
if [ -x "$env_dir/bin/python" ]; then py=("$env_dir/bin/python"); else py=(env "PYTHONPATH=$env_dir/site" python3); fi
export PYTHONDONTWRITEBYTECODE=1

# A failing scenario is remembered and the run goes on (the drill still runs), so one run
# shows every problem; it fails at the end. Phase 2 needs the state phase 1 wrote last.
failures=()
js_phase() {
  if [ "$1" != phase1-chat.test.mjs ] && [ ! -f "$work/js.state.json" ]; then failures+=("matrix-js-sdk $1 (phase 1 failed)"); return; fi
  (cd "$here/js" && AXON_E2E_STATE="$work/js.state.json" timeout 300 node --test --test-force-exit "$1") || failures+=("matrix-js-sdk $1")
}
nio_phase() {
  if [ "$1" != test_phase1_chat.py ] && [ ! -f "$work/nio.state.json" ]; then failures+=("matrix-nio $1 (phase 1 failed)"); return; fi
  (cd "$repo" && AXON_E2E_STATE="$work/nio.state.json" timeout 300 "${py[@]}" -m pytest -q -x -p no:cacheprovider "$here/nio/$1") ||
    failures+=("matrix-nio $1")
}

if [ -z "${POLYLITH_SKIP_CLIENTS:-}" ]; then
  say "phase 1: matrix-js-sdk"; js_phase phase1-chat.test.mjs
  say "phase 1: matrix-js-sdk keys (axon-key-server, arrows 14 and 16)"; js_phase phase1-keys.test.mjs
  say "phase 1: matrix-js-sdk media (axon-media-api, arrow U)"; js_phase phase1-media.test.mjs
  say "phase 1: matrix-js-sdk typing, receipts, to-device (axon-edu-server, arrow 6, topic 3)"; js_phase phase1-edu.test.mjs
  say "phase 1: matrix-nio"; nio_phase test_phase1_chat.py
  say "restarting every process (SIGTERM, each must exit 0)"
  stop_all
  start_all
  say "phase 2 (nothing lost across the restart): matrix-js-sdk"; js_phase phase2-restart.test.mjs
  say "phase 2: matrix-nio"; nio_phase test_phase2_restart.py
fi

# --- the kill -9 drill
say "kill -9 drill: starting the load"
"$work/bin/drill" -hs "$proxy_url" -users 20 -rooms 4 -rooms-per-user 2 -rate 60 \
  -ready "$work/drill.ready" -stop "$work/drill.stop" -max-send 4m -drain 60s -json "$work/drill.json" \
  >"$work/logs/drill.log" 2>&1 &
drill_pid=$!
for _ in $(seq 1 1200); do
  [ -f "$work/drill.ready" ] && break
  kill -0 "$drill_pid" 2>/dev/null || { cat "$work/logs/drill.log"; fail "the drill exited during its setup"; }
  sleep 0.1
done
[ -f "$work/drill.ready" ] || fail "the drill's setup took over 2 minutes"
tail -n 3 "$work/logs/drill.log"
sleep 5
if [ -z "${POLYLITH_NO_KILL:-}" ]; then
  say "kill -9 roomserver"; kill9_proc roomserver; sleep 2
  say "restarting roomserver"; start_proc roomserver; sleep 6
  say "kill -9 sync-b"; kill9_proc sync-b; sleep 2
  say "restarting sync-b"; start_proc sync-b; wait_routed; sleep 6
  say "kill -9 the Kafka broker"; kill -KILL "$(cat "$work/kafka/kafka.pid")"; sleep 2
  say "restarting the Kafka broker (same ports, same data)"
  "$repo/scripts/kafka.sh" restart "$work/kafka" >/dev/null || fail "scripts/kafka.sh restart"
  say "broker back"; sleep 8
else
  sleep 20
fi
say "stopping the load; the drill drains and checks"
touch "$work/drill.stop"
drill_rc=0
wait "$drill_pid" || drill_rc=$?
drill_pid=""
sed -n '/^drill .*stop:/,$p' "$work/logs/drill.log"
if [ "$drill_rc" != 0 ]; then
  grep -E 'level=(error|warning)' "$work/logs/"*.log | tail -40
  fail "the kill -9 drill (status $drill_rc)${failures[*]:+; also failed: ${failures[*]}}"
fi

say "after the drill: every process healthy, and each exits 0 on SIGTERM"
all_healthy
stop_all
if [ ${#failures[@]} -gt 0 ]; then
  echo "e2e (polylith): FAILED: ${failures[*]} (the drill passed)"
  exit 1
fi
status=0
echo "e2e (polylith): all scenarios passed"
