package sesametest

import (
	"net"
	"net/http"
	"testing"
	"time"
)

// FreeAddr returns a loopback address whose port was free when asked, for
// a process that must be told where to listen.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// DialFrom returns a transport whose connections leave from ip, a loopback
// address (Linux routes all of 127/8 to lo, so any of them can be bound):
// a client a server under test tells apart by its address. Its idle
// connections close when t ends.
func DialFrom(t testing.TB, ip string) *http.Transport {
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}).DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// NonLoopbackIP is an IPv4 address of this machine other than loopback (and
// not link-local), for requests that must not come from 127.0.0.1; the test
// is skipped when the machine has none.
func NonLoopbackIP(t testing.TB) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skip(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address on this machine")
	return ""
}
