package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sesame-go/sesame/token"
)

type bodyData struct {
	Name  string            `json:"name"`
	Roles []string          `json:"roles,omitempty"`
	Attrs map[string]string `json:"attrs,omitempty"`
	N     float64           `json:"n"`
}

// badData fails to encode.
type badData struct{}

func (badData) MarshalJSON() ([]byte, error) { return nil, errors.New("no") }

// freshBody is what GET /session wrote before its answer was cached:
// writeJSON's json.Encoder, on every request.
func freshBody[T any](t *testing.T, s *Session[T]) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	writeJSON(rec, sessionResponse[T]{s.Claims.SessionID, s.UserID, s.Claims.IssuedAt.Unix(), s.Claims.ExpiresAt.Unix(), s.Data})
	return rec.Body.Bytes()
}

// TestSessionBodyIsFreshEncode: the cached GET /session answer is byte for
// byte the one encoded on each request, for data that needs escaping,
// unicode, maps (sorted keys), floats and empty values; every session gets
// its own; and data that does not encode is left to writeJSON.
func TestSessionBodyIsFreshEncode(t *testing.T) {
	iat := time.Unix(1_796_000_000, 0)
	datas := []bodyData{
		{},
		{Name: "Alice"},
		{Name: `<script>&"quoted"\ </script>`, Roles: []string{"admin", "ops"}},
		{Name: "Zoë ☃ \u2028 \x01", Attrs: map[string]string{"z": "1", "a": "2", "m": "<>"}, N: 1e21},
		{Name: "bob", N: 0.000001},
		{Name: "carol", Roles: []string{}, Attrs: map[string]string{}, N: -3.5},
	}
	var sessions []*Session[bodyData]
	for i, d := range datas {
		sessions = append(sessions, &Session[bodyData]{
			Claims: token.Claims{SessionID: "sid-" + string(rune('a'+i)), IssuedAt: iat.Add(time.Duration(i) * time.Second),
				ExpiresAt: iat.Add(15*time.Minute + time.Duration(i)*time.Second)},
			UserID: "uid-" + d.Name, Data: d, enc: new(encodings),
		})
	}
	sessions = append(sessions, &Session[bodyData]{UserID: "no cache"}) // built outside verify: body nil
	bodies := map[string]int{}
	for round := range 3 { // the first call encodes, the others serve the cache
		for i, s := range sessions {
			got, want := s.sessionBody(), freshBody(t, s)
			if !bytes.Equal(got, want) {
				t.Errorf("round %d, session %d:\n got %q\nwant %q", round, i, got, want)
			}
			if round == 0 {
				if j, dup := bodies[string(got)]; dup {
					t.Errorf("sessions %d and %d have the same body %q", j, i, got)
				}
				bodies[string(got)] = i
			}
		}
	}

	// The answer on the wire: same headers, status and body as writeJSON's.
	for _, s := range sessions[:2] {
		rec, want := httptest.NewRecorder(), httptest.NewRecorder()
		jsonHeaders(rec.Header())
		rec.WriteHeader(200)
		rec.Write(s.sessionBody())
		writeJSON(want, s.response())
		if rec.Code != want.Code || !bytes.Equal(rec.Body.Bytes(), want.Body.Bytes()) || len(rec.Header()) != len(want.Header()) {
			t.Errorf("answer %d %v %q, want %d %v %q", rec.Code, rec.Header(), rec.Body, want.Code, want.Header(), want.Body)
		}
		for k, v := range want.Header() {
			if got := rec.Header()[k]; len(got) != 1 || got[0] != v[0] {
				t.Errorf("header %s: %q, want %q", k, got, v)
			}
		}
	}

	bad := &Session[badData]{enc: new(encodings)}
	if b := bad.sessionBody(); b != nil {
		t.Errorf("data that does not encode: body %q, want nil (writeJSON answers)", b)
	}
	if _, err := json.Marshal(sessionResponse[badData]{}); err == nil {
		t.Fatal("badData encodes")
	}
}
