#!/usr/bin/env bash
# services.sh — private ClickHouse, Redis and S3 (versitygw) instances for
# tests, CI and demos. They never touch the system services: every instance
# has its own configuration, data directory, pid file and ports.
#
#   scripts/services.sh start   install what is missing, start, wait until ready
#   scripts/services.sh stop    stop the instances this script started
#   scripts/services.sh status  say what is running
#   scripts/services.sh env     print the export lines the tests read
#   scripts/services.sh clean   stop, then delete ${SERVICES_DIR}
#   scripts/services.sh nats-node kill|start n1|n2|n3   (tests of a node's loss)
#
# Use: eval "$(scripts/services.sh env)"
#
# Variables (defaults): SERVICES_DIR (/tmp/tracker-exporter-services),
# CH_PORT (19000), CH_HTTP_PORT (18123), CH_TLS_PORT (19440, native over TLS
# with a certificate from a private CA written next to the data), REDIS_PORT (16379), S3_PORT (17070),
# S3_ACCESS_KEY (tracker-test), S3_SECRET_KEY (tracker-test-secret),
# VERSITYGW_VERSION (v1.8.0), SERVICES_TIMEOUT (60 seconds per service);
# the ClickHouse cluster's ZK_PORT (12181), ZK_JAR, CH_CLUSTER
# (tracker_cluster), CH_CLUSTER_PORTS (19100,19101), CH_CLUSTER_HTTP_PORTS
# (18200,18201), CH_CLUSTER_INTERSERVER_PORTS (19109,19110); the NATS
# cluster's NATS_CLUSTER_PORT (14222), NATS_ROUTE_PORT (16222),
# NATS_MONITOR_PORT (18222), each the port of node 1, the others following.
set -euo pipefail

SERVICES_DIR=${SERVICES_DIR:-/tmp/tracker-exporter-services}
CH_PORT=${CH_PORT:-19000}
CH_HTTP_PORT=${CH_HTTP_PORT:-18123}
CH_TLS_PORT=${CH_TLS_PORT:-19440}
REDIS_PORT=${REDIS_PORT:-16379}
S3_PORT=${S3_PORT:-17070}
S3_ACCESS_KEY=${S3_ACCESS_KEY:-tracker-test}
S3_SECRET_KEY=${S3_SECRET_KEY:-tracker-test-secret}
VERSITYGW_VERSION=${VERSITYGW_VERSION:-v1.8.0}
SERVICES_TIMEOUT=${SERVICES_TIMEOUT:-60}
ZK_PORT=${ZK_PORT:-12181}
ZK_JAR=${ZK_JAR:-/usr/share/java/zookeeper.jar}
CH_CLUSTER=${CH_CLUSTER:-tracker_cluster}
CH_CLUSTER_PORTS=${CH_CLUSTER_PORTS:-19100,19101}
CH_CLUSTER_HTTP_PORTS=${CH_CLUSTER_HTTP_PORTS:-18200,18201}
CH_CLUSTER_INTERSERVER_PORTS=${CH_CLUSTER_INTERSERVER_PORTS:-19109,19110}
HOST=127.0.0.1

# Debian installs clickhouse-server under /usr/sbin, which a non-login shell
# may not have on its PATH.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin:/usr/local/go/bin"

log() { printf 'services: %s\n' "$*" >&2; }
die() {
	printf 'services: error: %s\n' "$*" >&2
	exit 1
}

# --- installation -----------------------------------------------------------

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root (or sudo) to run: $*"
	fi
}

install_packages() {
	local missing=()
	command -v clickhouse-server >/dev/null 2>&1 || missing+=(clickhouse-server)
	command -v clickhouse-client >/dev/null 2>&1 || missing+=(clickhouse-client)
	command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
	command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
	[ -r "$ZK_JAR" ] || missing+=(zookeeper)
	if [ "${#missing[@]}" -eq 0 ]; then
		return 0
	fi
	log "installing ${missing[*]} with apt-get"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq ||
		die "apt-get update failed"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
		die "apt-get install ${missing[*]} failed"
	# The Debian packages start their own system services on ports 9000,
	# 8123 and 6379; this script does not use them and leaves them alone.
}

