package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// target is a server under test; a client is one logged-in session on it.
type target interface {
	name() string
	base() string
	login(c *http.Client) (client, error)
	close()
}

type client interface {
	// do sends one request of route on lc, the client's own connection, and
	// reports whether it succeeded.
	do(lc *leanConn, route string) error
}

type result struct {
	server, route string
	clients, n    int
	errors        int
	rps           float64
	p50, p99      time.Duration
}

func measure(cfg config, s target, route string, n int) (result, error) {
	tr := &http.Transport{MaxIdleConns: n, MaxIdleConnsPerHost: n, DisableCompression: true, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	cls := make([]client, n)
	for i := range cls {
		c, err := s.login(hc)
		if err != nil {
			return result{}, err
		}
		cls[i] = c
	}
	tr.CloseIdleConnections() // the logins' connections; requests go on conns
	conns := make([]*leanConn, n)
	defer func() {
		for _, lc := range conns {
			if lc != nil {
				lc.close()
			}
		}
	}()
	for i := range conns {
		conns[i] = &leanConn{addr: hostPort(s.base())}
		if err := conns[i].dial(); err != nil {
			return result{}, err
		}
	}
	loop := func(d time.Duration, record bool) ([][]time.Duration, []int) {
		lat := make([][]time.Duration, n)
		errs := make([]int, n)
		deadline := time.Now().Add(d)
		var wg sync.WaitGroup
		for i := range cls {
			wg.Go(func() {
				if record {
					lat[i] = make([]time.Duration, 0, 4096)
				}
				for k := 0; k < cfg.maxRequests; k++ {
					t0 := time.Now()
					if t0.After(deadline) {
						return
					}
					err := cls[i].do(conns[i], route)
					if err != nil {
						errs[i]++
					}
					if record {
						lat[i] = append(lat[i], time.Since(t0))
					}
				}
			})
		}
		wg.Wait()
		return lat, errs
	}
	if cfg.warmup > 0 {
		loop(cfg.warmup, false)
	}
	start := time.Now()
	lat, errs := loop(cfg.duration, true)
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	slices.Sort(all)
	res := result{server: s.name(), route: route, clients: n, n: len(all)}
	for _, e := range errs {
		res.errors += e
	}
	if len(all) == 0 {
		return res, errors.New("no requests completed")
	}
	res.rps = float64(len(all)) / elapsed.Seconds()
	res.p50 = all[len(all)*50/100]
	res.p99 = all[min(len(all)-1, len(all)*99/100)]
	return res, nil
}

func serve(h http.Handler) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	return "http://" + l.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

func drain(resp *http.Response) {
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
