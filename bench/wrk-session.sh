#!/usr/bin/env bash
# wrk-session.sh — GET /auth/session from outside with wrk: sessiond (the
# binary, as the README starts it, distributed mode on a local
# redis-server) against a bare server doing the same job (the ceiling) and
# peer servers, interleaved in rounds, each server in its own process.
#
#   bench/wrk-session.sh                         # 5 rounds × 10 s per server
#   ROUNDS=3 DURATION=5s bench/wrk-session.sh    # quicker
#   BEFORE=75dfd9b bench/wrk-session.sh          # also sessiond built at that commit
#   VARIANTS="sessiond-unbuffered:SESAME_LOG_BUFFER=0" bench/wrk-session.sh
#
# Servers, in the order of each round: the ceiling (bench/cmd/peers
# -server ceiling), the same ceiling sent sessiond's request (its
# Authorization header: a bearer token of some 330 bytes, which the server
# must read and parse even if it ignores it), sessiond with its default flags, sessiond with
# SESAME_LOG_LEVEL=warn (no access log), each VARIANTS entry (name:ENV=VALUE,...),
# sessiond at BEFORE, gorilla/sessions CookieStore and scs + redisstore
# (bench/cmd/peers). Every sessiond's stderr (its logs) goes through a pipe
# to a reader that appends it to a file (cat), as under a container runtime
# or systemd, which read a service's stderr from a pipe or socket;
# LOG_SINK=file writes it to the file directly. The line and byte counts
# are printed at the end.
#
# Besides req/s, it reads each server's CPU time (utime + stime in
# /proc/PID/stat) around each wrk run: CPU per request is much less
# disturbed than throughput by other work on the machine, and the
# ceiling's CPU per request over a server's is its share of the ceiling's
# capacity when CPU is the limit.
#
# wrk: -t2 -c32 (THREADS, CONNECTIONS), loopback. It starts its own
# redis-server on a free port (never the shared 127.0.0.1:6379) and stops
# everything it started at the end. Raw output in $OUT.
set -euo pipefail
cd "$(dirname "$0")"
BENCH=$PWD

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
BEFORE=${BEFORE:-}
VARIANTS=${VARIANTS:-}
LOG_SINK=${LOG_SINK:-pipe}
OUT=${OUT:-$(mktemp -d -t sesame-wrk.XXXXXX)}
mkdir -p "$OUT"

for cmd in wrk redis-server redis-cli curl jq; do
	command -v $cmd >/dev/null || { echo "wrk-session.sh: $cmd is required (apt-get install wrk redis-server redis-tools curl jq)" >&2; exit 1; }
done

PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# --- binaries ---------------------------------------------------------------
(cd .. && go build -o "$OUT/bin/sessiond" ./cmd/sessiond)
go build -o "$OUT/bin/peers" ./cmd/peers
if [[ -n $BEFORE ]]; then
	mkdir -p "$OUT/src-before"
	git -C .. archive "$BEFORE" | tar -x -C "$OUT/src-before"
	(cd "$OUT/src-before" && go build -o "$OUT/bin/sessiond-before" ./cmd/sessiond)
fi

