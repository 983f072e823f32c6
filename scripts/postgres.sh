#!/usr/bin/env bash
# scripts/postgres.sh — a throwaway PostgreSQL server for tests and local development.
#
#   scripts/postgres.sh start DIR   start a server whose files all live in DIR; prints
#                                   `export AXON_TEST_POSTGRES_DSN=postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable`
#   scripts/postgres.sh stop DIR    stop the server started in DIR (and wait for it to exit)
#   scripts/postgres.sh env DIR     print the export line of a server that is running in DIR
#
# Usage in a shell:
#
#   eval "$(scripts/postgres.sh start /tmp/axon-pg)"; go test ./...; scripts/postgres.sh stop /tmp/axon-pg
#
# PostgreSQL comes from Debian's packages (apt-get install postgresql) when no server
# binaries are found in /usr/lib/postgresql/<version>/bin or on PATH (set PG_BIN to pick a
# directory). The server listens on 127.0.0.1 only, on a free port, with no Unix socket,
# trust authentication for the superuser "postgres", fsync off (data is disposable) and
# max_connections=300 (many test packages run at once). When run as root, the server runs
# as the "postgres" user, which must be able to reach DIR. Only the export line goes to
# standard output; progress and errors go to standard error. Running `start` on a DIR whose
# server is already running just prints its export line again.
set -euo pipefail

usage() {
	echo "usage: $0 start|stop|env DIR" >&2
	exit 2
}

[[ $# -eq 2 ]] || usage
cmd="$1"
dir="$2"
[[ -n "$dir" ]] || usage

log() { echo "postgres.sh: $*" >&2; }
die() {
	log "$*"
	exit 1
}

# free_port prints a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
		return
	fi
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

# find_bin sets PG_BIN to a directory holding initdb, pg_ctl and postgres.
find_bin() {
	if [[ -n "${PG_BIN:-}" ]]; then
		[[ -x "$PG_BIN/pg_ctl" ]] || die "PG_BIN=$PG_BIN has no pg_ctl"
		return 0
	fi
	local d
	# Newest version first.
	while IFS= read -r d; do
		if [[ -x "$d/bin/pg_ctl" && -x "$d/bin/initdb" ]]; then
			PG_BIN="$d/bin"
			return 0
		fi
	done < <(shopt -s nullglob; printf '%s\n' /usr/lib/postgresql/*/ | sed 's:/$::' | sort -t/ -k5 -rn)
	if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
		PG_BIN="$(dirname "$(command -v pg_ctl)")"
		return 0
	fi
	return 1
}

install_postgres() {
	local sudo=()
	if [[ "$(id -u)" -ne 0 ]]; then
		command -v sudo >/dev/null 2>&1 || die "PostgreSQL is not installed and installing it needs root (or sudo): apt-get install postgresql"
		sudo=(sudo)
	fi
	command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and there is no apt-get; install PostgreSQL and set PG_BIN to its bin directory"
	log "installing PostgreSQL with apt-get"
	# Do not let the package create and start a system-wide cluster on port 5432.
	if [[ ! -e /etc/postgresql-common/createcluster.conf ]]; then
		"${sudo[@]}" mkdir -p /etc/postgresql-common
		echo "create_main_cluster = false" | "${sudo[@]}" tee /etc/postgresql-common/createcluster.conf >/dev/null
	fi
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >&2
}

# as_owner runs a command as the user the server runs as (postgres when we are root).
as_owner() {
	if [[ "$(id -u)" -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

running() {
	[[ -f "$dir/data/postmaster.pid" && -f "$dir/port" ]] || return 1
	find_bin || return 1
	as_owner "$PG_BIN/pg_ctl" status -D "$dir/data" >/dev/null 2>&1
}

print_env() {
	echo "export AXON_TEST_POSTGRES_DSN=postgres://postgres@127.0.0.1:$(cat "$dir/port")/postgres?sslmode=disable"
}

start() {
	mkdir -p "$dir"
	dir="$(cd "$dir" && pwd)"
	if running; then
		log "already running in $dir"
		print_env
		return 0
	fi
	find_bin || install_postgres
	find_bin || die "no PostgreSQL server binaries found after installing"
	log "using $PG_BIN"

	if [[ "$(id -u)" -eq 0 ]]; then
		id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
		chown -R postgres: "$dir"
		# mktemp -d makes 0700 directories: let postgres traverse (not list) the parents.
		local p="$dir"
		while [[ "$p" != "/" ]]; do
			p="$(dirname "$p")"
			if ! runuser -u postgres -- test -x "$p" && [[ "$(stat -c %u "$p")" -eq 0 ]]; then
				log "granting traversal of $p to others (chmod o+x) so the postgres user can reach $dir"
				chmod o+x "$p"
			fi
		done
		runuser -u postgres -- test -w "$dir" ||
			die "user postgres cannot write $dir (is a parent directory closed to it?); use a directory under /tmp"
	fi

	if [[ ! -f "$dir/data/PG_VERSION" ]]; then
		rm -rf "$dir/data"
		log "initdb in $dir/data"
		as_owner "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
			die "initdb failed; see $dir/initdb.log: $(tail -5 "$dir/initdb.log")"
	fi

	# Another process may take the free port before the server binds it: retry.
	local port attempt
	for attempt in 1 2 3 4 5; do
		port="$(free_port)"
		if as_owner "$PG_BIN/pg_ctl" start -w -t 60 -D "$dir/data" -l "$dir/postgres.log" \
			-o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
			>&2; then
			echo "$port" >"$dir/port"
			[[ "$(id -u)" -ne 0 ]] || chown postgres: "$dir/port"
			break
		fi
		log "start on port $port failed (attempt $attempt); $(tail -3 "$dir/postgres.log" 2>/dev/null || true)"
		port=""
	done
	[[ -n "$port" ]] || die "could not start PostgreSQL; see $dir/postgres.log"

	# Accepting connections on TCP, not just started.
	local _
	for _ in $(seq 1 100); do
		if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" 2>/dev/null; then
			print_env
			return 0
		fi
		sleep 0.1
	done
	die "PostgreSQL started but does not accept connections on 127.0.0.1:$port; see $dir/postgres.log"
}

stop() {
	if [[ ! -d "$dir/data" ]]; then
		log "nothing to stop in $dir"
		return 0
	fi
	dir="$(cd "$dir" && pwd)"
	if ! find_bin; then
		log "no PostgreSQL binaries; nothing to stop"
		return 0
	fi
	if as_owner "$PG_BIN/pg_ctl" status -D "$dir/data" >/dev/null 2>&1; then
		as_owner "$PG_BIN/pg_ctl" stop -w -t 60 -m fast -D "$dir/data" >&2 ||
			as_owner "$PG_BIN/pg_ctl" stop -w -t 30 -m immediate -D "$dir/data" >&2
	else
		log "not running in $dir"
	fi
	rm -f "$dir/port"
}

case "$cmd" in
start) start ;;
stop) stop ;;
env)
	running || die "no server running in $dir"
	print_env
	;;
*) usage ;;
esac
