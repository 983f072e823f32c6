#!/usr/bin/env bash
# End-to-end test of application services through a real bridge framework (issue 16):
# an echo bridge written on mautrix-python's appservice module (tests/e2e/appservice/
# echo_bridge.py) against axon-monolith — the ping, a ghost registered and joined by the
# framework, a user's message relayed back as the ghost, a portal room created by the
# bridge when Axon queries it for an unknown alias, every message sent while the
# bridge was down (with Axon restarted meanwhile) delivered once and in order when it
# returns, the hs_token checked on every request, the as_token refused outside its
# namespaces, alice's typing and read receipt delivered to the bridge (MSC2409), and a
# ghost's message sent with ?ts= keeping that timestamp, and the as_token masquerading on the
# sync and media endpoints, and appservice login (the bot's and a ghost's own devices).
#
# Needs python3 (with pip or venv) and go; mautrix is installed into a venv cached under
# ${XDG_CACHE_HOME:-~/.cache}/axon-e2e-appservice, keyed by the pinned requirements.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d /tmp/axon-e2e-appservice.XXXXXX)
status=1
cleanup() {
  if [ "$status" = 0 ] && [ -z "${KEEP_TMP:-}" ]; then rm -rf "$work"; else echo "e2e (appservice): files kept in $work"; fi
}
trap cleanup EXIT

# --- the Python side: a venv with the pinned requirements, reused while they are unchanged.
reqs="$here/appservice/requirements.txt"
key=$( { python3 -c 'import sys; print(sys.version)'; cat "$reqs"; } | python3 -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:16])')
cache="${XDG_CACHE_HOME:-$HOME/.cache}/axon-e2e-appservice"
env_dir="$cache/$key"
if [ ! -f "$env_dir/.complete" ]; then
  echo "== e2e (appservice): installing $(grep -m1 '^mautrix==' "$reqs") into $env_dir"
  mkdir -p "$cache"
  tmp="$cache/$key.tmp.$$"
  rm -rf "$tmp"
  if python3 -m venv "$tmp" >/dev/null 2>&1 && [ -x "$tmp/bin/python" ] && "$tmp/bin/python" -m pip --version >/dev/null 2>&1; then
    "$tmp/bin/python" -m pip install -q --disable-pip-version-check -r "$reqs"
  else
    rm -rf "$tmp"; mkdir -p "$tmp"
    python3 -m pip install -q --disable-pip-version-check --target "$tmp/site" -r "$reqs"
  fi
  touch "$tmp/.complete"
  if [ -f "$env_dir/.complete" ]; then rm -rf "$tmp"; else rm -rf "$env_dir"; mv "$tmp" "$env_dir"; fi
fi
if [ -x "$env_dir/bin/python" ]; then py=("$env_dir/bin/python"); else py=(env "PYTHONPATH=$env_dir/site" python3); fi
export PYTHONDONTWRITEBYTECODE=1

# --- the server, its config and the bridge's registration.
(cd "$repo" && CGO_ENABLED=0 go build -o "$work/axon-monolith" ./cmd/axon-monolith)
free_port() { python3 -c 'import random, socket
for _ in range(500):
    p = random.randint(20000, 31999); s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        s.close(); continue
    s.close(); print(p); break'; }
port=$(free_port); bridge_port=$(free_port)
as_token=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
hs_token=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
mkdir -p "$work/data"
cat >"$work/echo.yaml" <<YAML
id: echo
url: "http://127.0.0.1:$bridge_port"
as_token: "$as_token"
hs_token: "$hs_token"
sender_localpart: echobot
rate_limited: false
receive_ephemeral: true
namespaces:
  users:
    - exclusive: true
      regex: "@_echo_.*:localhost"
  aliases:
    - exclusive: true
      regex: "#_echo_.*:localhost"
YAML
cat >"$work/axon.yaml" <<YAML
global:
  server_name: localhost
  data_dir: "$work/data"
  rate_limits:
    enabled: false
app_service:
  config_files: ["$work/echo.yaml"]
YAML

export AXON_E2E_BASE_URL="http://127.0.0.1:$port" AXON_E2E_BRIDGE_PORT=$bridge_port
export AXON_E2E_AS_TOKEN=$as_token AXON_E2E_HS_TOKEN=$hs_token AXON_E2E_WORK=$work AXON_E2E_LOG="$work/axon.log"
export AXON_E2E_MONOLITH="$work/axon-monolith -config $work/axon.yaml -http-bind 127.0.0.1:$port -metrics-bind 127.0.0.1:0"
echo "== e2e (appservice): echo bridge (mautrix) against axon-monolith on $AXON_E2E_BASE_URL"
if ! timeout 300 "${py[@]}" "$here/appservice/echo_bridge.py"; then
  echo "--- server log, last 60 lines"; tail -60 "$work/axon.log"; exit 1
fi
status=0
echo "e2e (appservice): passed"