# --- our own redis-server -----------------------------------------------------
start_redis() {
	local try port i pid
	for try in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 30000))
		[[ $port == 6379 ]] && continue
		redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no >"$OUT/redis.log" 2>&1 &
		pid=$!
		for i in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			if [[ $(redis-cli -p "$port" info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p') == "$pid" ]]; then
				PIDS+=("$pid")
				REDIS_ADDR=127.0.0.1:$port
				return 0
			fi
			sleep 0.1
		done
		kill "$pid" 2>/dev/null || true
	done
	echo "wrk-session.sh: could not start redis-server" >&2
	exit 1
}
start_redis

# --- servers ------------------------------------------------------------------
NAMES=()
declare -A URL HDR LOG PID

# start_sessiond NAME BINARY [ENV=VALUE ...] — on a free port of its own
# (the "listening" line is INFO, absent at SESAME_LOG_LEVEL=warn), ready
# once /readyz answers 200.
start_sessiond() {
	local name=$1 bin=$2 dir=$OUT/$1 i port pid try
	shift 2
	mkdir -p "$dir"
	for try in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 30000))
		ss -ltn 2>/dev/null | grep -q ":$port " && continue
		if [[ $LOG_SINK == pipe ]]; then
			(cd "$dir" && exec env "$@" "$bin" --addr "127.0.0.1:$port" --redis "redis://$REDIS_ADDR/0" >"$dir/stdout" 2> >(exec cat >"$dir/stderr")) &
		else
			(cd "$dir" && exec env "$@" "$bin" --addr "127.0.0.1:$port" --redis "redis://$REDIS_ADDR/0" >"$dir/stdout" 2>"$dir/stderr") &
		fi
		pid=$!
		for i in $(seq 300); do
			kill -0 "$pid" 2>/dev/null || break
			if curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
				PIDS+=("$pid")
				PID[$name]=$pid
				URL[$name]=http://127.0.0.1:$port
				LOG[$name]=$dir/stderr
				NAMES+=("$name")
				return 0
			fi
			sleep 0.1
		done
		kill "$pid" 2>/dev/null || true
	done
	echo "wrk-session.sh: $name did not start:" >&2
	cat "$dir/stderr" >&2
	exit 1
}

# login NAME: a fresh access token for sessiond NAME (header transport).
login() {
	local name=$1 pw tok
	pw=$(sed -n 's/.*password \([^ ]*\) .*/\1/p' "$OUT/$name/stdout")
	tok=$(curl -sf -X POST -H 'Content-Type: application/json' -H 'X-Session-Transport: header' \
		-d "{\"username\":\"demo\",\"password\":\"$pw\"}" "${URL[$name]}/auth/login" | jq -r .access_token)
	[[ -n $tok && $tok != null ]] || { echo "wrk-session.sh: login on $name failed" >&2; exit 1; }
	HDR[$name]="Authorization: Bearer $tok"
}

start_peer() {
	local name=$1 server=$2 out
	"$OUT/bin/peers" -server "$server" -redis "$REDIS_ADDR" >"$OUT/$name.out" 2>&1 &
	PIDS+=("$!")
	PID[$name]=$!
	for i in $(seq 100); do
		[[ $(wc -l <"$OUT/$name.out") -ge 2 ]] && break
		sleep 0.1
	done
	URL[$name]=$(sed -n 1p "$OUT/$name.out")
	HDR[$name]=$(sed -n 2p "$OUT/$name.out")
	[[ ${URL[$name]} == http* ]] || { echo "wrk-session.sh: peer $name did not start" >&2; cat "$OUT/$name.out" >&2; exit 1; }
	NAMES+=("$name")
}

start_peer ceiling ceiling
NAMES+=("ceiling+token")
URL[ceiling+token]=${URL[ceiling]}
PID[ceiling+token]=${PID[ceiling]}
start_sessiond sessiond "$OUT/bin/sessiond"
start_sessiond sessiond-warn "$OUT/bin/sessiond" SESAME_LOG_LEVEL=warn
for v in $VARIANTS; do
	IFS=, read -ra envs <<<"${v#*:}"
	start_sessiond "${v%%:*}" "$OUT/bin/sessiond" "${envs[@]}"
done
if [[ -n $BEFORE ]]; then
	start_sessiond "sessiond@$BEFORE" "$OUT/bin/sessiond-before"
fi
start_peer gorilla gorilla
start_peer scs scs

# --- machine --------------------------------------------------------------------
{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "commit: $(git -C .. rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C .. status --porcelain 2>/dev/null | grep -qv '^??' && echo ' (+ uncommitted changes)' || true)"
	echo "go: $(go version)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc $(nproc)"
	echo "load before: $(uptime | sed 's/.*load average: //')"
	echo "wrk: $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2) -t$THREADS -c$CONNECTIONS -d$DURATION; redis: $REDIS_ADDR; rounds: $ROUNDS"
} | tee "$OUT/machine.txt"

