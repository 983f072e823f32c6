#!/usr/bin/env bash
# scripts/test.sh — the one command that runs Axon's whole test suite.
#
#   scripts/test.sh              go vet, every Go test, every tests/e2e/*.sh, then tests/federation (Axon ↔ Axon, -edus, -media, -e2ee, -three, -polylith, then -synapse)
#   scripts/test.sh ./userapi/...  go vet and go test of those packages only (no e2e)
#
# It provisions what the tests need in a temporary directory, on free loopback ports:
# a PostgreSQL server (scripts/postgres.sh) and a single-node Kafka broker
# (scripts/kafka.sh), and exports AXON_TEST_POSTGRES_DSN and AXON_TEST_KAFKA_BROKERS for
# internal/testenv. If either variable is already set and its service answers, that
# service is used as is and not started. Services are stopped on exit, whatever happens. With CI=true a test whose service
# is missing fails instead of skipping (internal/testenv), so nothing passes silently.
#
# Environment: GO_TEST_FLAGS adds flags to go test (e.g. "-race" or "-run TestX");
# KEEP_TMP=1 keeps the temporary directory (service logs) even on success.
# Exit status: 0 only if every step passed. The last line is a plain count,
# "summary: N passed, M failed" (Go packages and end-to-end scripts; failed also counts
# services and vet), after a line naming the steps.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

start_time=$(date +%s)
tmp="$(mktemp -d "${TMPDIR:-/tmp}/axon-test.XXXXXX")"
export AXON_TEST_TMPDIR="$tmp"
started_pg=""
started_kafka=""
failed=()
passed=()
status=1

