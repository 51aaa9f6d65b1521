#!/usr/bin/env bash
# run.sh — sesame vs. its peers: every in-process benchmark in
# interleaved rounds, the HTTP load test, and the tables.
#
#   bench/run.sh                      # default: 10 rounds × 1s, 5s load steps
#   ROUNDS=3 BENCHTIME=300ms LOAD_DURATION=2s bench/run.sh   # quick look
#
# It starts its own redis-server on a free loopback port (never the shared
# 127.0.0.1:6379), stops it at the end, and keeps the raw output in $OUT
# (a new temporary directory unless set).
set -euo pipefail
cd "$(dirname "$0")"

ROUNDS=${ROUNDS:-10}
BENCHTIME=${BENCHTIME:-1s}
LOAD_DURATION=${LOAD_DURATION:-5s}
LOAD_CLIENTS=${LOAD_CLIENTS:-16,64}
OUT=${OUT:-$(mktemp -d -t sesame-bench.XXXXXX)}
mkdir -p "$OUT"

BENCHSTAT=$(command -v benchstat || echo "$HOME/go/bin/benchstat")
if [[ ! -x $BENCHSTAT ]]; then
	go install golang.org/x/perf/cmd/benchstat@latest
	BENCHSTAT=$(go env GOPATH)/bin/benchstat
fi
command -v redis-server >/dev/null || { echo "run.sh: redis-server is required (apt-get install redis-server)" >&2; exit 1; }
command -v redis-cli >/dev/null || { echo "run.sh: redis-cli is required (apt-get install redis-tools)" >&2; exit 1; }

# --- our own redis-server --------------------------------------------------
REDIS_PID=
stop_redis() {
	if [[ -n $REDIS_PID ]]; then
		kill "$REDIS_PID" 2>/dev/null || true
		wait "$REDIS_PID" 2>/dev/null || true
		REDIS_PID=
	fi
}
trap stop_redis EXIT

start_redis() {
	local try port i
	for try in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 30000))
		[[ $port == 6379 ]] && continue
		redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no >"$OUT/redis.log" 2>&1 &
		REDIS_PID=$!
		for i in $(seq 100); do
			if ! kill -0 "$REDIS_PID" 2>/dev/null; then break; fi
			# PONG from *our* process: a port already taken by another
			# redis-server must not be mistaken for ours.
			if [[ $(redis-cli -p "$port" info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p') == "$REDIS_PID" ]]; then
				REDIS_ADDR=127.0.0.1:$port
				return 0
			fi
			sleep 0.1
		done
		stop_redis
	done
	echo "run.sh: could not start redis-server" >&2
	exit 1
}
start_redis
export BENCH_REDIS_ADDR=$REDIS_ADDR

# --- machine ---------------------------------------------------------------
{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	# BENCH_COMMIT names the commit when the tree is not a git checkout
	# (for example an exported snapshot).
	echo "commit: ${BENCH_COMMIT:-$(git -C .. rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C .. status --porcelain 2>/dev/null | grep -qv '^??' && echo ' (+ uncommitted changes)' || true)}"
	echo "go: $(go version)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc $(nproc)"
	echo "load before: $(uptime | sed 's/.*load average: //')"
	echo "redis: $(redis-server --version | cut -d' ' -f1-3) on $REDIS_ADDR"
	echo "rounds: $ROUNDS × -benchtime $BENCHTIME; load test: $LOAD_DURATION per step, clients $LOAD_CLIENTS"
} | tee "$OUT/machine.txt"

# --- in-process benchmarks, interleaved rounds -----------------------------
# One test binary; each round runs every benchmark once, appending to one
# file, so drift in machine load spreads over all ways alike.
go test -c -o "$OUT/bench.test" .
go vet ./... >/dev/null
for round in $(seq "$ROUNDS"); do
	echo "round $round/$ROUNDS" >&2
	(cd "$OUT" && ./bench.test -test.run XXX -test.bench . -test.benchtime "$BENCHTIME" -test.count 1) >>"$OUT/bench.txt"
done

# --- HTTP load test --------------------------------------------------------
go build -o "$OUT/loadgen" ./cmd/loadgen
"$OUT/loadgen" -redis "$REDIS_ADDR" -duration "$LOAD_DURATION" -clients "$LOAD_CLIENTS" >"$OUT/load.txt"
echo "load after: $(uptime | sed 's/.*load average: //')" | tee -a "$OUT/machine.txt"

stop_redis

# --- tables ----------------------------------------------------------------
echo
echo "== benchstat ($OUT/bench.txt)"
"$BENCHSTAT" "$OUT/bench.txt" | tee "$OUT/benchstat.txt"
echo
echo "== ratios and targets"
go run ./cmd/report "$OUT/bench.txt" | tee "$OUT/report.txt"
echo
echo "== HTTP load test"
cat "$OUT/load.txt"
echo
echo "raw output in $OUT"