# --- rounds ---------------------------------------------------------------------
# cpu PID: CPU time of the process so far, in clock ticks.
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICKS=$(getconf CLK_TCK)

declare -A RPS CPUREQ
for round in $(seq "$ROUNDS"); do
	login sessiond
	HDR[ceiling+token]=${HDR[sessiond]}
	for name in "${NAMES[@]}"; do
		[[ $name == sessiond* ]] && login "$name"
		args=(-t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency)
		[[ -n ${HDR[$name]} ]] && args+=(-H "${HDR[$name]}")
		c0=$(cpu "${PID[$name]}")
		wrk "${args[@]}" "${URL[$name]}/auth/session" >"$OUT/wrk-$round-$name.txt"
		c1=$(cpu "${PID[$name]}")
		rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$OUT/wrk-$round-$name.txt")
		reqs=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$OUT/wrk-$round-$name.txt")
		CPUREQ[$round,$name]=$(echo "$c0 $c1 $reqs $TICKS" | awk '{printf "%.2f", ($2-$1)/$4*1e6/$3}')
		if grep -q 'Non-2xx' "$OUT/wrk-$round-$name.txt"; then
			echo "wrk-session.sh: $name answered non-2xx in round $round:" >&2
			cat "$OUT/wrk-$round-$name.txt" >&2
			exit 1
		fi
		RPS[$round,$name]=$rps
		echo "round $round $name $rps req/s, ${CPUREQ[$round,$name]} µs CPU per request" >&2
	done
done
echo "load after: $(uptime | sed 's/.*load average: //')" | tee -a "$OUT/machine.txt"

# --- table ----------------------------------------------------------------------
{
	printf '| server |'
	for round in $(seq "$ROUNDS"); do printf ' round %d req/s (share) |' "$round"; done
	printf ' median share |\n|---|'
	for round in $(seq "$ROUNDS"); do printf -- '--:|'; done
	printf -- '--:|\n'
	for name in "${NAMES[@]}"; do
		printf '| %s |' "$name"
		shares=()
		for round in $(seq "$ROUNDS"); do
			share=$(echo "${RPS[$round,$name]} ${RPS[$round,ceiling]}" | awk '{printf "%.2f", $1/$2}')
			shares+=("$share")
			printf ' %s (%s) |' "$(printf '%.0f' "${RPS[$round,$name]}")" "$share"
		done
		printf ' %s |\n' "$(printf '%s\n' "${shares[@]}" | sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.2f", (a[NR/2]+a[NR/2+1])/2}')"
	done
	echo
	printf '| server |'
	for round in $(seq "$ROUNDS"); do printf ' round %d µs CPU/req (share) |' "$round"; done
	printf ' median share |\n|---|'
	for round in $(seq "$ROUNDS"); do printf -- '--:|'; done
	printf -- '--:|\n'
	for name in "${NAMES[@]}"; do
		printf '| %s |' "$name"
		shares=()
		for round in $(seq "$ROUNDS"); do
			share=$(echo "${CPUREQ[$round,ceiling]} ${CPUREQ[$round,$name]}" | awk '{printf "%.2f", $1/$2}')
			shares+=("$share")
			printf ' %s (%s) |' "${CPUREQ[$round,$name]}" "$share"
		done
		printf ' %s |\n' "$(printf '%s\n' "${shares[@]}" | sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.2f", (a[NR/2]+a[NR/2+1])/2}')"
	done
	echo
	for name in "${NAMES[@]}"; do
		[[ -n ${LOG[$name]:-} ]] || continue
		echo "$name log: $(wc -l <"${LOG[$name]}") lines, $(wc -c <"${LOG[$name]}") bytes; dropped lines: $(curl -s "${URL[$name]}/metrics" | sed -n 's/^sesame_log_lines_dropped_total //p')"
	done
} | tee "$OUT/table.md"
echo "raw output in $OUT"
