package main

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/internal/redistest"
)

// TestRedisMetrics: commands are labelled from the fixed set, and only real
// failures count as errors.
func TestRedisMetrics(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	m := newRedisMetrics()
	c := srv.Client()
	c.AddHook(m)
	ctx := context.Background()

	c.Get(ctx, "missing")                                           // redis.Nil: an answer
	c.EvalSha(ctx, "0000000000000000000000000000000000000000", nil) // NOSCRIPT
	c.XInfoStream(ctx, "missing")                                   // ERR no such key: an answer
	c.FlushAll(ctx)                                                 // not in the set: "other"
	c.HGetAll(ctx, "h")
	c.Set(ctx, "s", "v", 0)
	c.HGetAll(ctx, "s") // WRONGTYPE: a failure
	c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Get(ctx, "missing")
		p.HGetAll(ctx, "s") // WRONGTYPE inside a pipeline
		return nil
	})
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	c.Get(canceled, "x") // canceled by the caller: not a failure

	for _, tc := range []struct {
		command string
		errs    float64
	}{
		{"get", 0}, {"evalsha", 0}, {"xinfo", 0}, {"other", 0}, {"hgetall", 2}, {"set", 0}, {"pipeline", 0},
	} {
		var d dto.Metric
		if err := m.errs.WithLabelValues(tc.command).Write(&d); err != nil {
			t.Fatal(err)
		}
		if got := d.GetCounter().GetValue(); got != tc.errs {
			t.Errorf("errors{command=%q} = %v, want %v", tc.command, got, tc.errs)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range fams {
		for _, mt := range f.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if !m.known[lp.GetValue()] && lp.GetValue() != otherCommand && lp.GetValue() != pipelineCommand {
					t.Errorf("%s{command=%q}: not in the fixed set", f.GetName(), lp.GetValue())
				}
				if f.GetName() == "sesame_redis_command_duration_seconds" {
					seen[lp.GetValue()] = true
				}
			}
		}
	}
	for _, c := range []string{"get", "evalsha", "xinfo", "other", "pipeline"} {
		if !seen[c] {
			t.Errorf("no duration observed for %q (saw %v)", c, seen)
		}
	}
}
