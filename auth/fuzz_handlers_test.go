package auth_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/revocation"
)

// The fuzz targets here drive the real handlers through httptest.Recorder
// (no network, so tens of thousands of requests a second). Their shared
// property: whatever arrives, the server never panics and never answers 5xx
// other than 503, and it answers 200 only to genuine credentials or tokens.

// fuzzServer is one manager on a memory store, with a protected route that
// counts hits.
type fuzzServer struct {
	m    *auth.Manager[Profile]
	h    http.Handler
	hits int // under mu
	mu   sync.Mutex
	// known are the tokens this server handed out (access and refresh).
	known map[string]bool
}

func newFuzzServer(tb testing.TB) *fuzzServer {
	tb.Helper()
	store, err := revocation.NewMemory(nil)
	if err != nil {
		tb.Fatal(err)
	}
	rep := sesametest.StartReplica(tb, store, &revocation.ReplicaOptions{StalenessBound: time.Hour})
	select {
	case <-rep.Ready():
	case <-time.After(5 * time.Second):
		tb.Fatal("replica never became current")
	}
	fs := &fuzzServer{known: map[string]bool{}}
	m, err := auth.New(auth.Config[Profile]{
		Keys:               testKeys(),
		Store:              store,
		Denylist:           rep,
		Authenticator:      auth.AuthenticatorFunc[Profile](authenticate),
		Limits:             auth.Limits{LoginsPerAddress: -1, FailuresPerUser: -1, RefreshFailuresPerAddress: -1},
		MaxSessionsPerUser: 2, // bounded memory however many logins the fuzzer finds
		Logger:             quietLogger(),
	})
	if err != nil {
		tb.Fatal(err)
	}
	fs.m = m
	r := chi.NewRouter()
	r.Mount("/auth", m.Routes())
	r.With(m.Require()).Get("/app", func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		fs.hits++
		fs.mu.Unlock()
		io.WriteString(w, "ok")
	})
	fs.h = r
	return fs
}

// login makes a session with the header transport and records its tokens.
func (fs *fuzzServer) login(tb testing.TB, user string) sesametest.Tokens {
	tb.Helper()
	w := fs.serve("POST", "/auth/login", `{"username":"`+user+`","password":"`+testUsers[user]+`"}`,
		"Content-Type", "application/json", "X-Session-Transport", "header")
	if w.Code != 200 {
		tb.Fatalf("login: %d %s", w.Code, w.Body)
	}
	var tk sesametest.Tokens
	if err := json.Unmarshal(w.Body.Bytes(), &tk); err != nil {
		tb.Fatal(err)
	}
	fs.known[tk.AccessToken], fs.known[tk.RefreshToken] = true, true
	return tk
}

// serve runs one request. hdr are raw header pairs, set without validation
// (as a hostile client could send them).
func (fs *fuzzServer) serve(method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "https://sesame.test"+path, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header[hdr[i]] = append(r.Header[hdr[i]], hdr[i+1])
	}
	w := httptest.NewRecorder()
	fs.h.ServeHTTP(w, r)
	return w
}

// carriesKnown reports whether s contains a refresh token this server
// issued (its secret part, which is what makes it genuine).
func (fs *fuzzServer) carriesKnown(s string) bool {
	for k := range fs.known {
		if len(k) == 68 && strings.Contains(s, k[25:]) {
			return true
		}
	}
	return false
}

func (fs *fuzzServer) hitCount() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.hits
}

