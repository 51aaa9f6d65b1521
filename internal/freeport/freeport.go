// Package freeport starts servers on free loopback ports, for the test
// harnesses and the benchmarks that run real redis-server, dynalite and
// sessiond processes.
package freeport

import (
	"fmt"
	"net"
)

// Attempts is how many ports Start tries.
const Attempts = 5

// Start asks the kernel for a free loopback port and calls start with it.
// Another process can take the port between the probe and the server's
// bind, so a failed start is tried again on a new port, up to Attempts
// times. It returns the port that worked, or start's last error.
func Start(start func(port int) error) (int, error) {
	var last error
	for range Attempts {
		port, err := probe()
		if err != nil {
			return 0, err
		}
		if last = start(port); last == nil {
			return port, nil
		}
	}
	return 0, last
}

func probe() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