versitygw_bin() {
	command -v go >/dev/null 2>&1 || die "go is not on PATH: it is needed to install versitygw"
	printf '%s/bin/versitygw' "$(go env GOPATH)"
}

install_versitygw() {
	local bin
	bin=$(versitygw_bin)
	if [ -x "$bin" ]; then
		return 0
	fi
	log "installing versitygw ${VERSITYGW_VERSION} with go install (takes a few minutes)"
	go install "github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}" ||
		die "go install versitygw@${VERSITYGW_VERSION} failed"
	[ -x "$bin" ] || die "versitygw not found at $bin after go install"
}

# --- helpers ----------------------------------------------------------------

# pid_alive FILE NAME: the pid in FILE names a live process whose command
# line contains NAME (so that a stale pid file never designates a process
# that reused the pid).
pid_alive() {
	local pid
	[ -s "$1" ] || return 1
	pid=$(cat "$1")
	case "$pid" in '' | *[!0-9]*) return 1 ;; esac
	kill -0 "$pid" 2>/dev/null || return 1
	[ -r "/proc/$pid/cmdline" ] || return 0 # no procfs: trust the pid
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2"
}

port_open() {
	(exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# ch_ready: the instance on ${ch_port} (a local of start_clickhouse_instance),
# else the main one, answers.
ch_ready() {
	clickhouse-client --host "$HOST" --port "${ch_port:-$CH_PORT}" --query 'SELECT 1' >/dev/null 2>&1
}

redis_ready() {
	[ "$(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]
}

s3_ready() {
	port_open "$S3_PORT"
}

# wait_ready NAME CHECK PIDFILE PROC LOGFILE...: poll CHECK until it
# succeeds, the process dies, or SERVICES_TIMEOUT passes; on failure show
# the end of the logs.
wait_ready() {
	local name=$1 check=$2 pidfile=$3 proc=$4
	shift 4
	local deadline=$((SECONDS + SERVICES_TIMEOUT)) why=""
	while ! "$check"; do
		if ! pid_alive "$pidfile" "$proc"; then
			why="exited during start-up"
		elif [ "$SECONDS" -ge "$deadline" ]; then
			why="did not answer within ${SERVICES_TIMEOUT}s"
		fi
		if [ -n "$why" ]; then
			local f
			for f in "$@"; do
				if [ -s "$f" ]; then
					log "last lines of $f:"
					tail -n 20 "$f" >&2 || true
				fi
			done
			die "$name $why (logs: $*)"
		fi
		sleep 0.2
	done
}

# already_running NAME CHECK PIDFILE PROC PORT: true when nothing needs
# starting; fails when the port is taken by a process this script did not
# start and that does not answer as the service.
already_running() {
	local name=$1 check=$2 pidfile=$3 proc=$4 port=$5
	if pid_alive "$pidfile" "$proc"; then
		if "$check"; then
			log "$name already running (pid $(cat "$pidfile"), port $port)"
			return 0
		fi
		return 1 # ours, still starting: the caller waits
	fi
	rm -f "$pidfile"
	if "$check"; then
		log "$name already answers on port $port (not started by this script); using it"
		return 0
	fi
	if port_open "$port"; then
		die "port $port is taken by another program; set a free port in the environment"
	fi
	return 1
}

# spawn PIDFILE LOGFILE CMD...: start CMD detached in its own session (so
# that the caller's Ctrl-C or process-group kill does not reach it) and
# record its pid. The child writes its own pid before exec, which stays right
# even when setsid has to fork.
spawn() {
	local pidfile=$1 logfile=$2 deadline
	shift 2
	rm -f "$pidfile"
	setsid bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$pidfile" "$@" \
		</dev/null >>"$logfile" 2>&1 &
	deadline=$((SECONDS + 10))
	until [ -s "$pidfile" ]; do
		[ "$SECONDS" -lt "$deadline" ] || die "could not start $1 (log: $logfile)"
		sleep 0.05
	done
}

# --- ClickHouse ---------------------------------------------------------------

ch_dir() { printf '%s/clickhouse' "$SERVICES_DIR"; }

# write_ch_tls makes a private CA and a server certificate for 127.0.0.1,
# so the tests can check TLS with a CA file (EXPORTER_CLICKHOUSE__CACERT_PATH).
write_ch_tls() {
	local tls=$1
	[ -s "$tls/server.crt" ] && [ -s "$tls/ca.crt" ] && return 0
	command -v openssl >/dev/null 2>&1 || as_root apt-get install -y -qq openssl >/dev/null
	mkdir -p "$tls"
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=tracker-exporter test CA" \
		-keyout "$tls/ca.key" -out "$tls/ca.crt" >/dev/null 2>&1
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$HOST" -keyout "$tls/server.key" -out "$tls/server.csr" >/dev/null 2>&1
	printf 'subjectAltName=IP:%s,DNS:localhost\n' "$HOST" >"$tls/san.ext"
	openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial \
		-days 3650 -extfile "$tls/san.ext" -out "$tls/server.crt" >/dev/null 2>&1
	chmod 644 "$tls/server.key"
}

# write_ch_config [DIR TCP_PORT HTTP_PORT TLS_PORT EXTRA_XML]: the config of
# one instance (defaults: the main test instance). An empty TLS_PORT leaves
# TLS out; EXTRA_XML is inserted at the end of config.xml (cluster settings),
# PROFILE_XML into the default profile of users.xml.
write_ch_config() {
	local dir=${1:-$(ch_dir)} tcp=${2:-$CH_PORT} http=${3:-$CH_HTTP_PORT} tlsport=${4-$CH_TLS_PORT} extra=${5:-} profile=${6:-} tlsxml=""
	mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas" "$dir/log"
	if [ -n "$tlsport" ]; then
		write_ch_tls "$dir/tls"
		tlsxml="<tcp_port_secure>$tlsport</tcp_port_secure>
    <openSSL>
        <server>
            <certificateFile>$dir/tls/server.crt</certificateFile>
            <privateKeyFile>$dir/tls/server.key</privateKeyFile>
            <verificationMode>none</verificationMode>
            <loadDefaultCAFile>false</loadDefaultCAFile>
            <cacheSessions>true</cacheSessions>
            <disableProtocols>sslv2,sslv3</disableProtocols>
            <preferServerCiphers>true</preferServerCiphers>
        </server>
    </openSSL>"
	fi
	cat >"$dir/config.xml" <<EOF
<?xml version="1.0"?>
<!-- Written by scripts/services.sh; a private test instance. -->
<yandex>
    <logger>
        <level>warning</level>
        <log>$dir/log/clickhouse-server.log</log>
        <errorlog>$dir/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>$HOST</listen_host>
    <tcp_port>$tcp</tcp_port>
    <http_port>$http</http_port>
    $tlsxml
    <max_connections>1024</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <format_schema_path>$dir/format_schemas/</format_schema_path>
    <users_config>$dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
$extra
</yandex>
EOF
	cat >"$dir/users.xml" <<EOF
<?xml version="1.0"?>
<!-- Written by scripts/services.sh; a private test instance. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
            $profile
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>::1</ip>
                <ip>127.0.0.1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
}

start_clickhouse() {
	start_clickhouse_instance ClickHouse "$(ch_dir)" "$CH_PORT" "$CH_HTTP_PORT" "$CH_TLS_PORT" ""
}

# start_clickhouse_instance NAME DIR TCP_PORT HTTP_PORT TLS_PORT EXTRA_XML
# [PROFILE_XML]: write the config of one instance and start it, unless it
# runs already.
start_clickhouse_instance() {
	local name=$1 dir=$2 ch_port=$3 http=$4 tlsport=$5 extra=$6 profile=${7:-} pidfile logfile
	pidfile="$dir/clickhouse.pid"
	logfile="$dir/log/stdout.log"
	if already_running "$name" ch_ready "$pidfile" clickhouse-server "$ch_port"; then
		return 0
	fi
	if ! pid_alive "$pidfile" clickhouse-server; then
		port_open "$http" && die "$name HTTP port $http is taken by another program"
		write_ch_config "$dir" "$ch_port" "$http" "$tlsport" "$extra" "$profile"
		log "starting $name on $HOST:$ch_port (HTTP $http), data in $dir"
		# The server resolves the relative paths of its config from the
		# working directory.
		(cd "$dir" && spawn "$pidfile" "$logfile" clickhouse-server --config-file="$dir/config.xml")
	fi
	wait_ready "$name" ch_ready "$pidfile" clickhouse-server "$logfile" "$dir/log/clickhouse-server.err.log"
	log "$name ready ($(clickhouse-client --host "$HOST" --port "$ch_port" --query 'SELECT version()'))"
}

# --- Redis ----------------------------------------------------------------------

start_redis() {
	local dir pidfile logfile
	dir="$SERVICES_DIR/redis"
	pidfile="$dir/redis.pid"
	logfile="$dir/redis.log"
	mkdir -p "$dir"
	if already_running Redis redis_ready "$pidfile" redis-server "$REDIS_PORT"; then
		return 0
	fi
	if ! pid_alive "$pidfile" redis-server; then
		log "starting Redis on $HOST:$REDIS_PORT (no persistence)"
		spawn "$pidfile" "$logfile" redis-server --bind "$HOST" --port "$REDIS_PORT" \
			--save '' --appendonly no --dir "$dir" --daemonize no --protected-mode yes
	fi
	wait_ready Redis redis_ready "$pidfile" redis-server "$logfile"
	log "Redis ready"
}

# --- S3 (versitygw) -----------------------------------------------------------------

start_s3() {
	local dir pidfile logfile bin
	dir="$SERVICES_DIR/s3"
	pidfile="$dir/versitygw.pid"
	logfile="$dir/versitygw.log"
	mkdir -p "$dir/data"
	if already_running versitygw s3_ready "$pidfile" versitygw "$S3_PORT"; then
		return 0
	fi
	if ! pid_alive "$pidfile" versitygw; then
		bin=$(versitygw_bin)
		log "starting versitygw on $HOST:$S3_PORT, buckets under $dir/data"
		spawn "$pidfile" "$logfile" env ROOT_ACCESS_KEY="$S3_ACCESS_KEY" ROOT_SECRET_KEY="$S3_SECRET_KEY" \
			"$bin" --port "$HOST:$S3_PORT" --quiet posix "$dir/data"
	fi
	wait_ready versitygw s3_ready "$pidfile" versitygw "$logfile"
	log "versitygw ready"
}

# --- ClickHouse cluster (ZooKeeper + two replicas) ---------------------------
#
# A private ZooKeeper (Debian's package, run by hand: not the system
# service) on $ZK_PORT with its data under $SERVICES_DIR/zookeeper, and two
# ClickHouse instances ch-r1 and ch-r2, the two replicas of the one shard of
# cluster $CH_CLUSTER. The same two instances also form the cluster
# tracker_two_shards, where each is a shard of its own; the macro
# two_shards_shard (01, 02) names that shard in a ZooKeeper path
# (EXPORTER_CLICKHOUSE__ZOOKEEPER_PATH=/clickhouse/tables/{two_shards_shard}/...).
# Every shard has internal_replication: 18.16 runs no ALTER ON CLUSTER of a
# replicated table without it, even on a shard of one replica.

zk_dir() { printf '%s/zookeeper' "$SERVICES_DIR"; }

# zk_ready asks ZooKeeper "ruok". The answer is read for 2 s at most: a
# server still starting accepted the connection and never answered nor
# closed it, and an unbounded read held \`services.sh start\` for good.
zk_ready() {
	[ "$( (exec 3<>"/dev/tcp/$HOST/$ZK_PORT" && printf ruok >&3 && timeout 2 cat <&3) 2>/dev/null)" = imok ]
}

start_zookeeper() {
	local dir pidfile logfile
	dir=$(zk_dir)
	pidfile="$dir/zookeeper.pid"
	logfile="$dir/zookeeper.log"
	mkdir -p "$dir/data"
	if already_running ZooKeeper zk_ready "$pidfile" ZooKeeperServerMain "$ZK_PORT"; then
		return 0
	fi
	if ! pid_alive "$pidfile" ZooKeeperServerMain; then
		cat >"$dir/zoo.cfg" <<EOF
# Written by scripts/services.sh; a private test instance.
tickTime=500
dataDir=$dir/data
clientPortAddress=$HOST
clientPort=$ZK_PORT
maxSessionTimeout=30000
admin.enableServer=false
4lw.commands.whitelist=ruok,stat
EOF
		log "starting ZooKeeper on $HOST:$ZK_PORT, data in $dir"
		spawn "$pidfile" "$logfile" java -Xmx256m -Dzookeeper.log.dir="$dir" \
			-cp "$ZK_JAR" org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg"
	fi
	wait_ready ZooKeeper zk_ready "$pidfile" ZooKeeperServerMain "$logfile"
	log "ZooKeeper ready"
}

# ch_cluster_xml N: the cluster settings of replica N (1 or 2).
ch_cluster_xml() {
	local n=$1 p1 p2 inter
	p1=${CH_CLUSTER_PORTS%%,*}
	p2=${CH_CLUSTER_PORTS##*,}
	inter=$(printf '%s' "$CH_CLUSTER_INTERSERVER_PORTS" | cut -d, -f"$n")
	cat <<EOF
    <interserver_http_host>$HOST</interserver_http_host>
    <interserver_http_port>$inter</interserver_http_port>
    <macros>
        <shard>01</shard>
        <replica>r$n</replica>
        <two_shards_shard>0$n</two_shards_shard>
    </macros>
    <zookeeper>
        <node><host>$HOST</host><port>$ZK_PORT</port></node>
        <session_timeout_ms>10000</session_timeout_ms>
    </zookeeper>
    <distributed_ddl>
        <path>/clickhouse/task_queue/ddl</path>
    </distributed_ddl>
    <remote_servers>
        <$CH_CLUSTER>
            <shard>
                <internal_replication>true</internal_replication>
                <replica><host>$HOST</host><port>$p1</port></replica>
                <replica><host>$HOST</host><port>$p2</port></replica>
            </shard>
        </$CH_CLUSTER>
        <tracker_two_shards>
            <shard><internal_replication>true</internal_replication><replica><host>$HOST</host><port>$p1</port></replica></shard>
            <shard><internal_replication>true</internal_replication><replica><host>$HOST</host><port>$p2</port></replica></shard>
        </tracker_two_shards>
    </remote_servers>
EOF
}

# start_clickhouse_cluster: ZooKeeper, then both replicas (started
# together). On 18.16 a distributed (ON CLUSTER) DDL runs with the server's
# default profile, not the query's settings: LowCardinality columns need
# allow_experimental_low_cardinality_type there.
start_clickhouse_cluster() {
	local n port http pids=()
	start_zookeeper
	for n in 1 2; do
		port=$(printf '%s' "$CH_CLUSTER_PORTS" | cut -d, -f"$n")
		http=$(printf '%s' "$CH_CLUSTER_HTTP_PORTS" | cut -d, -f"$n")
		start_clickhouse_instance "ClickHouse replica r$n" "$SERVICES_DIR/ch-r$n" "$port" "$http" "" "$(ch_cluster_xml "$n")" \
			"<allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>" &
		pids+=($!)
	done
	for n in "${pids[@]}"; do
		wait "$n" || die "the ClickHouse cluster did not start"
	done
}

stop_clickhouse_cluster() {
	stop_pid "ClickHouse replica r2" "$SERVICES_DIR/ch-r2/clickhouse.pid" clickhouse-server
	stop_pid "ClickHouse replica r1" "$SERVICES_DIR/ch-r1/clickhouse.pid" clickhouse-server
	stop_pid ZooKeeper "$(zk_dir)/zookeeper.pid" ZooKeeperServerMain
}

status_clickhouse_cluster() {
	local rc=0 n ch_port
	if zk_ready; then log "ZooKeeper up on $HOST:$ZK_PORT"; else log "ZooKeeper down"; rc=1; fi
	for n in 1 2; do
		ch_port=$(printf '%s' "$CH_CLUSTER_PORTS" | cut -d, -f"$n")
		if ch_ready; then log "ClickHouse replica r$n up on $HOST:$ch_port"; else log "ClickHouse replica r$n down"; rc=1; fi
	done
	return "$rc"
}

env_clickhouse_cluster() {
	cat <<EOF
export TEST_CLICKHOUSE_CLUSTER_ADDRS=$HOST:${CH_CLUSTER_PORTS%%,*},$HOST:${CH_CLUSTER_PORTS##*,}
export TEST_CLICKHOUSE_CLUSTER=$CH_CLUSTER
EOF
}

# --- NATS cluster (three nats-server nodes) -----------------------------------
#
# Three nats-server processes forming one JetStream cluster, for the tests of
# replicated streams (e2e/nats_cluster_test.go). The server is built with
# `go build` from the nats-server module pinned in go.mod, the same code as the
# embedded server of the one-process binary, so that the cluster tests run the
# server version everything else is tested with. (Debian bookworm ships
# nats-server 2.9.10, from 2022: older than the JetStream API nats.go's
# jetstream package targets, and before years of fixes to clustered streams'
# leader elections and catch-up, which is what these tests exercise.)
#
# Variables (defaults): NATS_CLUSTER_PORT (14222), NATS_ROUTE_PORT (16222),
# NATS_MONITOR_PORT (18222): the ports of node 1, the others follow.
# Node i (1..3): server name n$i, clients on NATS_CLUSTER_PORT+i-1 (14222..),
# routes on NATS_ROUTE_PORT+i-1 (16222..), monitoring on
# NATS_MONITOR_PORT+i-1 (18222..), data under $SERVICES_DIR/nats-cluster/n$i.
# The tests kill -9 a node and start it again with
# `scripts/services.sh nats-node kill|start n$i`.

NATS_CLUSTER_PORT=${NATS_CLUSTER_PORT:-14222}
NATS_ROUTE_PORT=${NATS_ROUTE_PORT:-16222}
NATS_MONITOR_PORT=${NATS_MONITOR_PORT:-18222}

nats_cluster_dir() { printf '%s/nats-cluster' "$SERVICES_DIR"; }
nats_bin() { printf '%s/bin/nats-server' "$(nats_cluster_dir)"; }
nats_node_pidfile() { printf '%s/n%s/nats-server.pid' "$(nats_cluster_dir)" "$1"; }
nats_node_proc() { printf 'nats-cluster/n%s/nats.conf' "$1"; }

nats_cluster_urls() {
	local i urls=()
	for i in 1 2 3; do urls+=("nats://$HOST:$((NATS_CLUSTER_PORT + i - 1))"); done
	(
		IFS=,
		printf '%s' "${urls[*]}"
	)
}

# install_nats_server builds nats-server at the version go.mod pins, once per
# version.
install_nats_server() {
	local root bin version
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	bin=$(nats_bin)
	command -v go >/dev/null 2>&1 || die "go is not on PATH: it is needed to build nats-server"
	version=$(cd "$root" && go list -m -f '{{.Version}}' github.com/nats-io/nats-server/v2) ||
		die "nats-server is not in go.mod"
	if [ -x "$bin" ] && [ "$(cat "$bin.version" 2>/dev/null)" = "$version" ]; then
		return 0
	fi
	log "building nats-server $version with go build"
	mkdir -p "$(dirname "$bin")"
	(cd "$root" && go build -o "$bin.tmp" github.com/nats-io/nats-server/v2) ||
		die "go build nats-server $version failed"
	mv "$bin.tmp" "$bin"
	printf '%s\n' "$version" >"$bin.version"
}

write_nats_node_config() {
	local i=$1 dir routes="" j
	dir="$(nats_cluster_dir)/n$i"
	mkdir -p "$dir"
	for j in 1 2 3; do
		[ "$j" = "$i" ] || routes="$routes${routes:+, }\"nats-route://$HOST:$((NATS_ROUTE_PORT + j - 1))\""
	done
	cat >"$dir/nats.conf" <<EOF
# Written by scripts/services.sh; node $i of a private test cluster.
server_name: n$i
host: $HOST
port: $((NATS_CLUSTER_PORT + i - 1))
http: "$HOST:$((NATS_MONITOR_PORT + i - 1))"
max_payload: 8MB
jetstream {
    store_dir: "$dir"
    max_memory_store: 256MB
    max_file_store: 4GB
}
cluster {
    name: tracker-test
    host: $HOST
    port: $((NATS_ROUTE_PORT + i - 1))
    routes: [$routes]
}
EOF
}

# nats_node_ready: node $NATS_NODE answers its monitoring /healthz with
# JetStream enabled (not necessarily caught up: that needs a quorum).
nats_node_ready() {
	curl -fsS -m 2 "http://$HOST:$((NATS_MONITOR_PORT + NATS_NODE - 1))/healthz?js-enabled-only=true" >/dev/null 2>&1
}

# nats_cluster_ready: every node healthy: JetStream's meta leader elected and
# each node current with it.
nats_cluster_ready() {
	local i
	for i in 1 2 3; do
		curl -fsS -m 2 "http://$HOST:$((NATS_MONITOR_PORT + i - 1))/healthz" >/dev/null 2>&1 || return 1
	done
}

start_nats_node() {
	local i=$1 dir pidfile proc
	dir="$(nats_cluster_dir)/n$i"
	pidfile=$(nats_node_pidfile "$i")
	proc=$(nats_node_proc "$i")
	if NATS_NODE=$i already_running "NATS node n$i" nats_node_ready "$pidfile" "$proc" "$((NATS_CLUSTER_PORT + i - 1))"; then
		return 0
	fi
	if ! pid_alive "$pidfile" "$proc"; then
		port_open "$((NATS_ROUTE_PORT + i - 1))" && die "NATS route port $((NATS_ROUTE_PORT + i - 1)) is taken by another program; set NATS_ROUTE_PORT"
		write_nats_node_config "$i"
		log "starting NATS node n$i on $HOST:$((NATS_CLUSTER_PORT + i - 1)), data in $dir"
		spawn "$pidfile" "$dir/nats-server.log" "$(nats_bin)" -c "$dir/nats.conf"
	fi
}

wait_nats_node() {
	NATS_NODE=$1 wait_ready "NATS node n$1" nats_node_ready "$(nats_node_pidfile "$1")" "$(nats_node_proc "$1")" \
		"$(nats_cluster_dir)/n$1/nats-server.log"
}

start_nats_cluster() {
	local i
	install_nats_server
	for i in 1 2 3; do start_nats_node "$i"; done
	for i in 1 2 3; do wait_nats_node "$i"; done
	wait_ready "NATS cluster" nats_cluster_ready "$(nats_node_pidfile 1)" "$(nats_node_proc 1)" \
		"$(nats_cluster_dir)/n1/nats-server.log"
	log "NATS cluster ready ($(nats_cluster_urls))"
}

stop_nats_cluster() {
	local i
	for i in 1 2 3; do stop_pid "NATS node n$i" "$(nats_node_pidfile "$i")" "$(nats_node_proc "$i")"; done
}

status_nats_cluster() {
	local i rc=0
	for i in 1 2 3; do
		if NATS_NODE=$i nats_node_ready; then
			log "NATS node n$i up on $HOST:$((NATS_CLUSTER_PORT + i - 1))"
		else
			log "NATS node n$i down"
			rc=1
		fi
	done
	return "$rc"
}

# cmd_nats_node kill|start n1|n2|n3: kill -9 one node of the cluster, or start
# it again and wait until it answers (for the tests of a node's loss).
cmd_nats_node() {
	local i=${2:-}
	i=${i#n}
	case "$i" in 1 | 2 | 3) ;; *) die "usage: $0 nats-node kill|start n1|n2|n3" ;; esac
	case "${1:-}" in
	kill)
		pid_alive "$(nats_node_pidfile "$i")" "$(nats_node_proc "$i")" || die "NATS node n$i is not running"
		kill -KILL "$(cat "$(nats_node_pidfile "$i")")"
		log "NATS node n$i killed"
		;;
	start)
		start_nats_node "$i"
		wait_nats_node "$i"
		log "NATS node n$i ready"
		;;
	*) die "usage: $0 nats-node kill|start n1|n2|n3" ;;
	esac
}
# --- stop ---------------------------------------------------------------------

# stop_pid NAME PIDFILE PROC: TERM, wait, then KILL the process this script
# started.
stop_pid() {
	local name=$1 pidfile=$2 proc=$3 pid deadline
	if ! pid_alive "$pidfile" "$proc"; then
		rm -f "$pidfile"
		log "$name not running"
		return 0
	fi
	pid=$(cat "$pidfile")
	kill -TERM "$pid" 2>/dev/null || true
	deadline=$((SECONDS + 30))
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			log "$name (pid $pid) ignored TERM; killing"
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.2
	done
	rm -f "$pidfile"
	log "$name stopped"
}

cmd_start() {
	install_packages
	install_versitygw
	mkdir -p "$SERVICES_DIR"
	start_clickhouse
	start_redis
	start_s3
	start_nats_cluster
	start_clickhouse_cluster
}

cmd_stop() {
	stop_nats_cluster
	stop_clickhouse_cluster
	stop_pid versitygw "$SERVICES_DIR/s3/versitygw.pid" versitygw
	stop_pid Redis "$SERVICES_DIR/redis/redis.pid" redis-server
	stop_pid ClickHouse "$(ch_dir)/clickhouse.pid" clickhouse-server
}

cmd_status() {
	local rc=0
	if ch_ready; then log "ClickHouse up on $HOST:$CH_PORT"; else log "ClickHouse down"; rc=1; fi
	if redis_ready; then log "Redis up on $HOST:$REDIS_PORT"; else log "Redis down"; rc=1; fi
	if s3_ready; then log "versitygw up on $HOST:$S3_PORT"; else log "versitygw down"; rc=1; fi
	status_nats_cluster || rc=1
	status_clickhouse_cluster || rc=1
	return "$rc"
}

cmd_env() {
	cat <<EOF
export TEST_CLICKHOUSE_ADDR=$HOST:$CH_PORT
export TEST_CLICKHOUSE_HTTP_ADDR=$HOST:$CH_HTTP_PORT
export TEST_CLICKHOUSE_TLS_ADDR=$HOST:$CH_TLS_PORT
export TEST_CLICKHOUSE_CA_CERT=$(ch_dir)/tls/ca.crt
export TEST_CLICKHOUSE_PID_FILE=$(ch_dir)/clickhouse.pid
export TEST_REDIS_ADDR=$HOST:$REDIS_PORT
export TEST_S3_ENDPOINT=http://$HOST:$S3_PORT
export TEST_S3_ACCESS_KEY=$S3_ACCESS_KEY
export TEST_S3_SECRET_KEY=$S3_SECRET_KEY
export TEST_NATS_CLUSTER_URLS=$(nats_cluster_urls)
EOF
	env_clickhouse_cluster
}

cmd_clean() {
	cmd_stop
	case "$SERVICES_DIR" in
	"" | / | /tmp | /tmp/) die "refusing to delete SERVICES_DIR=$SERVICES_DIR" ;;
	esac
	rm -rf "$SERVICES_DIR"
	log "removed $SERVICES_DIR"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) cmd_env ;;
clean) cmd_clean ;;
nats-node) cmd_nats_node "${@:2}" ;;
*)
	printf 'usage: %s start|stop|status|env|clean\n' "$0" >&2
	exit 2
	;;
esac
