#!/usr/bin/env bash
# Three sessiond nodes behind nginx (round robin, upstream keep-alive)
# sharing one Redis. nginx appends the client's address to X-Forwarded-For,
# and the nodes trust it as the proxy (--trusted-proxies 127.0.0.1), so
# throttling and the session list see each client's own address.
# Needs go, redis-server, nginx and python3 on PATH. Ctrl-C stops everything.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
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

(cd "$root" && go build -o "$dir/sessiond" ./cmd/sessiond && go build -o "$dir/sessionctl" ./cmd/sessionctl)
pw=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
echo "$pw" | "$dir/sessionctl" users add demo --users "$dir/users.json" >/dev/null
rport=$(port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --logfile "$dir/redis.log" &
pids+=($!)
url="redis://127.0.0.1:$rport/0"
export SESAME_MASTER_KEY=${SESAME_MASTER_KEY:-$(head -c 32 /dev/urandom | base64)}

nodes=()
for i in 1 2 3; do
	p=$(port)
	mkdir -p "$dir/node$i"
	(cd "$dir/node$i" && exec "$dir/sessiond" --addr "127.0.0.1:$p" --redis "$url" --keyset "$url" --users "$dir/users.json" \
		--trusted-proxies 127.0.0.1 --insecure-cookies --log-format text >"$dir/node$i/out" 2>"$dir/node$i/log") &
	pids+=($!)
	nodes+=("127.0.0.1:$p")
done

lport=$(port)
python3 - "$here/nginx.conf.tmpl" "$dir/nginx.conf" "$dir" "127.0.0.1:$lport" "${nodes[@]}" <<'PY'
import sys
t, out, d, listen, n1, n2, n3 = sys.argv[1:]
s = open(t).read()
for k, v in {"@DIR@": d, "@LISTEN@": listen, "@NODE1@": n1, "@NODE2@": n2, "@NODE3@": n3}.items():
    s = s.replace(k, v)
open(out, "w").write(s)
PY
nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' &
pids+=($!)

echo "fleet: http://127.0.0.1:$lport  (nodes ${nodes[*]}, redis $url, files in $dir)"
echo "try:   curl -si --interface 127.0.0.2 -X POST -H 'X-Session-Transport: header' -H 'Content-Type: application/json' -d '{\"username\":\"demo\",\"password\":\"$pw\"}' http://127.0.0.1:$lport/auth/login"
echo "       (--interface: connect from a loopback address other than nginx's 127.0.0.1, which the nodes trust as the proxy;"
echo "       GET /auth/sessions with the access token then shows the session from 127.0.0.2)"
echo "Ctrl-C stops everything."
wait
