#!/usr/bin/env bash
# Three sessiond nodes behind nginx (round robin, upstream keep-alive)
# sharing one Redis. nginx appends the client's address to X-Forwarded-For,
# and the nodes trust it as the proxy (--trusted-proxies 127.0.0.1), so
# throttling and the session list see each client's own address.
# Needs go, redis-server, nginx and python3 on PATH. Ctrl-C stops everything.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib.sh"

fleet_setup
fleet_nodes 3
fleet_nginx "$here/nginx.conf.tmpl" "NODE1=${nodes[0]}" "NODE2=${nodes[1]}" "NODE3=${nodes[2]}"

echo "fleet: http://127.0.0.1:$lport  (nodes ${nodes[*]}, redis $url, files in $dir)"
echo "try:   curl -si --interface 127.0.0.2 -X POST -H 'X-Session-Transport: header' -H 'Content-Type: application/json' -d '{\"username\":\"demo\",\"password\":\"$pw\"}' http://127.0.0.1:$lport/auth/login"
echo "       (--interface: connect from a loopback address other than nginx's 127.0.0.1, which the nodes trust as the proxy;"
echo "       GET /auth/sessions with the access token then shows the session from 127.0.0.2)"
echo "Ctrl-C stops everything."
wait
