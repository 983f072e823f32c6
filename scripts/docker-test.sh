#!/usr/bin/env bash
# scripts/docker-test.sh — Axon's container deployment on a real Docker engine (issue 15).
#
# What it proves, with the real axon/* images (docker/build.sh) and docker/docker-compose.yml:
#   1. `up -d` from nothing: init writes config and key, Postgres, Kafka (KRaft), every
#      component and client-api-proxy come up healthy; only the proxy is published, on
#      127.0.0.1;
#   2. client scenarios through the proxy (matrix-js-sdk's chat scenario of tests/e2e/js,
#      and tests/polylith/ryw: register, create rooms,
#      invite, join, send, redact, read each write back at once);
#   3. `up -d --scale sync-api=3`: the proxy finds the new replicas by DNS without a
#      restart, and the scenario's sync traffic reaches all three (the proxy's metrics);
#   4. the drill (tests/polylith/drill) under load while one sync replica is `docker kill`ed
#      and brought back: every acknowledged message delivered exactly once, in order;
#   5. `down` and `up -d` again: a user registered before logs in after, and their
#      message is still in the room;
#   6. ARM: the linux/arm64 and linux/arm/v7 monolith binaries (the images' contents) start
#      under qemu-user-static on their embedded defaults and answer
#      /_matrix/client/versions; their idle RSS is printed.
#
# No registry is reachable where this runs, so Postgres and Kafka are local stand-ins for
# the official images: one Debian bookworm root filesystem (debootstrap, with Debian's
# postgresql and a JRE), imported with `docker import`, plus the Kafka jars that
# scripts/kafka.sh fetches from Maven Central; docker-compose.yml is pointed at them through
# AXON_POSTGRES_IMAGE and AXON_KAFKA_IMAGE. The root filesystem and jars are cached in
# AXON_DOCKER_CACHE (default ~/.cache/axon-docker-test), the images stay in the engine,
# so reruns skip them.
#
# Without a running Docker engine it installs docker.io and docker-compose (Debian) and
# starts dockerd itself when it may (root or sudo), and stops it at the end; otherwise it
# skips (fails with CI=true). DOCKER_TEST_SKIP_ARM=1 skips part 6, DOCKER_TEST_ONLY_ARM=1
# runs only part 6 (for measuring). KEEP_TMP=1 keeps the logs.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
say() { printf '== docker-test %s: %s\n' "$(date +%T)" "$*"; }
cache=${AXON_DOCKER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/axon-docker-test}
work=$(mktemp -d /tmp/axon-docker-test.XXXXXX)
project="axontest$$"
compose_file="$repo/docker/docker-compose.yml"
started_dockerd=""
status=1
SUDO=()
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO=(sudo -n)

skip_or_fail() {
  if [ "${CI:-}" = "true" ]; then echo "docker-test: FAILED: $*"; exit 1; fi
  echo "docker-test: skipped: $*"; status=0; exit 0
}

dc() { docker-compose -p "$project" -f "$compose_file" "$@"; }

