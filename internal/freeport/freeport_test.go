package freeport_test

import (
	"errors"
	"net"
	"strconv"
	"testing"

	"github.com/sesame-go/sesame/internal/freeport"
)

func TestStartRetriesOnANewPort(t *testing.T) {
	var tried []int
	taken := errors.New("address already in use")
	port, err := freeport.Start(func(p int) error {
		tried = append(tried, p)
		if len(tried) < 3 {
			return taken
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			return err
		}
		return l.Close()
	})
	if err != nil || len(tried) != 3 || port != tried[2] || port == 0 {
		t.Fatalf("Start = %d, %v after trying %v; want the third port", port, err, tried)
	}
}

func TestStartGivesUp(t *testing.T) {
	n := 0
	taken := errors.New("address already in use")
	if _, err := freeport.Start(func(int) error { n++; return taken }); !errors.Is(err, taken) || n != freeport.Attempts {
		t.Fatalf("Start returned %v after %d tries, want the start error after %d", err, n, freeport.Attempts)
	}
}
