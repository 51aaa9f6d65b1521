package redistest

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// replication is the part of a server's INFO replication the harness checks.
type replication struct {
	master bool
	// A replica's master (host:port) and whether its link is up, which it
	// is only once the initial sync has been loaded.
	upstream string
	linkUp   bool
	// A master's replicas in state online (host:port): the ones it has
	// finished feeding the initial sync and that WAIT counts.
	online []string
}

func replicationOf(ctx context.Context, n *Server) (replication, error) {
	cl := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1, DialTimeout: 500 * time.Millisecond,
		ReadTimeout: 500 * time.Millisecond})
	info, err := cl.Info(ctx, "replication").Result()
	cl.Close()
	if err != nil {
		return replication{}, fmt.Errorf("%s: %w", n.Addr(), err)
	}
	var r replication
	var host, port string
	for _, line := range strings.Split(info, "\r\n") {
		k, v, _ := strings.Cut(line, ":")
		switch {
		case k == "role":
			r.master = v == "master"
		case k == "master_host":
			host = v
		case k == "master_port":
			port = v
		case k == "master_link_status":
			r.linkUp = v == "up"
		case strings.HasPrefix(k, "slave") && strings.Contains(v, "state=online"):
			// slave0:ip=127.0.0.1,port=6380,state=online,offset=...,lag=0
			var ip, p string
			for _, f := range strings.Split(v, ",") {
				fk, fv, _ := strings.Cut(f, "=")
				switch fk {
				case "ip":
					ip = fv
				case "port":
					p = fv
				}
			}
			r.online = append(r.online, net.JoinHostPort(ip, p))
		}
	}
	if !r.master {
		r.upstream = net.JoinHostPort(host, port)
	}
	return r, nil
}

// replicasInSync checks that every replica among the running nodes has
// loaded its sync from a running master that counts it online, so a write to
// that master can be confirmed by WAIT. It returns each running master's
// online replica count, by address.
func replicasInSync(ctx context.Context, nodes []*Server) (map[string]int, error) {
	repl := make(map[string]replication, len(nodes))
	for _, n := range nodes {
		r, err := replicationOf(ctx, n)
		if err != nil {
			return nil, err
		}
		repl[n.Addr()] = r
	}
	online := map[string]int{}
	for addr, r := range repl {
		if r.master {
			online[addr] = len(r.online)
			continue
		}
		m, ok := repl[r.upstream]
		switch {
		case !ok:
			return nil, fmt.Errorf("%s: replica of %s, which does not run", addr, r.upstream)
		case !m.master:
			return nil, fmt.Errorf("%s: replica of %s, which is not a master", addr, r.upstream)
		case !r.linkUp:
			return nil, fmt.Errorf("%s: replica not in sync with %s", addr, r.upstream)
		case !slices.Contains(m.online, addr):
			return nil, fmt.Errorf("%s: master %s does not count its replica online yet", addr, r.upstream)
		}
	}
	return online, nil
}
