#!/usr/bin/env bash
# Requests/s through nginx with and without auth_request to sessiond's
# /auth/verify, and of /auth/verify alone, with wrk's settings of the other
# HTTP figures (-t2 -c64 -d5s). One sessiond on Redis; the upstream is an
# nginx location. Runs interleave (open, protected, verify; ROUNDS times)
# because the machine's speed drifts.
# Needs go, redis-server, nginx, wrk, curl and python3 on PATH.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
rounds=${ROUNDS:-3}
dir=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

(cd "$root" && go build -o "$dir/sessiond" ./cmd/sessiond && go build -o "$dir/sessionctl" ./cmd/sessionctl)
echo "bench-pw" | "$dir/sessionctl" users add bench --users "$dir/users.json" >/dev/null
rport=$(port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --logfile "$dir/redis.log" &
pids+=($!)
url="redis://127.0.0.1:$rport/0"
export SESAME_MASTER_KEY=$(head -c 32 /dev/urandom | base64)
s="127.0.0.1:$(port)"
(cd "$dir" && exec "$dir/sessiond" --addr "$s" --redis "$url" --keyset "$url" --users "$dir/users.json" \
	--trusted-proxies 127.0.0.1 --insecure-cookies --log-level error >"$dir/sessiond.out" 2>"$dir/sessiond.log") &
pids+=($!)
app="127.0.0.1:$(port)"
front="127.0.0.1:$(port)"
sed -e "s|@DIR@|$dir|g" -e "s|@LISTEN@|$front|g" -e "s|@SESSIOND@|$s|g" -e "s|@APP@|$app|g" \
	"$here/gateway-nginx.conf.tmpl" >"$dir/nginx.conf"
nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://$s/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

tok=$(curl -sf -X POST -H 'X-Session-Transport: header' -H 'Content-Type: application/json' \
	-d '{"username":"bench","password":"bench-pw"}' "http://$front/auth/login" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" "http://$front/protected/x")" = 200 ]
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$front/protected/x")" = 401 ]

run() { # name url
	out=$(wrk -t2 -c64 -d5s --latency -H "Authorization: Bearer $tok" "$2")
	rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
	p50=$(awk '$1=="50%" {print $2}' <<<"$out")
	p99=$(awk '$1=="99%" {print $2}' <<<"$out")
	non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
	printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$rps" "$p50" "$p99" "${non2xx:-0}"
}
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(cd "$root" && git rev-parse --short HEAD), nginx $(nginx -v 2>&1 | sed 's|.*/||'), wrk $(wrk -v 2>&1 | head -1 | grep -o '[0-9][0-9.]*' | head -1)"
printf 'way\trequests/s\tp50\tp99\tnon-2xx\n'
for _ in $(seq "$rounds"); do
	run "nginx, no auth" "http://$front/open/x"
	run "nginx + auth_request" "http://$front/protected/x"
	run "sessiond /auth/verify alone" "http://$s/auth/verify"
done