// checkAnswer asserts the shared properties of any answer.
func checkAnswer(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code >= 500 && w.Code != 503 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if w.Code == 503 && w.Header().Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	if w.Code >= 400 {
		var e struct{ Error, Message string }
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" || e.Message == "" {
			t.Fatalf("error body %q is not {error,message}", w.Body)
		}
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// FuzzLoginBody posts arbitrary bodies (and content types) to /auth/login.
// A 200 must come from the exact credentials of a known user.
func FuzzLoginBody(f *testing.F) {
	fs := newFuzzServer(f)
	for _, s := range []string{
		`{"username":"alice","password":"alice-pw"}`,
		`{"username":"alice","password":"alice-pw","remember":true}`,
		`{"username":"alice","password":"wrong"}`,
		`{"username":"mallory","password":"x"}`,
		`{"username":"alice","password":"alice-pw"}{}`,
		`{"username":"alice","username":"bob","password":"bob-pw"}`,
		`{"Username":"ALICE","PASSWORD":"alice-pw"}`,
		`{"username":["alice"],"password":{"$ne":null}}`,
		`{"username":"alice\u0000","password":"alice-pw"}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`,
		`{"username":"` + strings.Repeat("a", 300) + `","password":"x"}`,
		`null`, `""`, `1e999`, `{`, "\xff\xfe{}",
	} {
		f.Add(s, "application/json")
	}
	f.Add(`{"username":"alice","password":"alice-pw"}`, "application/json; charset=utf-8")
	f.Add(`username=alice&password=alice-pw`, "application/x-www-form-urlencoded")
	f.Add(`{"username":"alice","password":"alice-pw"}`, "text/plain")
	f.Fuzz(func(t *testing.T, body, contentType string) {
		w := fs.serve("POST", "/auth/login", body, "Content-Type", contentType, "X-Session-Transport", "header")
		checkAnswer(t, w)
		if w.Code == 200 {
			var req struct{ Username, Password string }
			if err := json.Unmarshal([]byte(body), &req); err != nil || testUsers[req.Username] == "" || testUsers[req.Username] != req.Password {
				t.Fatalf("login accepted %q", body)
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Fatal("token response without no-store")
			}
		}
	})
}

// FuzzRefreshBody sends arbitrary refresh requests: a JSON body in header
// transport, and the same text as the refresh cookie in cookie transport.
// Garbage never rotates, ends or 5xx's; the genuine session keeps working.
func FuzzRefreshBody(f *testing.F) {
	fs := newFuzzServer(f)
	tk := fs.login(f, "bob")
	rt := tk.RefreshToken
	for _, s := range []string{
		`{"refresh_token":"` + rt + `"}`,
		`{"refresh_token":"` + rt[:24] + `.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`,
		`{"refresh_token":"` + tk.AccessToken + `"}`,
		`{"refresh_token":""}`, `{"refresh_token":null}`, `{"refresh_token":123}`,
		`{"refresh_token":"` + strings.Repeat("A", 600) + `"}`,
		`{"refresh_token":"a","refresh_token":"` + rt + `"}`,
		`{}`, `[]`, ``, `{"refresh_token":"` + rt + `"} x`,
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Add(rt, true)
	f.Add(rt+"; "+refreshCookieName+"="+rt, true)
	f.Fuzz(func(t *testing.T, s string, cookie bool) {
		var w *httptest.ResponseRecorder
		if cookie {
			w = fs.serve("POST", "/auth/refresh", "", "Cookie", refreshCookieName+"="+s)
		} else {
			w = fs.serve("POST", "/auth/refresh", s, "Content-Type", "application/json", "X-Session-Transport", "header")
		}
		checkAnswer(t, w)
		if w.Code == 200 || w.Code == 401 && strings.Contains(w.Body.String(), "refresh_token_reused") {
			// Only a genuine token may rotate or trip theft detection (the
			// fuzzer gets one by copying a seed or an earlier answer).
			if !fs.carriesKnown(s) {
				t.Fatalf("refresh %d for %q", w.Code, s)
			}
		}
		if w.Code == 200 {
			var tk sesametest.Tokens
			json.Unmarshal(w.Body.Bytes(), &tk)
			fs.known[tk.RefreshToken] = true
			for _, c := range w.Result().Cookies() {
				fs.known[c.Value] = true
			}
		}
	})
}

// FuzzVerifyHeaders sends arbitrary Authorization, Cookie and
// X-Session-Transport headers to a protected route and to Verify. Only a
// token the server minted, in exactly one place, passes; the protected
// handler runs exactly when Verify accepts.
func FuzzVerifyHeaders(f *testing.F) {
	fs := newFuzzServer(f)
	at := fs.login(f, "alice").AccessToken
	cookie := "__Host-sesame=" + at
	f.Add("Bearer "+at, "", "")
	f.Add("bearer "+at, "", "")
	f.Add("", cookie, "")
	f.Add("", cookie, "header")
	f.Add("Bearer "+at, cookie, "")
	f.Add("Bearer "+at+" "+at, "", "")
	f.Add("Bearer\t"+at, "", "")
	f.Add("Bearer  "+at, "", "")
	f.Add("Bearer "+at+",", "", "")
	f.Add("Basic YWxpY2U6YWxpY2UtcHc=", "", "")
	f.Add("", cookie+"; "+cookie, "")
	f.Add("", "__Host-sesame=\""+at+"\"", "")
	f.Add("", "__host-sesame="+at, "")
	f.Add("", "__Host-sesame="+at[:len(at)-1], "")
	f.Add("Bearer "+strings.Repeat(".", 9000), "", "")
	f.Add("Bearer eyJhbGciOiJub25lIn0.e30.", "", "")
	f.Fuzz(func(t *testing.T, authz, cookies, transport string) {
		var hdr []string
		if authz != "" {
			hdr = append(hdr, "Authorization", authz)
		}
		if cookies != "" {
			hdr = append(hdr, "Cookie", cookies)
		}
		if transport != "" {
			hdr = append(hdr, "X-Session-Transport", transport)
		}
		before := fs.hitCount()
		w := fs.serve("GET", "/app", "", hdr...)
		checkAnswer(t, w)
		reached := fs.hitCount() != before
		if reached != (w.Code == 200) {
			t.Fatalf("status %d but handler reached=%v", w.Code, reached)
		}
		r := httptest.NewRequest("GET", "https://sesame.test/app", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header[hdr[i]] = []string{hdr[i+1]}
		}
		s, err := fs.m.Verify(r)
		if (err == nil) != (w.Code == 200) {
			t.Fatalf("Verify err=%v but middleware answered %d", err, w.Code)
		}
		if err == nil {
			if s.UserID != "uid-alice" || !strings.Contains(authz+cookies, at) {
				t.Fatalf("accepted a session (%q) not carried by the input", s.UserID)
			}
		}
	})
}
