#!/usr/bin/env bash
# The gateway example: nginx checks every request to a Node.js app with
# sessiond's /auth/verify (two nodes on one Redis) and sends browsers
# without a session to the sign-in page. Open the printed URL in a browser.
# Needs go, redis-server, nginx, node and python3 on PATH. Ctrl-C stops everything.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib.sh"

fleet_setup
secret=$("$dir/sessionctl" clients add demo-gateway --clients "$dir/clients.json" 2>/dev/null)
fleet_nodes 2 --introspection-clients "$dir/clients.json"

app="127.0.0.1:$(port)"
node "$here/upstream.js" "$app" >"$dir/upstream.log" 2>&1 &
pids+=($!)

fleet_nginx "$here/nginx.conf.tmpl" "NODE1=${nodes[0]}" "NODE2=${nodes[1]}" "APP=$app"

echo "gateway: open http://127.0.0.1:$lport/hello in a browser; sign in as demo, password $pw"
echo "         (nodes ${nodes[*]}, app $app, redis $url, files in $dir)"
echo "introspection: curl -s -u demo-gateway:$secret -d token=ACCESS_TOKEN http://127.0.0.1:$lport/auth/introspect"
echo "Ctrl-C stops everything."
wait
