package main

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sesame-go/sesame/internal/sesametest"
)

// gatedWriter blocks every Write until the gate is closed: a log output
// that cannot keep up.
type gatedWriter struct {
	gate chan struct{}
	sesametest.LogBuffer
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	<-g.gate
	return g.LogBuffer.Write(p)
}

func TestLogWriterFlushesOnTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out sesametest.LogBuffer
		w := newLogWriter(&out, 4096, time.Second)
		defer w.Close()
		w.shed().Write([]byte("a\n"))
		w.keep().Write([]byte("b\n"))
		synctest.Wait()
		if got := out.String(); got != "" {
			t.Fatalf("access lines written before the flush interval: %q", got)
		}
		time.Sleep(time.Second) // the bubble's clock: no real waiting
		synctest.Wait()
		if got := out.String(); got != "a\nb\n" {
			t.Errorf("after the flush interval: %q, want %q", got, "a\nb\n")
		}
	})
}

func TestLogWriterWritesOtherLinesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out sesametest.LogBuffer
		w := newLogWriter(&out, 4096, time.Hour)
		defer w.Close()
		w.shed().Write([]byte("request\n"))
		w.Write([]byte("security event\n"))
		synctest.Wait()
		if got, want := out.String(), "request\nsecurity event\n"; got != want {
			t.Errorf("got %q, want %q: a line that is not an access line goes out at once, with those before it", got, want)
		}
	})
}

func TestLogWriterFlushesWhenHalfFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out sesametest.LogBuffer
		w := newLogWriter(&out, 4096, time.Hour)
		defer w.Close()
		line := []byte(strings.Repeat("x", 99) + "\n")
		for range 21 { // 2100 bytes: past half
			w.shed().Write(line)
		}
		synctest.Wait()
		if got := len(out.String()); got != 2100 {
			t.Errorf("%d bytes written, want 2100: a half-full buffer is written without waiting for the timer", got)
		}
		if w.Dropped() != 0 {
			t.Errorf("%d lines dropped, want 0", w.Dropped())
		}
	})
}

// TestLogWriterOverload stalls the output: successful requests' lines are
// dropped and counted once the buffer is full, an error's line waits for
// room and is written, memory stays within the two buffers, and the
// order of the lines kept is the order they were written in.
func TestLogWriterOverload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &gatedWriter{gate: make(chan struct{})}
		const size = 4096
		w := newLogWriter(out, size, time.Second)
		stalled := true
		defer func() {
			if stalled {
				close(out.gate)
			}
		}()
		line := func(i int) []byte { return fmt.Appendf(nil, "line %04d %s\n", i, strings.Repeat("x", 89)) } // 100 bytes

		// The first half-buffer goes to the (stalled) output; the next
		// 40 lines fill the other buffer; the rest are dropped.
		for i := range 21 {
			w.shed().Write(line(i))
		}
		synctest.Wait() // the flusher holds 21 lines, blocked writing them
		for i := 21; i < 100; i++ {
			w.shed().Write(line(i))
		}
		dropped := w.Dropped()
		if dropped != 39 {
			t.Errorf("%d lines dropped with the output stalled, want 39", dropped)
		}
		w.mu.Lock()
		held := cap(w.buf) + cap(w.spare)
		w.mu.Unlock()
		if held > size {
			t.Errorf("%d bytes buffered besides the one being written, want at most %d", held, size)
		}

		kept := make(chan struct{})
		go func() {
			w.keep().Write([]byte(strings.Repeat("e", 99) + "\n"))
			close(kept)
		}()
		synctest.Wait()
		select {
		case <-kept:
			t.Fatal("an error's line was accepted into a full buffer (or dropped)")
		default:
		}

		close(out.gate) // the output catches up
		stalled = false
		<-kept
		w.Close()
		got := out.String()
		if !strings.HasSuffix(got, strings.Repeat("e", 99)+"\n") {
			t.Errorf("the error's line is not the last written:\n%s", got)
		}
		n := strings.Count(got, "\n") - 1
		if uint64(n)+dropped != 100 {
			t.Errorf("%d lines written + %d dropped, want 100", n, dropped)
		}
		prev := -1
		for l := range strings.Lines(got) {
			var i int
			if _, err := fmt.Sscanf(l, "line %d", &i); err != nil {
				continue
			}
			if i <= prev {
				t.Errorf("line %d after line %d", i, prev)
			}
			prev = i
		}
	})
}

func TestLogWriterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out sesametest.LogBuffer
		w := newLogWriter(&out, 4096, time.Hour)
		w.shed().Write([]byte("a\n"))
		w.keep().Write([]byte("b\n"))
		w.Close()
		if got := out.String(); got != "a\nb\n" {
			t.Errorf("after Close: %q, want every buffered line", got)
		}
		w.shed().Write([]byte("c\n"))
		if got := out.String(); got != "a\nb\nc\n" {
			t.Errorf("a line after Close: %q, want it written at once", got)
		}
		w.Close() // twice is fine
	})
}
