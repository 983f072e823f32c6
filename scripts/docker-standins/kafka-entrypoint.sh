#!/bin/bash
# Stand-in for the apache/kafka image's entrypoint (scripts/docker-test.sh only: no
# registry is reachable where the tests run). Same contract as far as
# docker/docker-compose.yml uses it: every KAFKA_* variable becomes a server property
# (KAFKA_LOG_DIRS → log.dirs; "__" → "_"), CLUSTER_ID formats the storage on the first
# start, and the broker runs in KRaft mode from the jars in /opt/kafka/libs.
set -euo pipefail
props=/opt/kafka/server.properties
: >"$props"
while IFS='=' read -r name value; do
  case $name in KAFKA_HEAP_OPTS | KAFKA_OPTS) continue ;; KAFKA_*) ;; *) continue ;; esac
  key=${name#KAFKA_}
  key=$(tr 'A-Z' 'a-z' <<<"$key" | sed -e 's/__/\x01/g' -e 's/_/./g' -e 's/\x01/_/g')
  printf '%s=%s\n' "$key" "$value" >>"$props"
done < <(env)
printf 'log4j.rootLogger=WARN, stdout\nlog4j.appender.stdout=org.apache.log4j.ConsoleAppender\nlog4j.appender.stdout.layout=org.apache.log4j.PatternLayout\nlog4j.appender.stdout.layout.ConversionPattern=[%%d] %%p %%m (%%c)%%n\nlog4j.logger.kafka.server.KafkaRaftServer=INFO\n' >/opt/kafka/log4j.properties
opts=(-Dlog4j.configuration=file:/opt/kafka/log4j.properties -Djava.awt.headless=true)
dirs=$(sed -n 's/^log\.dirs=//p' "$props")
if [ ! -f "${dirs:-/tmp/kraft-combined-logs}/meta.properties" ]; then
  java -cp '/opt/kafka/libs/*' "${opts[@]}" kafka.tools.StorageTool format -t "${CLUSTER_ID:?CLUSTER_ID is required}" -c "$props"
fi
# shellcheck disable=SC2086
exec java ${KAFKA_HEAP_OPTS:--Xmx512m -Xms128m} -XX:+UseG1GC -cp '/opt/kafka/libs/*' "${opts[@]}" kafka.Kafka "$props"
