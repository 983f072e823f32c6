#!/usr/bin/env bash
# scripts/synapse.sh — a throwaway Synapse homeserver for the Axon ↔ Synapse federation
# test (tests/federation -synapse) and for trying federation by hand.
#
#   scripts/synapse.sh start DIR   start a Synapse whose files all live in DIR; prints
#                                  export SYNAPSE_URL=http://127.0.0.1:CLIENT_PORT
#                                  export SYNAPSE_SERVER_NAME=127.0.0.1:FED_PORT
#                                  export SYNAPSE_SHARED_SECRET=...
#   scripts/synapse.sh stop DIR    stop the Synapse started in DIR (and wait for it to exit)
#   scripts/synapse.sh env DIR     print the export lines of a Synapse running in DIR
#
# Usage in a shell:
#
#   eval "$(scripts/synapse.sh start /tmp/axon-synapse)"; go run ./tests/federation -synapse; scripts/synapse.sh stop /tmp/axon-synapse
#
# Synapse (matrix-synapse, the version pinned below) is installed from PyPI into a venv
# cached under ${XDG_CACHE_HOME:-~/.cache}/axon-synapse, keyed by that version and the
# Python version (without python3-venv: into a plain directory with pip --target). The
# server is named 127.0.0.1:FED_PORT and serves federation over TLS on FED_PORT (a
# self-signed certificate made with openssl, or with Python's cryptography, a Synapse
# dependency) and the client API over plain HTTP on CLIENT_PORT, both on 127.0.0.1 only,
# with SQLite. It is set up for a test network: it does not verify other servers'
# certificates, it may connect to loopback addresses, it has no trusted key servers,
# registration is by shared secret only and rate limits are out of the way. Never use this
# configuration on a real network. Only the export lines go to standard output; progress
# and errors go to standard error. `start` on a DIR whose Synapse runs prints its exports.
set -euo pipefail

SYNAPSE_VERSION="1.163.2"

usage() {
	echo "usage: $0 start|stop|env DIR" >&2
	exit 2
}