cleanup() {
  set +e
  if [ "$status" != 0 ] && docker info >/dev/null 2>&1; then
    dc ps >"$work/ps.txt" 2>&1
    dc logs --no-color --tail 60 >"$work/compose.log" 2>&1
    echo "--- compose ps"; cat "$work/ps.txt"; echo "--- last log lines"; tail -n 80 "$work/compose.log"
  fi
  if docker info >/dev/null 2>&1; then dc down -v --remove-orphans >/dev/null 2>&1; fi
  [ -n "${drill_pid:-}" ] && kill "$drill_pid" 2>/dev/null
  [ -n "${qemu_pid:-}" ] && kill "$qemu_pid" 2>/dev/null
  if [ -n "$started_dockerd" ]; then "${SUDO[@]}" kill "$started_dockerd" 2>/dev/null; fi
  if [ "$status" = 0 ] && [ -z "${KEEP_TMP:-}" ]; then rm -rf "$work"; else echo "docker-test: logs in $work"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# --- a Docker engine and the tools
apt_install() {
  command -v apt-get >/dev/null || return 1
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
}
can_root() { [ "$(id -u)" -eq 0 ] || [ ${#SUDO[@]} -gt 0 ]; }
need=()
# The engine is what counts: a machine may have only the docker client.
{ command -v dockerd >/dev/null || [ -x /usr/sbin/dockerd ]; } || need+=(docker.io)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v debootstrap >/dev/null || need+=(debootstrap)
[ -n "${DOCKER_TEST_SKIP_ARM:-}" ] || command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
if [ ${#need[@]} -gt 0 ]; then
  can_root || skip_or_fail "needs ${need[*]} (not root, no sudo)"
  say "installing ${need[*]}"
  apt_install "${need[@]}" || skip_or_fail "could not install ${need[*]}"
fi
if ! docker info >/dev/null 2>&1; then
  can_root || skip_or_fail "no Docker engine and no way to start one"
  say "starting dockerd (log in $work/dockerd.log)"
  "${SUDO[@]}" dockerd >"$work/dockerd.log" 2>&1 &
  started_dockerd=$!
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -20 "$work/dockerd.log"; skip_or_fail "dockerd did not start"; }
fi
for tool in go curl python3 java mvn; do command -v "$tool" >/dev/null || skip_or_fail "$tool not found"; done

# A port below the kernel's ephemeral range (32768+): no outgoing connection takes it.
free_port() { python3 -c 'import random, socket
for _ in range(500):
    p = random.randint(20000, 31999); s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        s.close(); continue
    s.close(); print(p); break'; }
fail() { echo "docker-test: FAILED: $*"; exit 1; }

if [ -z "${DOCKER_TEST_ONLY_ARM:-}" ]; then
# --- the Axon images (this machine's architecture; the ARM binaries for part 6)
say "building the axon/* images (docker/build.sh)"
native=$(go env GOARCH); [ "$native" = arm ] && native=arm-v7
version=$(ARCHES=$native docker/build.sh 2>"$work/build.log" | tail -n 1) || { tail -30 "$work/build.log"; fail "docker/build.sh"; }
export AXON_VERSION=$version
say "images axon/*:$version"

# --- stand-ins for postgres:17 and apache/kafka (no registry): cached
mkdir -p "$cache"
base_image=axon-test/debian-services:bookworm
if ! docker image inspect "$base_image" >/dev/null 2>&1; then
  if [ ! -f "$cache/rootfs.tar" ]; then
    say "debootstrap bookworm with postgresql and a JRE into $cache (once)"
    rm -rf "$cache/rootfs.tmp"
    "${SUDO[@]}" debootstrap --variant=minbase --include=postgresql,openjdk-17-jre-headless,ca-certificates \
      bookworm "$cache/rootfs.tmp" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
      { tail -20 "$work/debootstrap.log"; fail "debootstrap"; }
    "${SUDO[@]}" tar -C "$cache/rootfs.tmp" -cf "$cache/rootfs.tar.part" . && mv "$cache/rootfs.tar.part" "$cache/rootfs.tar"
    "${SUDO[@]}" rm -rf "$cache/rootfs.tmp"
  fi
  say "importing $base_image"
  docker import "$cache/rootfs.tar" "$base_image" >/dev/null
fi
if [ ! -f "$cache/kafka-libs/.complete" ]; then
  say "fetching the Kafka jars (scripts/kafka/pom.xml) into $cache/kafka-libs"
  rm -rf "$cache/kafka-libs"
  mvn -q -f scripts/kafka/pom.xml dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$cache/kafka-libs" >"$work/mvn.log" 2>&1 || { tail -20 "$work/mvn.log"; fail "mvn"; }
  touch "$cache/kafka-libs/.complete"
fi
pg_image=axon-test/postgres:standin
kafka_image=axon-test/kafka:standin
ctx="$work/standin"
mkdir -p "$ctx/pg" "$ctx/kafka/libs"
cp scripts/docker-standins/postgres-entrypoint.sh "$ctx/pg/entrypoint.sh"
cat >"$ctx/pg/Dockerfile" <<DOCKERFILE
FROM $base_image
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 755 /usr/local/bin/docker-entrypoint.sh && ln -sf /usr/lib/postgresql/15/bin/pg_isready /usr/local/bin/pg_isready
ENV PGDATA=/var/lib/postgresql/data
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
DOCKERFILE
cp scripts/docker-standins/kafka-entrypoint.sh "$ctx/kafka/entrypoint.sh"
cp "$cache"/kafka-libs/*.jar "$ctx/kafka/libs/"
cat >"$ctx/kafka/Dockerfile" <<DOCKERFILE
FROM $base_image
COPY libs/ /opt/kafka/libs/
COPY entrypoint.sh /opt/kafka/entrypoint.sh
RUN chmod 755 /opt/kafka/entrypoint.sh && mkdir -p /opt/kafka/bin /var/lib/kafka/data && \
    printf '#!/bin/bash\nexec 3<>/dev/tcp/127.0.0.1/9092\n' >/opt/kafka/bin/kafka-broker-api-versions.sh && \
    chmod 755 /opt/kafka/bin/kafka-broker-api-versions.sh
ENTRYPOINT ["/opt/kafka/entrypoint.sh"]
DOCKERFILE
say "building the stand-in images"
docker build -q -t "$pg_image" "$ctx/pg" >/dev/null 2>"$work/standin.log" || { cat "$work/standin.log"; fail "postgres stand-in"; }
docker build -q -t "$kafka_image" "$ctx/kafka" >/dev/null 2>>"$work/standin.log" || { cat "$work/standin.log"; fail "kafka stand-in"; }
export AXON_POSTGRES_IMAGE=$pg_image AXON_KAFKA_IMAGE=$kafka_image

# --- the test programs
(CGO_ENABLED=0 go build -o "$work/bin/" ./tests/polylith/ryw ./tests/polylith/drill) || fail "building ryw and drill"

# matrix-js-sdk (tests/e2e/js) in a copy of its own, so its npm ci never races js.sh's in
# the source tree (scripts/test.sh runs both at once).
mkdir -p "$work/js"
(cd "$repo/tests/e2e/js" && cp package.json package-lock.json *.mjs "$work/js/")
(cd "$work/js" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || fail "npm ci for matrix-js-sdk"
js_chat() { # js_chat NAME: the matrix-js-sdk chat scenario (phase1-chat) through the proxy
  (cd "$work/js" && AXON_E2E_BASE_URL="$hs" AXON_E2E_STATE="$work/js-$1.state.json" \
    timeout 300 node --test --test-force-exit phase1-chat.test.mjs) >"$work/js-$1.log" 2>&1 ||
    { tail -40 "$work/js-$1.log"; fail "matrix-js-sdk chat scenario ($1)"; }
  grep -E '^# (pass|fail)' "$work/js-$1.log" | tr '\n' ' '; echo
}

# --- 1. up from nothing
port=$(free_port)
export AXON_HTTP_PORT=$port AXON_PUBLIC_BASE_URL="http://localhost:$port"
# The scenarios register users and send faster than the default limits; they are the only
# clients, on this machine.
export AXON_REGISTRATION_MODE=open AXON_RATE_LIMITS=false
hs="http://127.0.0.1:$port"
wait_proxy() { # the proxy answers /health 200 (every kind of upstream up)
  for _ in $(seq 1 300); do
    curl -fsS -m 3 "$hs/health" >/dev/null 2>&1 && return 0
    sleep 1
  done
  fail "client-api-proxy did not become healthy"
}
say "compose up -d (project $project, proxy on 127.0.0.1:$port)"
dc up -d >"$work/up.log" 2>&1 || { cat "$work/up.log"; fail "compose up"; }
wait_proxy
published=$(docker ps --filter "label=com.docker.compose.project=$project" --format '{{.Names}} {{.Ports}}' | grep -- '->' || true)
[ "$(grep -c . <<<"$published")" = 1 ] && grep -q "127.0.0.1:$port->8008" <<<"$published" ||
  fail "only the proxy may publish a port, on 127.0.0.1: $published"
say "healthy; published: $published"

# --- 2. the scenario through the proxy
say "scenario: tests/polylith/ryw through the proxy"
"$work/bin/ryw" -hs "$hs" -rounds 5 >"$work/ryw1.log" 2>&1 || { tail -20 "$work/ryw1.log"; fail "ryw"; }
tail -n 1 "$work/ryw1.log"
say "scenario: matrix-js-sdk chat through the proxy"
js_chat one-sync

# --- 3. three sync replicas
proxy_metrics() {
  local ip
  ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$(dc ps -q client-api-proxy)" | awk '{print $1}')
  curl -fsS -m 5 "http://$ip:9108/metrics"
}
say "compose up -d --scale sync-api=3"
dc up -d --scale sync-api=3 >"$work/scale.log" 2>&1 || { cat "$work/scale.log"; fail "scale"; }
ok=""
for _ in $(seq 1 120); do
  n=$(proxy_metrics 2>/dev/null | grep -cE '^axon_proxy_upstream_healthy\{kind="sync".*\} 1$' || true)
  [ "$n" = 3 ] && { ok=1; break; }
  sleep 1
done
[ -n "$ok" ] || fail "the proxy did not find three healthy sync replicas"
before=$(proxy_metrics | grep -E '^axon_proxy_upstream_requests_total\{code="200",kind="sync"' || true)
"$work/bin/ryw" -hs "$hs" -rounds 10 >"$work/ryw2.log" 2>&1 || { tail -20 "$work/ryw2.log"; fail "ryw on three replicas"; }
tail -n 1 "$work/ryw2.log"
say "scenario: matrix-js-sdk chat through the proxy, three sync replicas"
js_chat three-syncs
# The proxy keeps each access token on one replica (rendezvous hashing), and ryw uses a
# few users: 30 more users, one /sync each, reach all three replicas but with odds of
# 3·(2/3)^30 ≈ 2e-5.
python3 - "$hs" <<'PY' || fail "syncing 30 users through the proxy"
import json, sys, urllib.request
hs = sys.argv[1]
for i in range(30):
    req = urllib.request.Request(hs + "/_matrix/client/v3/register", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"username": "spread%d" % i, "password": "spread-pass-123", "auth": {"type": "m.login.dummy"}}).encode())
    tok = json.load(urllib.request.urlopen(req, timeout=30))["access_token"]
    req = urllib.request.Request(hs + "/_matrix/client/v3/sync?timeout=0", headers={"Authorization": "Bearer " + tok})
    json.load(urllib.request.urlopen(req, timeout=30))
PY
after=$(proxy_metrics | grep -E '^axon_proxy_upstream_requests_total\{code="200",kind="sync"' || true)
python3 - "$before" "$after" <<'PY' || fail "sync traffic did not reach all three replicas"
import re, sys
def parse(s):
    out = {}
    for line in s.splitlines():
        m = re.search(r'upstream="([^"]+)"\} (\S+)$', line)
        if m: out[m.group(1)] = float(m.group(2))
    return out
b, a = parse(sys.argv[1]), parse(sys.argv[2])
grew = {u: a[u] - b.get(u, 0) for u in a if a[u] - b.get(u, 0) > 0}
print("docker-test: sync requests per replica since scaling:", grew)
sys.exit(0 if len(grew) >= 3 else 1)
PY

# --- 4. kill a sync replica under load
say "drill: load through the proxy, then docker kill one sync replica"
"$work/bin/drill" -hs "$hs" -users 12 -rooms 3 -rooms-per-user 2 -rate 30 -ready "$work/drill.ready" \
  -stop "$work/drill.stop" -max-send 3m -drain 60s >"$work/drill.log" 2>&1 &
drill_pid=$!
for _ in $(seq 1 1200); do
  [ -f "$work/drill.ready" ] && break
  kill -0 "$drill_pid" 2>/dev/null || { cat "$work/drill.log"; fail "the drill exited during setup"; }
  sleep 0.1
done
sleep 5
victim=$(dc ps -q sync-api | tail -n 1)
say "docker kill $(docker inspect -f '{{.Name}}' "$victim")"
docker kill "$victim" >/dev/null
sleep 5
dc up -d --scale sync-api=3 >>"$work/scale.log" 2>&1 || fail "bringing the replica back"
sleep 10
touch "$work/drill.stop"
drill_rc=0
wait "$drill_pid" || drill_rc=$?
drill_pid=""
sed -n '/^drill .*stop:/,$p' "$work/drill.log" | tail -n 12
[ "$drill_rc" = 0 ] || fail "the drill (status $drill_rc)"

# --- 5. down and up: data kept
say "a user and a message to keep across down/up"
keep=$(python3 - "$hs" <<'PY'
import json, sys, urllib.request
hs = sys.argv[1]
def call(method, path, body=None, token=None):
    req = urllib.request.Request(hs + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json", **({"Authorization": "Bearer " + token} if token else {})})
    return json.load(urllib.request.urlopen(req, timeout=30))
r = call("POST", "/_matrix/client/v3/register", {"username": "keeper", "password": "keeper-pass-123", "auth": {"type": "m.login.dummy"}})
room = call("POST", "/_matrix/client/v3/createRoom", {"name": "kept"}, r["access_token"])["room_id"]
call("PUT", "/_matrix/client/v3/rooms/%s/send/m.room.message/t1" % room, {"msgtype": "m.text", "body": "still here"}, r["access_token"])
print(room)
PY
) || fail "writing the data to keep"
say "compose down (volumes kept), then up -d"
dc down >"$work/down.log" 2>&1 || { cat "$work/down.log"; fail "compose down"; }
dc up -d >"$work/up2.log" 2>&1 || { cat "$work/up2.log"; fail "compose up again"; }
wait_proxy
python3 - "$hs" "$keep" <<'PY' || fail "data lost across down/up"
import json, sys, time, urllib.request, urllib.parse
hs, room = sys.argv[1], sys.argv[2]
def call(method, path, body=None, token=None):
    req = urllib.request.Request(hs + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json", **({"Authorization": "Bearer " + token} if token else {})})
    return json.load(urllib.request.urlopen(req, timeout=30))
tok = call("POST", "/_matrix/client/v3/login", {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "keeper"},
                                                  "password": "keeper-pass-123"})["access_token"]
for _ in range(60):  # a new sync instance may still be reading the log
    msgs = call("GET", "/_matrix/client/v3/rooms/%s/messages?dir=b&limit=20" % urllib.parse.quote(room), token=tok)
    if any(e.get("content", {}).get("body") == "still here" for e in msgs.get("chunk", [])):
        print("docker-test: after down/up: logged in, message still in", room)
        sys.exit(0)
    time.sleep(1)
sys.exit(1)
PY
dc down -v >/dev/null 2>&1
fi

# --- 6. ARM binaries under emulation
# Each monolith starts on its embedded defaults (SQLite, embedded log) and must answer
# /_matrix/client/versions; after 10 s idle its RSS is read. Under qemu-user the RSS is the
# emulator's process, guest memory included: the same amd64 binary is also measured
# natively and under qemu-x86_64-static, so the emulator's own share can be subtracted.
# go_memstats_sys_bytes (the Go runtime's memory from the OS, from /metrics) is the guest's view.
if [ -z "${DOCKER_TEST_SKIP_ARM:-}" ]; then
  host=$(go env GOARCH)
  runs=("arm64:qemu-aarch64-static" "arm-v7:qemu-arm-static")
  [ "$host" = amd64 ] && runs=("amd64:" "amd64:qemu-x86_64-static" "${runs[@]}")
  printf '%-8s %-24s %8s %16s\n' arch emulator "RSS MiB" "Go sys MiB" >"$work/rss.txt"
  for run in "${runs[@]}"; do
    arch=${run%%:*} qemu=${run#*:}
    case $arch in amd64) goarch=amd64 goarm="" ;; arm64) goarch=arm64 goarm="" ;; arm-v7) goarch=arm goarm=7 ;; esac
    bin="$work/arm/$arch/axon-monolith"
    [ -x "$bin" ] || CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=$goarm go build -trimpath -ldflags "-s -w" -o "$work/arm/$arch/" ./cmd/axon-monolith
    say "$arch: axon-monolith${qemu:+ under $qemu}"
    p=$(free_port) pm=$(free_port)
    while [ "$pm" = "$p" ]; do pm=$(free_port); done
    data=$(mktemp -d "$work/arm/$arch/data.XXXX")
    ${qemu:+"$qemu"} "$bin" -data-dir "$data" -http-bind "127.0.0.1:$p" -metrics-bind "127.0.0.1:$pm" >"$data.log" 2>&1 &
    qemu_pid=$!
    ok=""
    for _ in $(seq 1 300); do
      curl -fsS -m 3 "http://127.0.0.1:$p/_matrix/client/versions" >/dev/null 2>&1 && { ok=1; break; }
      kill -0 "$qemu_pid" 2>/dev/null || break
      sleep 0.5
    done
    [ -n "$ok" ] || { tail -20 "$data.log"; fail "$arch monolith did not answer /_matrix/client/versions"; }
    sleep 10
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$qemu_pid/status")
    sys=$(curl -fsS -m 5 "http://127.0.0.1:$pm/metrics" | awk '$1 == "go_memstats_sys_bytes" {printf "%.1f", $2 / 1048576}')
    printf '%-8s %-24s %8.1f %16s\n' "$arch" "${qemu:-native}" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$sys" >>"$work/rss.txt"
    kill -TERM "$qemu_pid"; wait "$qemu_pid" 2>/dev/null || true; qemu_pid=""
  done
  say "idle monoliths (answered /_matrix/client/versions):"
  cat "$work/rss.txt"
fi
status=0
echo "docker-test: all checks passed"
