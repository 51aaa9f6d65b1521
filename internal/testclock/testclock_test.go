package testclock

import (
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c := New(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("Now() = %v, want %v", got, start)
	}
	c.Advance(time.Minute)
	if got, want := c.Now(), start.Add(time.Minute); !got.Equal(want) {
		t.Errorf("after Advance: got %v, want %v", got, want)
	}
	c.Set(start)
	if got := c.Now(); !got.Equal(start) {
		t.Errorf("after Set: got %v, want %v", got, start)
	}
}

func TestOffset(t *testing.T) {
	var c Offset
	c.Advance(time.Hour)
	c.Advance(time.Hour)
	if got := c.Offset(); got != 2*time.Hour {
		t.Fatalf("Offset() = %v, want 2h", got)
	}
	before := time.Now().Add(2 * time.Hour)
	if got := c.Now(); got.Before(before) || got.After(time.Now().Add(2*time.Hour)) {
		t.Errorf("Now() = %v, want real time plus 2h", got)
	}
	c.Set(0)
	if got := c.Offset(); got != 0 {
		t.Errorf("after Set(0): Offset() = %v", got)
	}
}
