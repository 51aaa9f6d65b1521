package redisproc

import (
	"testing"
	"time"
)

func TestStartStop(t *testing.T) {
	s, err := Start(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr == "127.0.0.1:6379" {
		t.Errorf("started on the shared default port")
	}
	if err := ping(s.Addr); err != nil {
		t.Fatalf("ping after Start: %v", err)
	}
	s.Stop()
	s.Stop() // twice is fine
	if err := ping(s.Addr); err == nil {
		t.Fatal("server still answers after Stop")
	}
}
