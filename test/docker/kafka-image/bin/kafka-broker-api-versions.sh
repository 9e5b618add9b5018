#!/bin/sh
# As in the Kafka distribution: the broker API versions tool (used by the health checks).
exec java -Xmx128m -Dlog4j2.configurationFile=/etc/kafka/docker/log4j2.properties \
  -cp '/opt/kafka/libs/*' org.apache.kafka.tools.BrokerApiVersionsCommand "$@"
