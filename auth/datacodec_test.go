package auth_test

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/redistest"
	"github.com/sesame-go/sesame/revocation"
)

// profileCodec is a compact DataCodec for Profile: a version byte, then each
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

// TestDataCodec: a compact DataCodec makes smaller tokens; a node with
// another codec refuses a token (401 bad_payload) but not the session: the
// data kept with the refresh family is JSON whatever the codec, so the
// refresh token still works there and restores the data.
func TestDataCodec(t *testing.T) {
	store := newMemoryStore(t)
	js := newEnv(t, store)
	compact := newEnv(t, store, func(c *auth.Config[Profile]) { c.DataCodec = profileCodec{} })

	a := js.loginHeader("alice")
	b := compact.loginHeader("alice")
	if len(b.AccessToken) >= len(a.AccessToken) {
		t.Fatalf("compact token %d bytes, JSON %d", len(b.AccessToken), len(a.AccessToken))
	}
	for _, tc := range []struct {
		e   *env
		tok string
	}{{js, a.AccessToken}, {compact, b.AccessToken}} {
		if r := tc.e.do(nil, "GET", "/app", "", bearer(tc.tok)...); r.status != 200 || r.body != "hello Alice" {
			t.Fatalf("own token: %d %q", r.status, r.body)
		}
	}
	for _, tc := range []struct {
		e   *env
		tok string
	}{{compact, a.AccessToken}, {js, b.AccessToken}} {
		if r := tc.e.do(nil, "GET", "/app", "", bearer(tc.tok)...); r.status != 401 || r.code(t) != "bad_payload" {
			t.Fatalf("token of the other codec: %d %s", r.status, r.body)
		}
	}
	// The JSON node's session refreshes on the compact node, data intact,
	// and an update there survives the next refresh on the JSON node.
	r, tk := compact.refreshHeader(a.RefreshToken)
	if r.status != 200 {
		t.Fatalf("refresh across codecs: %d %s", r.status, r.body)
	}
	if r := compact.do(nil, "POST", "/cart?item=apple", "", bearer(tk.AccessToken)...); r.status != 200 || r.body != "apple" {
		t.Fatalf("update: %d %q", r.status, r.body)
	}
	r, tk = js.refreshHeader(tk.RefreshToken)
	if r.status != 200 {
		t.Fatalf("refresh back: %d %s", r.status, r.body)
	}
	if r := js.do(nil, "POST", "/cart?item=pear", "", bearer(tk.AccessToken)...); r.status != 200 || r.body != "apple,pear" {
		t.Fatalf("data after two refreshes: %d %q", r.status, r.body)
	}
}

// TestFamilyMadeBeforeDerivedIDs: a refresh family whose id was drawn at
// random (as before family ids were derived from session ids) keeps working
// through refresh, Update, the session list and logout, which must end that
// family and denylist its session. The family is made, then renamed in Redis
// to such an id.
func TestFamilyMadeBeforeDerivedIDs(t *testing.T) {
	srv := redistest.Start(t, nil)
	client := srv.Client()
	store, err := revocation.NewRedis(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, store)
	ctx := context.Background()
	tk := e.loginHeader("alice")
	fid, _ := revocation.FamilyID(tk.RefreshToken)
	f, found, err := store.GetFamily(ctx, fid)
	if err != nil || !found {
		t.Fatalf("family %q: %v %v", fid, found, err)
	}
	tag := fid[:2]
	legacy := tag + "AAAAAAAAAAAAAAAAAAAAAA" // same user tag, another 128-bit value
	famKey := func(id string) string { return "sesame:{" + tag + "}:fam:" + id }
	idxKey := "sesame:{" + tag + "}:user:" + f.UserID
	score, err := client.ZScore(ctx, idxKey, fid).Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Rename(ctx, famKey(fid), famKey(legacy)).Err(); err != nil {
		t.Fatal(err)
	}
	client.ZRem(ctx, idxKey, fid)
	client.ZAdd(ctx, idxKey, redis.Z{Score: score, Member: legacy})
	rt := legacy + tk.RefreshToken[len(fid):]

	r, tk2 := e.refreshHeader(rt)
	if r.status != 200 {
		t.Fatalf("refresh of the old family: %d %s", r.status, r.body)
	}
	if got, _ := revocation.FamilyID(tk2.RefreshToken); got != legacy {
		t.Fatalf("refresh token names family %q, want %q", got, legacy)
	}
	if r := e.do(nil, "POST", "/cart?item=apple", "", bearer(tk2.AccessToken)...); r.status != 200 {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	if got, _, _ := store.GetFamily(ctx, legacy); !strings.Contains(string(got.Payload), "apple") {
		t.Fatalf("update did not reach the old family: %q", got.Payload)
	}
	var list []struct {
		Current bool `json:"current"`
	}
	e.do(nil, "GET", "/auth/sessions", "", bearer(tk2.AccessToken)...).json(t, &list)
	if len(list) != 1 || !list[0].Current {
		t.Fatalf("session list %+v, want the one, current", list)
	}
	if r := e.do(nil, "POST", "/auth/logout", "", bearer(tk2.AccessToken)...); r.status != 204 {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	if _, found, _ := store.GetFamily(ctx, legacy); found {
		t.Fatal("logout left the old family alive")
	}
	if revoked, err := store.IsRevoked(ctx, revocation.Subject{SID: f.SessionID}); err != nil || !revoked {
		t.Fatalf("session not denylisted after logout: %v %v", revoked, err)
	}
	waitFor(t, 2*time.Second, func() bool { return e.do(nil, "GET", "/app", "", bearer(tk2.AccessToken)...).status == 401 })
	if r, _ := e.refreshHeader(tk2.RefreshToken); r.status != 401 {
		t.Fatalf("refresh after logout: %d", r.status)
	}
}
