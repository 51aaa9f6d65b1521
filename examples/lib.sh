# Shared by the examples' run.sh scripts (sourced, not run): one Redis, a
# few sessiond nodes and nginx, each on a free loopback port, all stopped and
# their files removed when the script exits. Needs go, redis-server, nginx and
# python3 on PATH.
#
#   fleet_setup                 builds sessiond and sessionctl, adds the user
#                               demo, starts Redis; sets dir, pw and url
#   fleet_nodes N FLAG...       starts N sessiond nodes on that Redis with the
#                               given extra flags; their addresses go in nodes
#   fleet_nginx TEMPLATE K=V... writes $dir/nginx.conf from TEMPLATE with
#                               @DIR@, @LISTEN@ and each @K@ replaced, and
#                               starts nginx on it; sets lport
#   port                        prints a free loopback port
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

fleet_setup() {
	(cd "$root" && go build -o "$dir/sessiond" ./cmd/sessiond && go build -o "$dir/sessionctl" ./cmd/sessionctl)
	pw=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
	echo "$pw" | "$dir/sessionctl" users add demo --users "$dir/users.json" >/dev/null
	local rport
	rport=$(port)
	redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --logfile "$dir/redis.log" &
	pids+=($!)
	url="redis://127.0.0.1:$rport/0"
	export SESAME_MASTER_KEY=${SESAME_MASTER_KEY:-$(head -c 32 /dev/urandom | base64)}
}

fleet_nodes() {
	local n=$1 i p
	shift
	nodes=()
	for i in $(seq "$n"); do
		p=$(port)
		mkdir -p "$dir/node$i"
		(cd "$dir/node$i" && exec "$dir/sessiond" --addr "127.0.0.1:$p" --redis "$url" --keyset "$url" --users "$dir/users.json" \
			--trusted-proxies 127.0.0.1 --insecure-cookies --log-format text "$@" >"$dir/node$i/out" 2>"$dir/node$i/log") &
		pids+=($!)
		nodes+=("127.0.0.1:$p")
	done
}

fleet_nginx() {
	local tmpl=$1
	shift
	lport=$(port)
	python3 - "$tmpl" "$dir/nginx.conf" "DIR=$dir" "LISTEN=127.0.0.1:$lport" "$@" <<'PY'
import sys
tmpl, out, *pairs = sys.argv[1:]
s = open(tmpl).read()
for kv in pairs:
    k, v = kv.split("=", 1)
    s = s.replace("@" + k + "@", v)
open(out, "w").write(s)
PY
	nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' &
	pids+=($!)
}
