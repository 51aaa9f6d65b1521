package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sesame-go/sesame/auth"
)

// leanConn is one client's keep-alive HTTP/1.1 connection to a server. One
// goroutine uses it: it writes a request and reads the whole response on
// that goroutine, then the next request goes on the same connection. No
// goroutine runs per connection or per request.
type leanConn struct {
	addr     string // host:port
	nc       net.Conn
	br       *bufio.Reader
	deadline time.Time // nc's read and write deadline
}

const (
	requestTimeout = 10 * time.Second // as the net/http.Client of the logins
	maxBody        = 1 << 20
)

// errServerClosed: the server answered but closed the connection (or will):
// the request counts as failed and the next one dials again.
var errServerClosed = errors.New("server closed the connection")

// hostPort is the host:port of a server's "http://host:port" base URL.
func hostPort(base string) string { return strings.TrimPrefix(base, "http://") }

func (c *leanConn) dial() error {
	c.close()
	nc, err := net.DialTimeout("tcp", c.addr, requestTimeout)
	if err != nil {
		return err
	}
	c.nc, c.deadline = nc, time.Time{}
	if c.br == nil {
		c.br = bufio.NewReaderSize(nc, 4096)
	} else {
		c.br.Reset(nc)
	}
	return nil
}

func (c *leanConn) close() {
	if c.nc != nil {
		c.nc.Close()
		c.nc = nil
	}
}

// roundTrip writes req (a complete HTTP/1.1 request) and reads the response
// and its whole body (at most maxBody bytes). On a failure the connection is
// closed (the next round trip dials a new one) and resp is nil, except for
// errServerClosed, which comes with the complete response the server sent
// before closing.
func (c *leanConn) roundTrip(req []byte) (resp *http.Response, body []byte, err error) {
	if c.nc == nil {
		if err := c.dial(); err != nil {
			return nil, nil, err
		}
	}
	// Every request gets at least requestTimeout (at most a second more),
	// with one deadline update a second rather than one per request.
	if now := time.Now(); now.Add(requestTimeout).After(c.deadline) {
		c.deadline = now.Add(requestTimeout + time.Second)
		if err := c.nc.SetDeadline(c.deadline); err != nil {
			c.close()
			return nil, nil, err
		}
	}
	if _, err := c.nc.Write(req); err != nil {
		c.close()
		return nil, nil, err
	}
	resp, err = http.ReadResponse(c.br, nil)
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
		resp.Body.Close()
		switch {
		case err != nil:
		case len(body) > maxBody:
			err = fmt.Errorf("body over %d bytes", maxBody)
		case resp.StatusCode < 200: // the final response would follow
			err = fmt.Errorf("interim response %q", resp.Status)
		}
	}
	if err != nil {
		c.close()
		return nil, nil, err
	}
	if resp.Close {
		c.close()
		return resp, body, errServerClosed
	}
	return resp, body, nil
}

// validCookieValueByte is net/http's test for a cookie value's bytes.
func validCookieValueByte(b byte) bool {
	return 0x20 <= b && b < 0x7f && b != '"' && b != ';' && b != '\\'
}

// appendCookieValue appends v as http.Request.AddCookie writes a cookie's
// value: bytes a cookie value may not hold dropped, and in double quotes if
// it holds a space or a comma.
func appendCookieValue(b []byte, v string) []byte {
	quote := strings.ContainsAny(v, " ,")
	if quote {
		b = append(b, '"')
	}
	for i := range len(v) {
		if validCookieValueByte(v[i]) {
			b = append(b, v[i])
		}
	}
	if quote {
		b = append(b, '"')
	}
	return b
}

// appendHead appends the request line and the first headers net/http's
// Transport writes (Host, User-Agent); the caller appends the rest of the
// headers, the empty line and the body. net/http sent, for these requests,
// exactly: request line, Host, User-Agent, Content-Length (when there is a
// body or the method is POST), the headers set on the request in sorted
// order, then an empty line (no Accept-Encoding: compression was off).
func appendHead(b []byte, method, path, host string) []byte {
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	return append(b, "\r\nUser-Agent: Go-http-client/1.1\r\n"...)
}

// appendRefreshRequest appends sesame's POST /auth/refresh with the body
// json.NewEncoder(w).Encode(map[string]string{"refresh_token": tok}) wrote:
// {"refresh_token":"tok"} and a newline. A token (base64url, always) that
// would need JSON escaping goes through json.Marshal, which escapes as the
// encoder did.
func appendRefreshRequest(b []byte, host, tok string) []byte {
	const pre, post = `{"refresh_token":"`, "\"}\n"
	var body []byte // nil: pre + tok + post
	n := len(pre) + len(tok) + len(post)
	if !jsonSafe(tok) {
		body, _ = json.Marshal(map[string]string{"refresh_token": tok})
		body = append(body, '\n')
		n = len(body)
	}
	b = appendHead(b, "POST", "/auth/refresh", host)
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, "\r\nContent-Type: application/json\r\n"+auth.TransportHeader+": header\r\n\r\n"...)
	if body != nil {
		return append(b, body...)
	}
	b = append(b, pre...)
	b = append(b, tok...)
	return append(b, post...)
}

// jsonSafe reports whether s goes into a JSON string unchanged by
// encoding/json (printable ASCII, none of " \\ < > &).
func jsonSafe(s string) bool {
	for i := range len(s) {
		switch b := s[i]; {
		case b < 0x20 || b > 0x7e, b == '"', b == '\\', b == '<', b == '>', b == '&':
			return false
		}
	}
	return true
}

// headerSafe reports whether s is a non-empty run of visible ASCII, safe to
// write as a header value or inside one.
func headerSafe(s string) bool {
	for i := range len(s) {
		if s[i] <= 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return s != ""
}
