package auth_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/sesametest"
)

// profileCodec is a compact DataEncoding for Profile: a version byte, then each
// string as uvarint length + bytes, the cart preceded by its count.
type profileCodec struct{}

var errProfile = errors.New("profile: malformed")

func (profileCodec) Marshal(p Profile) ([]byte, error) {
	b := []byte{1}
	b = binary.AppendUvarint(b, uint64(len(p.Name)))
	b = append(b, p.Name...)
	b = binary.AppendUvarint(b, uint64(len(p.Cart)))
	for _, c := range p.Cart {
		b = binary.AppendUvarint(b, uint64(len(c)))
		b = append(b, c...)
	}
	return b, nil
}

func (profileCodec) Unmarshal(b []byte, p *Profile) error {
	if len(b) == 0 || b[0] != 1 {
		return errProfile
	}
	b = b[1:]
	str := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return "", false
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, true
	}
	var out Profile
	var ok bool
	if out.Name, ok = str(); !ok {
		return errProfile
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return errProfile
	}
	b = b[k:]
	for range n {
		c, ok := str()
		if !ok {
			return errProfile
		}
		out.Cart = append(out.Cart, c)
	}
	if len(b) != 0 {
		return errProfile
	}
	*p = out
	return nil
}

// TestDataEncoding: a compact DataEncoding makes smaller tokens; a node with
// another codec refuses a token (401 bad_payload) but not the session: the
// data kept with the refresh family is JSON whatever the codec, so the
// refresh token still works there and restores the data.
func TestDataEncoding(t *testing.T) {
	store := newMemoryStore(t)
	js := newEnv(t, store)
	compact := newEnv(t, store, func(c *auth.Config[Profile]) { c.DataEncoding = profileCodec{} })

	a := js.LoginAs("alice")
	b := compact.LoginAs("alice")
	if len(b.AccessToken) >= len(a.AccessToken) {
		t.Fatalf("compact token %d bytes, JSON %d", len(b.AccessToken), len(a.AccessToken))
	}
	for _, tc := range []struct {
		e   *env
		tok string
	}{{js, a.AccessToken}, {compact, b.AccessToken}} {
		if r := tc.e.Do(nil, "GET", "/app", "", sesametest.Bearer(tc.tok)...); r.Status != 200 || r.Body != "hello Alice" {
			t.Fatalf("own token: %d %q", r.Status, r.Body)
		}
	}
	for _, tc := range []struct {
		e   *env
		tok string
	}{{compact, a.AccessToken}, {js, b.AccessToken}} {
		if r := tc.e.Do(nil, "GET", "/app", "", sesametest.Bearer(tc.tok)...); r.Status != 401 || r.ErrorCode(t) != "bad_payload" {
			t.Fatalf("token of the other codec: %d %s", r.Status, r.Body)
		}
	}
	// The JSON node's session refreshes on the compact node, data intact,
	// and an update there survives the next refresh on the JSON node.
	r, tk := compact.Refresh(a.RefreshToken)
	if r.Status != 200 {
		t.Fatalf("refresh across codecs: %d %s", r.Status, r.Body)
	}
	if r := compact.Do(nil, "POST", "/cart?item=apple", "", sesametest.Bearer(tk.AccessToken)...); r.Status != 200 || r.Body != "apple" {
		t.Fatalf("update: %d %q", r.Status, r.Body)
	}
	r, tk = js.Refresh(tk.RefreshToken)
	if r.Status != 200 {
		t.Fatalf("refresh back: %d %s", r.Status, r.Body)
	}
	if r := js.Do(nil, "POST", "/cart?item=pear", "", sesametest.Bearer(tk.AccessToken)...); r.Status != 200 || r.Body != "apple,pear" {
		t.Fatalf("data after two refreshes: %d %q", r.Status, r.Body)
	}
}
