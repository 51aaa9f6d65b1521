package main

import (
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// logWriter buffers log lines in memory and writes them to out from one
// goroutine, in large writes: when the buffer is half full, every
// --log-flush-interval, at once after a line that is not an access log
// line (start-up, security events, errors), and on Close.
//
// Why: one synchronous write(2) per request on stderr cost sessiond about a
// third of its throughput (BENCHMARKS.md, "Access log cost"). Buffered, a
// request's line costs a copy into memory, and the system call is shared
// by thousands of lines.
//
// Memory is bounded: two buffers of size bytes, one filling while the
// other is written (a single line longer than size takes its own length).
// When out cannot keep up and the filling buffer is full, a line written
// through [logWriter.shed] (a successful, fast request's access line) is
// dropped and counted in dropped; every other line waits for room, so
// errors, slow requests and security events are never lost, and under a
// stalled out the requests that log them wait rather than memory growing.
//
// Lines keep the order in which they were written. Write, shed and Close
// may be called concurrently.
type logWriter struct {
	out  io.Writer
	size int

	mu     sync.Mutex
	room   sync.Cond // signalled when the flusher takes the filling buffer
	buf    []byte    // the filling buffer
	spare  []byte    // the other one; nil while the flusher writes it
	closed bool

	closeOnce sync.Once

	kick    chan struct{} // wakes the flusher; capacity 1
	stop    chan struct{}
	done    chan struct{}
	dropped atomic.Uint64
}

// newLogWriter starts a logWriter of two size-byte buffers, flushing at
// least every interval; Close stops it.
func newLogWriter(out io.Writer, size int, interval time.Duration) *logWriter {
	w := &logWriter{
		out:   out,
		size:  size,
		buf:   make([]byte, 0, size),
		spare: make([]byte, 0, size),
		kick:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	w.room.L = &w.mu
	go w.run(interval)
	return w
}

// Write buffers p, waiting for room when the buffer is full, and has it
// written at once. It is for every line but access log lines.
func (w *logWriter) Write(p []byte) (int, error) { return w.write(p, false, true) }

// keep buffers an access log line that must not be dropped (an error or a
// slow request), waiting for room when the buffer is full.
func (w *logWriter) keep() io.Writer {
	return writerFunc(func(p []byte) (int, error) { return w.write(p, false, false) })
}

// shed buffers an access log line that may be dropped when the buffer is
// full; a dropped line is counted.
func (w *logWriter) shed() io.Writer {
	return writerFunc(func(p []byte) (int, error) { return w.write(p, true, false) })
}

// Dropped is the number of lines dropped so far.
func (w *logWriter) Dropped() uint64 { return w.dropped.Load() }

func (w *logWriter) write(p []byte, droppable, urgent bool) (int, error) {
	w.mu.Lock()
	for !w.closed && len(w.buf) > 0 && len(w.buf)+len(p) > w.size {
		if droppable {
			w.mu.Unlock()
			w.dropped.Add(1)
			w.wake()
			return len(p), nil
		}
		w.wake()
		w.room.Wait()
	}
	if w.closed { // after Close: straight through, still in order
		defer w.mu.Unlock()
		return w.out.Write(p)
	}
	w.buf = append(w.buf, p...)
	full := len(w.buf) >= w.size/2
	w.mu.Unlock()
	if urgent || full {
		w.wake()
	}
	return len(p), nil
}

func (w *logWriter) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *logWriter) run(interval time.Duration) {
	defer close(w.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-w.kick:
		case <-t.C:
		}
		w.flush()
	}
}

// flush writes the filling buffer out, while writers fill the other. Only
// the flusher goroutine (or Close, once it has stopped) calls it.
func (w *logWriter) flush() {
	w.mu.Lock()
	b := w.buf
	if len(b) == 0 {
		w.mu.Unlock()
		return
	}
	w.buf, w.spare = w.spare, nil
	w.room.Broadcast()
	w.mu.Unlock()

	w.out.Write(b) // nowhere to report a failed log write

	if cap(b) > 2*w.size { // grown by one oversized line: give it back
		b = make([]byte, 0, w.size)
	}
	w.mu.Lock()
	w.spare = b[:0]
	w.mu.Unlock()
}

// Close writes every buffered line and stops the flusher; lines written
// after Close go straight to out. It returns once they are written.
func (w *logWriter) Close() error {
	w.closeOnce.Do(func() {
		close(w.stop)
		<-w.done
		w.mu.Lock()
		defer w.mu.Unlock()
		w.closed = true
		w.room.Broadcast()
		if len(w.buf) > 0 {
			w.out.Write(w.buf) // under mu: lines written after Close follow it
		}
		w.buf, w.spare = nil, nil
	})
	return nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
