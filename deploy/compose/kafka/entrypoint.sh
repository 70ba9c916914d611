#!/bin/bash
# Writes server.properties from the KAFKA_* environment (KAFKA_LOG_DIRS -> log.dirs, as the
# upstream image does), formats the KRaft storage once with CLUSTER_ID, runs the broker.
set -euo pipefail
: "${CLUSTER_ID:?}" "${KAFKA_LOG_DIRS:?}"
props=/var/lib/kafka/server.properties
: >"$props"
while IFS='=' read -r name value; do
  [[ $name == KAFKA_* && $name != KAFKA_HEAP_OPTS ]] || continue
  key=$(printf '%s' "${name#KAFKA_}" | tr '[:upper:]' '[:lower:]' | tr '_' '.')
  printf '%s=%s\n' "$key" "$value" >>"$props"
done < <(env)
JAVA=(java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m} -XX:+UseG1GC -Djava.awt.headless=true
  -Dlog4j2.configurationFile=/opt/kafka/log4j2.properties -cp '/opt/kafka/libs/*')
if [[ ! -f $KAFKA_LOG_DIRS/meta.properties ]]; then
  "${JAVA[@]}" kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$props"
fi
exec "${JAVA[@]}" kafka.Kafka "$props"
