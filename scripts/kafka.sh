#!/usr/bin/env bash
# scripts/kafka.sh — a single-node Apache Kafka broker for tests and local development.
#
#   scripts/kafka.sh start DIR   start a broker whose files all live in DIR; prints
#                                `export AXON_TEST_KAFKA_BROKERS=127.0.0.1:PORT`
#   scripts/kafka.sh stop DIR    stop the broker started in DIR (and wait for it to exit)
#   scripts/kafka.sh env DIR     print the export line of a broker that is running in DIR
#   scripts/kafka.sh restart DIR start again the broker of DIR after it stopped or was killed
#                                (kill -9 included): same ports, same config, same data, so
#                                clients reconnect to the address they had and find their
#                                topics, messages and committed offsets; prints the export line
#
# The broker runs in KRaft mode (combined broker + controller, node.id=1), listening on
# 127.0.0.1 on two free ports (broker and controller). Its jars come from Maven Central
# through scripts/kafka/pom.xml (`mvn dependency:copy-dependencies`; ~/.m2 caches them), so
# the only requirements are a JDK 17+ and Maven. Usage in a shell:
#
#   eval "$(scripts/kafka.sh start /tmp/axon-kafka)"; go test ./internal/eventlog/...; scripts/kafka.sh stop /tmp/axon-kafka
#
# Settings, chosen for tests (see docs/eventlog.md):
#   auto.create.topics.enable=false  topics exist only if created (eventlog EnsureTopics does);
#                                    a typo'd topic fails loudly instead of appearing empty.
#   replication factors 1, group.initial.rebalance.delay.ms=0 (consumer groups start at once),
#   heap -Xmx512m (override with KAFKA_HEAP_OPTS).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() {
	echo "usage: $0 start|restart|stop|env DIR" >&2
	exit 2
}

[[ $# -eq 2 ]] || usage
cmd="$1"
dir="$2"

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

port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# running says whether the broker of $dir is alive; a killed broker its parent has not reaped
# yet (a zombie) is not.
running() {
	[[ -f "$dir/kafka.pid" ]] || return 1
	local pid st
	pid="$(cat "$dir/kafka.pid")"
	kill -0 "$pid" 2>/dev/null || return 1
	st="$(ps -o stat= -p "$pid" 2>/dev/null || true)"
	[[ -n "$st" && "$st" != Z* ]]
}

print_env() {
	echo "export AXON_TEST_KAFKA_BROKERS=127.0.0.1:$(cat "$dir/broker.port")"
}

start() {
	mkdir -p "$dir"
	dir="$(cd "$dir" && pwd)"
	if running; then
		echo "kafka.sh: broker already running in $dir (pid $(cat "$dir/kafka.pid"))" >&2
		print_env
		return
	fi
	command -v java >/dev/null || { echo "kafka.sh: java (JDK 17+) not found" >&2; exit 1; }

	if ! ls "$dir"/libs/kafka_2.13-*.jar >/dev/null 2>&1; then
		command -v mvn >/dev/null || { echo "kafka.sh: mvn not found (needed once to fetch the Kafka jars)" >&2; exit 1; }
		echo "kafka.sh: fetching Kafka jars from Maven Central into $dir/libs" >&2
		mvn -q -f "$here/kafka/pom.xml" dependency:copy-dependencies \
			-DincludeScope=runtime -DoutputDirectory="$dir/libs" >&2
	fi
	local cp="$dir/libs/*"
	set_jopts

	local bport cport
	bport="$(free_port)"
	cport="$(free_port)"
	while [[ "$cport" == "$bport" ]]; do cport="$(free_port)"; done

	# A fresh data directory each start: tests want an empty broker, and the ports change.
	rm -rf "$dir/data"
	mkdir -p "$dir/data"
	cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$bport,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$bport
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=1
auto.create.topics.enable=false
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.retention.hours=24
EOF
	cat >"$dir/log4j.properties" <<EOF
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$dir/kafka.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
EOF
	local cluster
	cluster="$(java -cp "$cp" "${jopts[@]}" kafka.tools.StorageTool random-uuid)"
	java -cp "$cp" "${jopts[@]}" kafka.tools.StorageTool format -t "$cluster" \
		-c "$dir/server.properties" >"$dir/format.log" 2>&1 || {
		cat "$dir/format.log" >&2
		exit 1
	}
	echo "$bport" >"$dir/broker.port"
	echo "$cport" >"$dir/controller.port"
	: >"$dir/stdout.log"
	launch
}

# The JVM options every run of the broker in $dir uses.
jopts=()
set_jopts() { jopts=(-Dlog4j.configuration="file:$dir/log4j.properties" -Djava.awt.headless=true); }

# launch runs the broker of $dir (server.properties, data and ports already there) and waits
# until it has started.
launch() {
	set_jopts
	local cp="$dir/libs/*"
	local bport
	bport="$(cat "$dir/broker.port")"
	# A restart appends to kafka.log: "Kafka Server started" counts only after this offset.
	local from=0
	[[ -f "$dir/kafka.log" ]] && from="$(wc -c <"$dir/kafka.log")"
	local heap="${KAFKA_HEAP_OPTS:--Xmx512m -Xms128m}"
	# shellcheck disable=SC2086
	nohup java $heap -XX:+UseG1GC -cp "$cp" "${jopts[@]}" kafka.Kafka "$dir/server.properties" \
		>>"$dir/stdout.log" 2>&1 </dev/null &
	echo $! >"$dir/kafka.pid"

	# Ready when the broker port answers and the server says it has started.
	local i
	for ((i = 0; i < 120; i++)); do
		if ! running; then
			echo "kafka.sh: broker exited during start; see $dir/kafka.log and $dir/stdout.log" >&2
			tail -20 "$dir/stdout.log" "$dir/kafka.log" >&2 || true
			exit 1
		fi
		if port_open "$bport" && tail -c +"$((from + 1))" "$dir/kafka.log" 2>/dev/null | grep -q "Kafka Server started"; then
			print_env
			return
		fi
		sleep 0.5
	done
	echo "kafka.sh: broker did not start within 60s; see $dir/kafka.log" >&2
	stop
	exit 1
}

# restart starts the broker of $dir again, on the ports and with the data it had.
restart() {
	dir="$(cd "$dir" && pwd)"
	[[ -f "$dir/server.properties" && -f "$dir/broker.port" ]] || {
		echo "kafka.sh: no broker was started in $dir (run start first)" >&2
		exit 1
	}
	# A broker just sent SIGKILL may take a moment to go.
	local i
	for ((i = 0; i < 20; i++)); do
		running || break
		sleep 0.25
	done
	if running; then
		echo "kafka.sh: broker already running in $dir (pid $(cat "$dir/kafka.pid"))" >&2
		print_env
		return
	fi
	launch
}

stop() {
	if ! [[ -f "$dir/kafka.pid" ]]; then
		echo "kafka.sh: no broker in $dir" >&2
		return
	fi
	local pid
	pid="$(cat "$dir/kafka.pid")"
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		local i
		for ((i = 0; i < 60; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "kafka.sh: broker $pid did not stop in 30s; killing it" >&2
			kill -9 "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$dir/kafka.pid"
}

case "$cmd" in
start) start ;;
restart) restart ;;
stop) stop ;;
env)
	running || { echo "kafka.sh: no broker running in $dir" >&2; exit 1; }
	print_env
	;;
*) usage ;;
esac