# stop_services stops what this script started and removes the temporary directory unless
# something failed (or KEEP_TMP is set). It runs before the summary and, for any other exit,
# from the EXIT trap; a second call does nothing.
# shellcheck disable=SC2317 # also called by the EXIT trap
stop_services() {
	if [[ -n "${docker_pid:-}" ]]; then
		kill -TERM "$docker_pid" 2>/dev/null && wait "$docker_pid" 2>/dev/null
		docker_pid=""
	fi
	if [[ -n "$started_kafka" ]]; then
		scripts/kafka.sh stop "$tmp/kafka" >/dev/null 2>&1 || echo "test.sh: stopping Kafka failed; see $tmp/kafka" >&2
		started_kafka=""
	fi
	if [[ -n "$started_pg" ]]; then
		scripts/postgres.sh stop "$tmp/postgres" >/dev/null 2>&1 || echo "test.sh: stopping Postgres failed; see $tmp/postgres" >&2
		started_pg=""
	fi
	if [[ -n "$tmp" ]]; then
		if [[ "$status" -eq 0 && -z "${KEEP_TMP:-}" ]]; then
			rm -rf "$tmp"
		else
			echo "test.sh: logs kept in $tmp" >&2
		fi
		tmp=""
	fi
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	local rc=$?
	set +e
	stop_services
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "test.sh: interrupted" >&2; exit 130' INT TERM

section() { printf '\n=== %s\n' "$*" >&2; }

# run NAME CMD... runs a step, remembering whether it passed.
run() {
	local name="$1"
	shift
	section "$name: $*"
	if "$@"; then
		passed+=("$name")
	else
		failed+=("$name")
	fi
}

# start_service NAME SCRIPT DIR evals the export line SCRIPT start DIR prints.
start_service() {
	local name="$1" script="$2" dir="$3" out
	section "starting $name"
	if ! out="$("$script" start "$dir")"; then
		echo "test.sh: could not start $name (see $dir)" >&2
		return 1
	fi
	if [[ "$out" != export\ AXON_TEST_* ]]; then
		echo "test.sh: $script printed no export line: $out" >&2
		return 1
	fi
	eval "$out"
	echo "$out" >&2
}

command -v go >/dev/null 2>&1 || { echo "test.sh: go is not installed (see .ci/run)" >&2; exit 1; }
go version >&2

# reachable HOST:PORT says whether something accepts TCP connections there.
reachable() {
	local host="${1%:*}" port="${1##*:}"
	[[ -n "$host" && -n "$port" && "$host" != "$1" ]] || return 1
	# shellcheck disable=SC2016 # expanded by the inner shell
	timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null
}

# An inherited service is used only if it answers; otherwise a new one is started.
pg_hostport="$(sed -nE 's|^postgres(ql)?://([^@/]*@)?([^/?]+).*|\3|p' <<<"${AXON_TEST_POSTGRES_DSN:-}")"
if [[ -n "${AXON_TEST_POSTGRES_DSN:-}" ]] && ! reachable "$pg_hostport"; then
	echo "test.sh: AXON_TEST_POSTGRES_DSN does not answer; starting a new Postgres" >&2
	unset AXON_TEST_POSTGRES_DSN
fi
if [[ -n "${AXON_TEST_KAFKA_BROKERS:-}" ]] && ! reachable "${AXON_TEST_KAFKA_BROKERS%%,*}"; then
	echo "test.sh: AXON_TEST_KAFKA_BROKERS does not answer; starting a new Kafka" >&2
	unset AXON_TEST_KAFKA_BROKERS
fi

if [[ -n "${AXON_TEST_POSTGRES_DSN:-}" ]]; then
	echo "test.sh: using the Postgres server in AXON_TEST_POSTGRES_DSN" >&2
elif start_service Postgres scripts/postgres.sh "$tmp/postgres"; then
	started_pg=1
else
	failed+=("postgres")
fi

if [[ -n "${AXON_TEST_KAFKA_BROKERS:-}" ]]; then
	echo "test.sh: using the Kafka brokers in AXON_TEST_KAFKA_BROKERS" >&2
elif [[ ! -x scripts/kafka.sh ]]; then
	echo "test.sh: scripts/kafka.sh is missing; Kafka tests skip (or fail with CI=true)" >&2
	failed+=("kafka(missing)")
elif start_service Kafka scripts/kafka.sh "$tmp/kafka"; then
	started_kafka=1
else
	failed+=("kafka")
fi

packages=("$@")
[[ ${#packages[@]} -gt 0 ]] || packages=(./...)

# go_test runs the Go tests, keeping their output to count packages for the summary.
# shellcheck disable=SC2317 # called through run
go_test() {
	# shellcheck disable=SC2086 # GO_TEST_FLAGS is a list of flags
	go test -p 2 -count=1 -timeout 30m ${GO_TEST_FLAGS:-} "$@" 2>&1 | tee "$tmp/go-test.log"
}

# The container deployment (scripts/docker-test.sh, issue 15) runs beside everything else:
# it needs only a Docker engine (it starts one when it may, and skips without one unless
# CI=true) and brings its own Postgres and Kafka containers.
docker_pid=""
if [[ $# -eq 0 ]]; then
	section "e2e docker: scripts/docker-test.sh in the background (log: $tmp/docker-test.log)"
	bash scripts/docker-test.sh >"$tmp/docker-test.log" 2>&1 &
	docker_pid=$!
fi

run "go vet" go vet "${packages[@]}"
run "go test" go_test "${packages[@]}"

e2e_total=0
if [[ $# -eq 0 ]]; then
	shopt -s nullglob
	for f in tests/e2e/*.sh; do
		e2e_total=$((e2e_total + 1))
		run "e2e $(basename "$f")" bash "$f"
	done
	shopt -u nullglob
	# Two monoliths federating over TLS on loopback (tests/federation, issue 12).
	e2e_total=$((e2e_total + 1))
	run "e2e federation" go run ./tests/federation
	# The same two servers: typing, receipts, presence and to-device across them (-edus),
	# media of one downloaded through the other (-media), keys of one's users queried and
	# claimed from the other and device-list updates (-e2ee).
	e2e_total=$((e2e_total + 3))
	run "e2e federation-edus" go run ./tests/federation -edus
	run "e2e federation-media" go run ./tests/federation -media
	run "e2e federation-e2ee" go run ./tests/federation -e2ee
	# Three monoliths: catch-up after a restart, forged requests, a partition and its fork (-three);
	# a polylith and a monolith, the polylith's federation sender killed -9 mid-burst (-polylith).
	e2e_total=$((e2e_total + 2))
	run "e2e federation-three" go run ./tests/federation -three
	run "e2e federation-polylith" go run ./tests/federation -polylith
	# Axon ↔ Synapse (tests/federation -synapse): a real Synapse from PyPI, started by
	# scripts/synapse.sh in the scenario's temporary directory.
	e2e_total=$((e2e_total + 1))
	run "e2e federation-synapse" go run ./tests/federation -synapse
	# axon-syncv3-proxy in front of a real Synapse (syncv3proxy's TestProxySynapse, skipped
	# by plain go test), with a Synapse of its own.
	e2e_total=$((e2e_total + 1))
	run "e2e syncv3-proxy-synapse" bash -c 'env=$(scripts/synapse.sh start "$1") && eval "$env" && [ -n "${SYNAPSE_URL:-}" ] &&
		go test -count=1 -run TestProxySynapse ./syncv3proxy/; rc=$?; scripts/synapse.sh stop "$1"; exit $rc' _ "$tmp/proxy-synapse"
fi

if [[ -n "$docker_pid" ]]; then
	e2e_total=$((e2e_total + 1))
	section "e2e docker: waiting for scripts/docker-test.sh"
	if wait "$docker_pid"; then passed+=("e2e docker"); else failed+=("e2e docker"); fi
	docker_pid=""
	tail -n 30 "$tmp/docker-test.log" >&2
fi

elapsed=$(($(date +%s) - start_time))
# A plain count for tools that read the last lines: Go packages that passed or failed, plus
# end-to-end scripts and the other steps (services, vet) that failed.
ok_pkgs=$(grep -c '^ok ' "$tmp/go-test.log" 2>/dev/null || true)
failed_pkgs=$(grep -cE '^FAIL[[:space:]]' "$tmp/go-test.log" 2>/dev/null || true)
e2e_passed=0
other_failed=0
for s in "${passed[@]}"; do [[ "$s" != e2e\ * ]] || e2e_passed=$((e2e_passed + 1)); done
for s in "${failed[@]}"; do [[ "$s" == "go test" ]] || other_failed=$((other_failed + 1)); done
if [[ " ${failed[*]} " == *" go test "* && "${failed_pkgs:-0}" -eq 0 ]]; then
	other_failed=$((other_failed + 1)) # go test failed without naming a package
fi
[[ ${#failed[@]} -gt 0 ]] || status=0
stop_services
if [[ ${#failed[@]} -eq 0 ]]; then
	printf '\ntest.sh: PASS — passed: %s (%d end-to-end scripts) in %ds\n' "$(IFS=,; echo "${passed[*]}")" "$e2e_total" "$elapsed"
	printf 'summary: %d passed, 0 failed\n' "$((${ok_pkgs:-0} + e2e_passed))"
	exit 0
fi
printf '\ntest.sh: FAIL — failed: %s; passed: %s (%ds)\n' "$(IFS=,; echo "${failed[*]}")" "$(IFS=,; echo "${passed[*]:-none}")" "$elapsed"
printf 'summary: %d passed, %d failed\n' "$((${ok_pkgs:-0} + e2e_passed))" "$((${failed_pkgs:-0} + other_failed))"
exit 1
