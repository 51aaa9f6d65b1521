package main

import (
	"testing"
	"time"
)

func TestFlatness(t *testing.T) {
	mk := func(f func(i int) float64) []sample {
		var s []sample
		for i := range 20 {
			s = append(s, sample{at: time.Duration(i) * 10 * time.Second, values: map[string]float64{"n go_goroutines": f(i)}})
		}
		return s
	}
	for _, tc := range []struct {
		name string
		f    func(i int) float64
		flat bool
	}{
		{"constant", func(int) float64 { return 100 }, true},
		{"noisy", func(i int) float64 { return 100 + float64(i%3) }, true},
		{"spikes", func(i int) float64 { return map[bool]float64{true: 500, false: 100}[i%7 == 0] }, true},
		{"growing", func(i int) float64 { return 100 + 10*float64(i) }, false},
		{"warm-up only", func(i int) float64 { return min(100, float64(i)*50) }, true},
	} {
		v := flatness(mk(tc.f), 30*time.Second, load{clients: 2})
		if len(v) != 1 || v[0].flat != tc.flat {
			t.Errorf("%s: %+v, want flat %v", tc.name, v, tc.flat)
		}
	}
	if v := flatness(mk(func(int) float64 { return 1 })[:5], 30*time.Second, load{clients: 2}); len(v) != 1 || v[0].flat {
		t.Errorf("two samples after the warm-up: %+v, want not flat (too few)", v)
	}
}

func TestNext(t *testing.T) {
	c := newClient(1, "sesame", nil, time.Minute, nil)
	var n [nKinds]int
	loggedIn := true
	for range 99_000 {
		k := next(c.rng, loggedIn)
		n[k]++
		loggedIn = k != logout
	}
	// Per 100 requests: 90 reads, 8 refreshes, 1 login, 1 logout.
	total := n[read] + n[refresh] + n[login] + n[logout]
	for k, want := range map[kind]float64{read: 0.90, refresh: 0.08, login: 0.01, logout: 0.01} {
		got := float64(n[k]) / float64(total)
		if got < want*0.9 || got > want*1.1 {
			t.Errorf("%s: %.4f of requests, want %.2f", k, got, want)
		}
	}
}
