package sesametest

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/sesame-go/sesame/auth"
)

// Response is what a request got back: its status, headers and whole body.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// JSON decodes the body into v, failing t when it does not decode.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.Body), v); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
}

// errorBody is sesame's error answer.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// Code returns the code of a sesame error body ({"error":…,"message":…});
// any other body gives a string that names it and matches no code. It
// fails nothing: for the checks that compare the code and go on.
func (r Response) Code() string {
	var e errorBody
	if json.Unmarshal([]byte(r.Body), &e) != nil || e.Message == "" {
		return "<not an error body: " + r.Body + ">"
	}
	return e.Error
}

// ErrorCode returns the code of a sesame error body, failing t when the
// body is not JSON and marking t failed when the body has no message.
func (r Response) ErrorCode(t testing.TB) string {
	t.Helper()
	var e errorBody
	r.JSON(t, &e)
	if e.Message == "" {
		t.Errorf("error body %q has no message", r.Body)
	}
	return e.Error
}

// Tokens are the credentials of a login or refresh in the header
// transport, as the JSON answer names them.
type Tokens struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	RefreshToken     string `json:"refresh_token"`
	RefreshExpiresIn int    `json:"refresh_expires_in"`
}

// Tokens decodes the body as a header-transport login or refresh answer,
// failing t when it does not decode.
func (r Response) Tokens(t testing.TB) Tokens {
	t.Helper()
	var tk Tokens
	r.JSON(t, &tk)
	return tk
}

// Do sends a request to rawURL with c (nil: http.DefaultClient) and reads the
// whole answer. hdr holds header name, value pairs: the first value of a
// name replaces any default (Content-Type: application/json when body is
// not empty), and a repeated name adds another line (for the
// duplicate-header cases). An error is one of making or sending the
// request: an answer of any status is not an error.
func Do(c *http.Client, method, rawURL, body string, hdr ...string) (Response, error) {
	if c == nil {
		c = http.DefaultClient
	}
	req, err := http.NewRequest(method, rawURL, strings.NewReader(body))
	if err != nil {
		return Response{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(hdr); i += 2 {
		if seen[hdr[i]] {
			req.Header.Add(hdr[i], hdr[i+1])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		seen[hdr[i]] = true
	}
	res, err := c.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return Response{res.StatusCode, res.Header, string(b)}, nil
}

// Send is Do that fails t when the request cannot be made or gets no
// answer.
func Send(t testing.TB, c *http.Client, method, rawURL, body string, hdr ...string) Response {
	t.Helper()
	r, err := Do(c, method, rawURL, body, hdr...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	return r
}

// Browser returns a copy of c with a cookie jar of its own, as a browser
// would be; c itself (often an httptest server's client, shared by every
// plain request) is left as it was.
func Browser(c *http.Client) *http.Client {
	b := *c
	b.Jar, _ = cookiejar.New(nil)
	return &b
}

// Cookie returns the value of the cookie name that c's jar would send to
// rawURL, or "" when it holds none.
func Cookie(c *http.Client, rawURL, name string) string {
	u, err := url.Parse(rawURL)
	if err != nil || c.Jar == nil {
		return ""
	}
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// Bearer is the header pair that presents an access token.
func Bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// BasicAuth is the header pair of HTTP basic authentication (RFC 7617) as
// id with secret: an introspection client's credentials.
func BasicAuth(id, secret string) []string {
	return []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))}
}

// HeaderTransport is the header pair that asks for the header transport:
// tokens in the JSON answer, none in cookies.
func HeaderTransport() []string { return []string{auth.TransportHeader, "header"} }

// LoginBody is a POST /auth/login body for user and password; extra adds
// string fields (name, value pairs). The strings are written as they are,
// unescaped: a test of odd names writes its body itself.
func LoginBody(user, password string, extra ...string) string {
	s := `{"username":"` + user + `","password":"` + password + `"`
	for i := 0; i+1 < len(extra); i += 2 {
		s += `,"` + extra[i] + `":"` + extra[i+1] + `"`
	}
	return s + "}"
}

// RefreshBody is a POST /auth/refresh body for the refresh token rt.
func RefreshBody(rt string) string { return `{"refresh_token":"` + rt + `"}` }

// Login logs user in at base (a server's URL) in the header transport,
// with c (nil: http.DefaultClient) and the header pairs hdr, and returns
// the tokens; it fails t unless the answer is 200 with tokens.
func Login(t testing.TB, c *http.Client, base, user, password string, hdr ...string) Tokens {
	t.Helper()
	r := Send(t, c, "POST", base+"/auth/login", LoginBody(user, password), append(HeaderTransport(), hdr...)...)
	if r.Status != 200 {
		t.Fatalf("login %s: %d %s", user, r.Status, r.Body)
	}
	return r.Tokens(t)
}

// Refresh posts the refresh token rt to base in the header transport and
// returns the answer, and the new tokens when it is 200 (failing t when
// those do not decode).
func Refresh(t testing.TB, c *http.Client, base, rt string, hdr ...string) (Response, Tokens) {
	t.Helper()
	r := Send(t, c, "POST", base+"/auth/refresh", RefreshBody(rt), append(HeaderTransport(), hdr...)...)
	var tk Tokens
	if r.Status == 200 {
		tk = r.Tokens(t)
	}
	return r, tk
}
