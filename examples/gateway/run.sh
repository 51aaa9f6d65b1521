#!/usr/bin/env bash
# The gateway example: nginx checks every request to a Node.js app with
# sessiond's /auth/verify (two nodes on one Redis) and sends browsers
# without a session to the sign-in page. Open the printed URL in a browser.
# Needs go, redis-server, nginx, node and python3 on PATH. Ctrl-C stops everything.
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
secret=$("$dir/sessionctl" clients add demo-gateway --clients "$dir/clients.json" 2>/dev/null)
rport=$(port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --logfile "$dir/redis.log" &
pids+=($!)
url="redis://127.0.0.1:$rport/0"
export SESAME_MASTER_KEY=${SESAME_MASTER_KEY:-$(head -c 32 /dev/urandom | base64)}

nodes=()
for i in 1 2; do
	p=$(port)
	mkdir -p "$dir/node$i"
	(cd "$dir/node$i" && exec "$dir/sessiond" --addr "127.0.0.1:$p" --redis "$url" --keyset "$url" --users "$dir/users.json" \
		--trusted-proxies 127.0.0.1 --insecure-cookies --introspection-clients "$dir/clients.json" --log-format text \
		>"$dir/node$i/out" 2>"$dir/node$i/log") &
	pids+=($!)
	nodes+=("127.0.0.1:$p")
done

app="127.0.0.1:$(port)"
node "$here/upstream.js" "$app" >"$dir/upstream.log" 2>&1 &
pids+=($!)

lport=$(port)
python3 - "$here/nginx.conf.tmpl" "$dir/nginx.conf" "$dir" "127.0.0.1:$lport" "${nodes[@]}" "$app" <<'PY'
import sys
t, out, d, listen, n1, n2, app = sys.argv[1:]
s = open(t).read()
for k, v in {"@DIR@": d, "@LISTEN@": listen, "@NODE1@": n1, "@NODE2@": n2, "@APP@": app}.items():
    s = s.replace(k, v)
open(out, "w").write(s)
PY
nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' &
pids+=($!)

echo "gateway: open http://127.0.0.1:$lport/hello in a browser; sign in as demo, password $pw"
echo "         (nodes ${nodes[*]}, app $app, redis $url, files in $dir)"
echo "introspection: curl -s -u demo-gateway:$secret -d token=ACCESS_TOKEN http://127.0.0.1:$lport/auth/introspect"
echo "Ctrl-C stops everything."
wait
