#!/usr/bin/env bash
# Requests/s through nginx with and without auth_request to sessiond's
# /auth/verify, and of /auth/verify alone, with wrk's settings of the other
# HTTP figures (-t2 -c64 -d5s). One sessiond on Redis; the upstream is an
# nginx location. Runs interleave (open, protected, verify; ROUNDS times)
# because the machine's speed drifts.
# Needs go, redis-server, nginx, wrk, curl and python3 on PATH.
here=$(cd "$(dirname "$0")" && pwd)
rounds=${ROUNDS:-3}
source "$here/../examples/lib.sh" # dir, port, the Redis, sessiond and nginx start-up

fleet_setup
fleet_nodes 1 --log-level error
s=${nodes[0]}
app="127.0.0.1:$(port)"
fleet_nginx "$here/gateway-nginx.conf.tmpl" "SESSIOND=$s" "APP=$app"
front="127.0.0.1:$lport"
for _ in $(seq 100); do curl -sf "http://$s/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

tok=$(curl -sf -X POST -H 'X-Session-Transport: header' -H 'Content-Type: application/json' \
	-d "{\"username\":\"demo\",\"password\":\"$pw\"}" "http://$front/auth/login" |
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