[[ $# -eq 2 ]] || usage
cmd="$1"
dir="$2"
[[ -n "$dir" ]] || usage

log() { echo "synapse.sh: $*" >&2; }
die() {
	log "$*"
	exit 1
}

command -v python3 >/dev/null 2>&1 || die "python3 is needed (apt-get install python3 python3-venv python3-pip)"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# install sets PY to a command that runs Python with Synapse importable.
install() {
	local key cache env_dir tmp
	key="$SYNAPSE_VERSION-$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
	cache="${XDG_CACHE_HOME:-$HOME/.cache}/axon-synapse"
	env_dir="$cache/$key"
	if [[ ! -f "$env_dir/.complete" ]]; then
		log "installing matrix-synapse==$SYNAPSE_VERSION into $env_dir (once)"
		mkdir -p "$cache"
		tmp="$cache/$key.tmp.$$"
		rm -rf "$tmp"
		if python3 -m venv "$tmp" >/dev/null 2>&1 && [[ -x "$tmp/bin/python" ]] && "$tmp/bin/python" -m pip --version >/dev/null 2>&1; then
			"$tmp/bin/python" -m pip install -q --disable-pip-version-check "matrix-synapse==$SYNAPSE_VERSION" >&2 ||
				die "pip install matrix-synapse==$SYNAPSE_VERSION failed"
		else
			# No venv module (e.g. Debian without python3-venv): a plain directory.
			rm -rf "$tmp"
			mkdir -p "$tmp"
			python3 -m pip install -q --disable-pip-version-check --target "$tmp/site" "matrix-synapse==$SYNAPSE_VERSION" >&2 ||
				die "pip install --target matrix-synapse==$SYNAPSE_VERSION failed (is python3-pip installed?)"
		fi
		touch "$tmp/.complete"
		if [[ -f "$env_dir/.complete" ]]; then
			rm -rf "$tmp" # a concurrent start finished first
		else
			rm -rf "$env_dir"
			mv "$tmp" "$env_dir"
		fi
	fi
	if [[ -x "$env_dir/bin/python" ]]; then
		PY=("$env_dir/bin/python")
	else
		PY=(env "PYTHONPATH=$env_dir/site" python3)
	fi
}

running() {
	[[ -f "$dir/pid" && -f "$dir/env" ]] || return 1
	kill -0 "$(cat "$dir/pid")" 2>/dev/null
}

# make_cert writes a self-signed certificate for 127.0.0.1 to $dir/tls.crt and tls.key.
make_cert() {
	if command -v openssl >/dev/null 2>&1; then
		openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=127.0.0.1" \
			-addext "subjectAltName=IP:127.0.0.1" \
			-keyout "$dir/tls.key" -out "$dir/tls.crt" >/dev/null 2>&1 && return 0
	fi
	"${PY[@]}" - "$dir/tls.crt" "$dir/tls.key" <<'EOF'
import datetime, ipaddress, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256()))
open(sys.argv[1], "wb").write(cert.public_bytes(serialization.Encoding.PEM))
open(sys.argv[2], "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
EOF
}

# write_config writes $dir/homeserver.yaml and $dir/log.yaml for the two ports.
write_config() {
	local fed="$1" client="$2" secret="$3"
	local rc='{per_second: 1000, burst_count: 10000}'
	cat >"$dir/log.yaml" <<EOF
version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s'
handlers:
  file:
    class: logging.FileHandler
    formatter: precise
    filename: $dir/homeserver.log
loggers:
  synapse.storage.SQL:
    level: WARNING
root:
  level: INFO
  handlers: [file]
disable_existing_loggers: false
EOF
	cat >"$dir/homeserver.yaml" <<EOF
# Written by scripts/synapse.sh: a Synapse for a loopback test network only.
server_name: "127.0.0.1:$fed"
public_baseurl: "http://127.0.0.1:$client/"
pid_file: $dir/homeserver.pid
listeners:
  - port: $fed
    bind_addresses: ['127.0.0.1']
    type: http
    tls: true
    resources:
      - names: [federation]
        compress: false
  - port: $client
    bind_addresses: ['127.0.0.1']
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
tls_certificate_path: $dir/tls.crt
tls_private_key_path: $dir/tls.key
database:
  name: sqlite3
  args:
    database: $dir/homeserver.db
log_config: $dir/log.yaml
media_store_path: $dir/media_store
signing_key_path: $dir/signing.key
report_stats: false
enable_registration: false
registration_shared_secret: "$secret"
macaroon_secret_key: "$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
form_secret: "$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
trusted_key_servers: []
suppress_key_server_warning: true
federation_verify_certificates: false
ip_range_blacklist: []
ip_range_whitelist: ['127.0.0.0/8']
federation_ip_range_blacklist: []
default_room_version: "10"
# Synapse refuses /publicRooms over federation and publishing rooms in its directory
# unless told otherwise; the -synapse test lists its public rooms from Axon.
allow_public_rooms_over_federation: true
room_list_publication_rules:
  - action: allow
presence:
  enabled: false
rc_message: $rc
rc_registration: $rc
rc_login:
  address: $rc
  account: $rc
  failed_attempts: $rc
rc_joins:
  local: $rc
  remote: $rc
rc_joins_per_room: $rc
rc_invites:
  per_room: $rc
  per_user: $rc
  per_issuer: $rc
rc_federation:
  window_size: 1000
  sleep_limit: 1000
  sleep_delay: 1
  reject_limit: 1000
  concurrent: 100
rc_admin_redaction: $rc
rc_3pid_validation: $rc
rc_room_creation: $rc
EOF
}

print_env() {
	cat "$dir/env"
}

start() {
	mkdir -p "$dir"
	dir="$(cd "$dir" && pwd)"
	if running; then
		log "already running in $dir"
		print_env
		return 0
	fi
	install
	[[ -f "$dir/tls.crt" && -f "$dir/tls.key" ]] || make_cert || die "could not make a TLS certificate"

	# Another process may take a free port before Synapse binds it: retry.
	local attempt fed client secret pid ok
	secret="$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
	for attempt in 1 2 3; do
		fed="$(free_port)"
		client="$(free_port)"
		while [[ "$client" == "$fed" ]]; do client="$(free_port)"; done
		write_config "$fed" "$client" "$secret"
		if [[ ! -f "$dir/signing.key" ]]; then
			"${PY[@]}" -m synapse.app.homeserver -c "$dir/homeserver.yaml" --generate-keys >"$dir/generate.log" 2>&1 ||
				die "generating Synapse's keys failed; see $dir/generate.log: $(tail -5 "$dir/generate.log")"
		fi
		log "starting Synapse $SYNAPSE_VERSION as 127.0.0.1:$fed (clients on $client), files in $dir"
		(cd "$dir" && exec nohup "${PY[@]}" -m synapse.app.homeserver -c "$dir/homeserver.yaml" >"$dir/stdout.log" 2>&1 </dev/null) &
		pid=$!
		echo "$pid" >"$dir/pid"
		ok=""
		for _ in $(seq 1 600); do
			if ! kill -0 "$pid" 2>/dev/null; then
				break
			fi
			if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "http://127.0.0.1:$client/health" 2>/dev/null; then
				ok=1
				break
			fi
			sleep 0.2
		done
		if [[ -n "$ok" ]]; then
			{
				echo "export SYNAPSE_URL=http://127.0.0.1:$client"
				echo "export SYNAPSE_SERVER_NAME=127.0.0.1:$fed"
				echo "export SYNAPSE_SHARED_SECRET=$secret"
			} >"$dir/env"
			print_env
			return 0
		fi
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		rm -f "$dir/pid"
		log "Synapse did not come up (attempt $attempt): $(tail -3 "$dir/stdout.log" "$dir/homeserver.log" 2>/dev/null || true)"
	done
	die "could not start Synapse; see $dir/stdout.log and $dir/homeserver.log"
}

stop() {
	[[ -d "$dir" ]] || { log "nothing to stop in $dir"; return 0; }
	dir="$(cd "$dir" && pwd)"
	if [[ ! -f "$dir/pid" ]]; then
		log "not running in $dir"
		return 0
	fi
	local pid
	pid="$(cat "$dir/pid")"
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		for _ in $(seq 1 150); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
	else
		log "not running in $dir"
	fi
	rm -f "$dir/pid" "$dir/env"
}

case "$cmd" in
start) start ;;
stop) stop ;;
env)
	running || die "no Synapse running in $dir"
	print_env
	;;
*) usage ;;
esac
