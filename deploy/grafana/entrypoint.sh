#!/bin/sh
# Grafana's entrypoint in docker compose: derives the ClickHouse data
# source's settings (provisioning/datasources/clickhouse.yaml) from the
# exporter's EXPORTER_CLICKHOUSE__* variables, with the binaries' defaults,
# then starts Grafana (/run.sh of the official image).
set -eu

proto=${EXPORTER_CLICKHOUSE__PROTO:-http}
case "$proto" in
native) protocol=native secure=false port=9000 ;;
native+tls) protocol=native secure=true port=9440 ;;
http) protocol=http secure=false port=8123 ;;
https) protocol=http secure=true port=8443 ;;
*)
	echo "tracker-exporter: EXPORTER_CLICKHOUSE__PROTO=$proto: want http, https, native or native+tls" >&2
	exit 2
	;;
esac

TRACKER_CH_HOST=${EXPORTER_CLICKHOUSE__HOST:-localhost}
TRACKER_CH_PORT=${EXPORTER_CLICKHOUSE__PORT:-$port}
TRACKER_CH_PROTOCOL=$protocol
TRACKER_CH_SECURE=$secure
TRACKER_CH_USERNAME=${EXPORTER_CLICKHOUSE__USERNAME:-default}
TRACKER_CH_PASSWORD=${EXPORTER_CLICKHOUSE__PASSWORD:-}
TRACKER_CH_DATABASE=${EXPORTER_CLICKHOUSE__DATABASE:-agile}
TRACKER_CH_TLS_WITH_CA=false
TRACKER_CH_TLS_CA=
ca=${EXPORTER_CLICKHOUSE__CACERT_PATH:-}
if [ -n "$ca" ]; then
	if [ ! -r "$ca" ]; then
		echo "tracker-exporter: EXPORTER_CLICKHOUSE__CACERT_PATH=$ca is not readable in the container (set TRACKER_EXPORTER_CA_DIR)" >&2
		exit 2
	fi
	TRACKER_CH_TLS_WITH_CA=true
	TRACKER_CH_TLS_CA=$(cat "$ca")
fi
export TRACKER_CH_HOST TRACKER_CH_PORT TRACKER_CH_PROTOCOL TRACKER_CH_SECURE TRACKER_CH_USERNAME \
	TRACKER_CH_PASSWORD TRACKER_CH_DATABASE TRACKER_CH_TLS_WITH_CA TRACKER_CH_TLS_CA

exec /run.sh "$@"
