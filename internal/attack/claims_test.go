package attack_test

import (
	"bytes"
	"crypto/cipher"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/token"
	"golang.org/x/crypto/chacha20poly1305"
)

// adLabel and the layout below restate token/seal.go's additional data
// (label, kid, jti, sid, NUL-separated), so that the suite can make tokens
// whose payload opens, and alter exactly one thing.
const adLabel = "sesame/v1 at+jwt enc"

func ad(kid, jti, sid string) []byte {
	return []byte(adLabel + "\x00" + kid + "\x00" + jti + "\x00" + sid)
}

func sealWith(aead cipher.AEAD, plaintext, ad []byte) string {
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	for i := range nonce {
		nonce[i] = byte(i * 7)
	}
	return b64.EncodeToString(aead.Seal(nonce, nonce, plaintext, ad))
}

// openPayload opens a real token's enc with the key that sealed it.
func (e *env) openPayload(raw string) []byte {
	e.t.Helper()
	c := claimsMap(e.t, raw)
	buf, err := b64.DecodeString(c["enc"].(string))
	if err != nil {
		e.t.Fatal(err)
	}
	k := e.signer()
	pt, err := k.AEAD().Open(nil, buf[:24], buf[24:], ad(k.ID(), c["jti"].(string), c["sid"].(string)))
	if err != nil {
		e.t.Fatalf("cannot open the victim's payload: %v", err)
	}
	return pt
}

// forge builds a token from the victim's claims changed by mod, with the
// payload re-sealed for the (possibly changed) jti and sid unless mod set
// enc itself, signed by the active key: everything a key holder could do.
func (e *env) forge(mod func(c map[string]any)) string {
	e.t.Helper()
	pt := e.openPayload(e.victim.AccessToken)
	c := claimsMap(e.t, e.victim.AccessToken)
	origEnc := c["enc"]
	mod(c)
	if _, kept := c["enc"].(keptEnc); !kept && c["enc"] == origEnc {
		jti, _ := c["jti"].(string)
		sid, _ := c["sid"].(string)
		c["enc"] = sealWith(e.signer().AEAD(), pt, ad(e.signer().ID(), jti, sid))
	}
	return e.resign(c)
}

func num(c map[string]any, k string) int64 {
	n, _ := c[k].(json.Number).Int64()
	return n
}

func claimsCases() []tokCase {
	now := func(e *env) int64 { return e.clk.Now().Unix() }
	f := func(name, code string, mod func(e *env, c map[string]any)) tokCase {
		return tokCase{name: name, code: code, tok: func(e *env) string {
			return e.forge(func(c map[string]any) { mod(e, c) })
		}}
	}
	return []tokCase{
		f("iss/trailing-space", "invalid_claims", func(e *env, c map[string]any) { c["iss"] = "sesame " }),
		f("exp/missing", "malformed", func(e *env, c map[string]any) { delete(c, "exp") }),
		f("exp/zero", "malformed", func(e *env, c map[string]any) { c["exp"] = 0 }),
		f("exp/string", "malformed", func(e *env, c map[string]any) { c["exp"] = "9999999999" }),
		f("exp/fraction", "malformed", func(e *env, c map[string]any) { c["exp"] = float64(num(c, "exp")) + 0.5 }),
		f("exp/overflow", "malformed", func(e *env, c map[string]any) { c["exp"] = json.Number("99999999999999999999") }),
		f("exp/absurd-1e15", "invalid_claims", func(e *env, c map[string]any) { c["exp"] = int64(1e15) }),
		f("exp/negative", "expired", func(e *env, c map[string]any) { c["exp"] = -1 }),
		f("exp/equals-iat", "invalid_claims", func(e *env, c map[string]any) { c["exp"] = c["iat"] }),
		f("exp/past-beyond-leeway", "expired", func(e *env, c map[string]any) {
			c["iat"], c["nbf"], c["exp"] = now(e)-700, now(e)-700, now(e)-100
		}),
		f("lifetime/one-second-over-max", "invalid_claims", func(e *env, c map[string]any) { c["exp"] = num(c, "iat") + 601 }),
		f("lifetime/a-year", "invalid_claims", func(e *env, c map[string]any) { c["exp"] = num(c, "iat") + 365*86400 }),
		f("nbf/future", "not_yet_valid", func(e *env, c map[string]any) { c["nbf"] = now(e) + 3600 }),
		f("nbf/missing", "malformed", func(e *env, c map[string]any) { delete(c, "nbf") }),
		f("iat/future", "not_yet_valid", func(e *env, c map[string]any) {
			c["iat"], c["nbf"], c["exp"] = now(e)+3600, now(e), now(e)+3600+600
		}),
		f("iat/missing", "malformed", func(e *env, c map[string]any) { delete(c, "iat") }),
		f("iss/wrong", "invalid_claims", func(e *env, c map[string]any) { c["iss"] = "https://evil.example" }),
		f("iss/missing", "malformed", func(e *env, c map[string]any) { delete(c, "iss") }),
		f("aud/wrong", "invalid_claims", func(e *env, c map[string]any) { c["aud"] = "other-app" }),
		f("aud/array", "malformed", func(e *env, c map[string]any) { c["aud"] = []string{"sesame", "other"} }),
		f("aud/missing", "malformed", func(e *env, c map[string]any) { delete(c, "aud") }),
		f("jti/missing", "invalid_claims", func(e *env, c map[string]any) { delete(c, "jti") }),
		f("sid/missing", "invalid_claims", func(e *env, c map[string]any) { delete(c, "sid") }),
		f("sid/empty", "invalid_claims", func(e *env, c map[string]any) { c["sid"] = "" }),
		// Encrypted payload, re-signed with the real key: the signature
		// holds, so these reach the AEAD, which refuses them.
		f("payload/tampered-ciphertext", "bad_payload", func(e *env, c map[string]any) {
			b, _ := b64.DecodeString(c["enc"].(string))
			b[30] ^= 0x80
			c["enc"] = b64.EncodeToString(b)
		}),
		f("payload/truncated-tag", "bad_payload", func(e *env, c map[string]any) {
			b, _ := b64.DecodeString(c["enc"].(string))
			c["enc"] = b64.EncodeToString(b[:len(b)-1])
		}),
		f("payload/empty", "bad_payload", func(e *env, c map[string]any) { c["enc"] = "" }),
		f("payload/shorter-than-nonce-and-tag", "bad_payload", func(e *env, c map[string]any) {
			c["enc"] = b64.EncodeToString(make([]byte, 39))
		}),
		f("payload/not-base64", "bad_payload", func(e *env, c map[string]any) { c["enc"] = "!!!!" + c["enc"].(string)[4:] }),
		f("payload/missing", "bad_payload", func(e *env, c map[string]any) { delete(c, "enc") }),
		f("payload/sid-swapped", "bad_payload", func(e *env, c map[string]any) {
			c["sid"] = claimsMap(e.t, e.LoginAs("bob").AccessToken)["sid"]
			c["enc"] = keepEnc(c) // alice's sealed payload, under bob's sid
		}),
		f("payload/jti-swapped", "bad_payload", func(e *env, c map[string]any) {
			c["jti"] = "AAAAAAAAAAAAAAAAAAAAAA"
			c["enc"] = keepEnc(c)
		}),
		f("payload/transplanted-from-other-session", "bad_payload", func(e *env, c map[string]any) {
			c["enc"] = claimsMap(e.t, e.LoginAs("mallory").AccessToken)["enc"]
		}),
		f("payload/sealed-with-pending-key", "bad_payload", func(e *env, c map[string]any) {
			var pend *keys.Key
			for _, k := range e.keys.Current().Keys() {
				if !k.State().CanVerify() {
					pend = k
				}
			}
			c["enc"] = sealWith(pend.AEAD(), e.openPayload(e.victim.AccessToken), ad(e.signer().ID(), c["jti"].(string), c["sid"].(string)))
		}),
		f("payload/authentic-but-not-json", "bad_payload", func(e *env, c map[string]any) {
			c["enc"] = sealWith(e.signer().AEAD(), []byte("not json"), ad(e.signer().ID(), c["jti"].(string), c["sid"].(string)))
		}),
		// Verify before decrypt: the same payload tricks without a valid
		// signature are refused as bad_signature, so the AEAD never sees them.
		{name: "payload/unsigned-empty-enc", code: "bad_signature", tok: func(e *env) string { return unsignedEnc(e, "") }},
		{name: "payload/unsigned-one-byte-enc", code: "bad_signature", tok: func(e *env) string { return unsignedEnc(e, "AA") }},
		{name: "payload/unsigned-huge-enc", code: "bad_signature", tok: func(e *env) string {
			return unsignedEnc(e, strings.Repeat("A", 5000))
		}},
		{name: "payload/unsigned-tampered-ciphertext", code: "bad_signature", tok: func(e *env) string {
			c := claimsMap(e.t, e.victim.AccessToken)
			b, _ := b64.DecodeString(c["enc"].(string))
			b[30] ^= 0x80
			return unsignedEnc(e, b64.EncodeToString(b))
		}},
		{name: "payload/unsigned-transplant", code: "bad_signature", tok: func(e *env) string {
			return unsignedEnc(e, claimsMap(e.t, e.LoginAs("mallory").AccessToken)["enc"].(string))
		}},
	}
}

// keptEnc marks that mod keeps the victim's sealed payload as it is (so
// forge does not re-seal it for the changed ids).
type keptEnc string

func keepEnc(c map[string]any) keptEnc { return keptEnc(c["enc"].(string)) }

// unsignedEnc is the victim's token with enc replaced and the old signature.
func unsignedEnc(e *env, encVal string) string {
	c := claimsMap(e.t, e.victim.AccessToken)
	c["enc"] = encVal
	h, _, sig := split(e.t, e.victim.AccessToken)
	return enc(h) + "." + enc(mustJSON(e.t, c)) + "." + sig
}

func TestClaimsAndPayload(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, o options) {
		e := newEnv(t, o)
		// The forging path itself is sound: with nothing changed it
		// produces a token that is accepted.
		if r := e.Do(nil, "GET", "/app", "", sesametest.Bearer(e.forge(func(map[string]any) {}))...); r.Status != 200 {
			t.Fatalf("unchanged re-forged token refused: %d %s", r.Status, r.Body)
		}
		runTokenCases(t, e, claimsCases())
	})
}

// TestLeewayEdges moves the injected clock around a token's exp and nbf.
func TestLeewayEdges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	exp := time.Unix(num(claimsMap(t, e.victim.AccessToken), "exp"), 0)
	at := func(tm time.Time) sesametest.Response {
		e.clk.Set(time.Until(tm))
		e.waitFresh()
		return e.Do(nil, "GET", "/app", "", sesametest.Bearer(e.victim.AccessToken)...)
	}
	if r := at(exp.Add(28 * time.Second)); r.Status != 200 {
		t.Fatalf("2s inside the leeway: %d %s", r.Status, r.Body)
	}
	if r := at(exp.Add(32 * time.Second)); r.Status != 401 || r.Code() != "expired" {
		t.Fatalf("2s past the leeway: %d %s", r.Status, r.Body)
	}
	e.clk.Set(0)
	e.waitFresh()
	fresh := e.LoginAs("bob") // not cached yet
	nbf := time.Unix(num(claimsMap(t, fresh.AccessToken), "nbf"), 0)
	if r := func() sesametest.Response {
		e.clk.Set(time.Until(nbf.Add(-33 * time.Second)))
		e.waitFresh()
		return e.Do(nil, "GET", "/app", "", sesametest.Bearer(fresh.AccessToken)...)
	}(); r.Status != 401 || r.Code() != "not_yet_valid" {
		t.Fatalf("33s before nbf: %d %s", r.Status, r.Body)
	}
	if r := at(nbf.Add(-27 * time.Second)); r.Status != 200 {
		// the victim token is long expired; check the fresh one
		if r2 := e.Do(nil, "GET", "/app", "", sesametest.Bearer(fresh.AccessToken)...); r2.Status != 200 {
			t.Fatalf("27s before nbf (inside leeway): %d %s", r2.Status, r2.Body)
		}
	}
}

// TestExpiredAndTamperedEverywhere sends an expired token, and the same
// token tampered, to every endpoint that takes an access token, and the
// tampered one to refresh: the answer is the token's reason, never state.
func TestExpiredAndTamperedEverywhere(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	old := e.LoginAs("bob")
	exp := time.Unix(num(claimsMap(t, old.AccessToken), "exp"), 0)
	c := claimsMap(t, old.AccessToken)
	c["sid"] = claimsMap(t, e.victim.AccessToken)["sid"] // aim at the victim
	h, _, sig := split(t, old.AccessToken)
	tampered := enc(h) + "." + enc(mustJSON(t, c)) + "." + sig
	e.clk.Set(time.Until(exp.Add(time.Minute)))
	e.waitFresh()
	// the victim's own token is expired now too: give it a fresh one
	e.victim = e.LoginAs("alice")
	e.victimG = e.family(e.victim.RefreshToken).Generation
	endpoints := []struct{ method, path string }{
		{"GET", "/app"}, {"POST", "/app"}, {"POST", "/pay"}, {"GET", "/auth/session"}, {"GET", "/auth/sessions"},
		{"POST", "/auth/logout"}, {"POST", "/auth/logout-all"}, {"DELETE", "/auth/sessions/" + c["sid"].(string)},
	}
	for _, ep := range endpoints {
		for _, tc := range []struct{ name, tok, code string }{{"expired", old.AccessToken, "expired"}, {"tampered", tampered, "bad_signature"}} {
			t.Run(tc.name+ep.method+ep.path, func(t *testing.T) {
				hits := e.totalHits()
				if r := e.Do(nil, ep.method, ep.path, "", sesametest.Bearer(tc.tok)...); r.Status != 401 || r.Code() != tc.code {
					t.Fatalf("got %d %s, want 401 %s", r.Status, r.Code(), tc.code)
				}
				if e.totalHits() != hits {
					t.Fatal("handler reached")
				}
			})
		}
	}
	for _, tok := range []string{old.AccessToken, tampered} {
		if r, _ := e.Refresh(tok); r.Status != 401 || r.Code() != "invalid_refresh_token" {
			t.Fatalf("access token to refresh: %d %s", r.Status, r.Body)
		}
	}
	// bob's refresh token still works: the failed calls ended nothing.
	if r, _ := e.Refresh(old.RefreshToken); r.Status != 200 {
		t.Fatalf("bob's session ended by failed calls: %d %s", r.Status, r.Body)
	}
	e.intact(t)
}

// TestNonceUniqueness mints 20,000 tokens with the keyset the server uses
// and checks that no XChaCha20 nonce and no jti repeats.
func TestNonceUniqueness(t *testing.T) {
	t.Parallel()
	ks := newKeySource(t).Current()
	codec, err := token.New[Profile](nil)
	if err != nil {
		t.Fatal(err)
	}
	const n, workers = 20000, 4
	type minted struct {
		nonce [24]byte
		jti   string
	}
	out := make([][]minted, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n / workers {
				raw, cl, err := codec.Mint(ks, "sid", Profile{Name: "x"})
				if err != nil {
					t.Error(err)
					return
				}
				// enc is the last claim; its first 32 characters are the nonce.
				claims := raw[strings.IndexByte(raw, '.')+1 : strings.LastIndexByte(raw, '.')]
				cb, _ := b64.DecodeString(claims)
				j := strings.Index(string(cb), `"enc":"`)
				var m minted
				if j < 0 || len(cb) < j+7+32 {
					t.Error("no enc")
					return
				}
				if _, err := b64.Decode(m.nonce[:], cb[j+7:j+7+32]); err != nil {
					t.Error("enc does not decode")
					return
				}
				m.jti = cl.ID
				out[w] = append(out[w], m)
			}
		}()
	}
	wg.Wait()
	nonces := make(map[[24]byte]bool, n)
	jtis := make(map[string]bool, n)
	for _, ms := range out {
		for _, m := range ms {
			if nonces[m.nonce] || jtis[m.jti] {
				t.Fatal("a nonce or a jti repeats")
			}
			nonces[m.nonce], jtis[m.jti] = true, true
		}
	}
	if len(nonces) != n {
		t.Fatalf("%d tokens checked, want %d", len(nonces), n)
	}
}

// TestNoPIIInClearClaims: the clear parts of a token hold only the fixed
// claim set and random ids; the user's name, e-mail and id are sealed.
func TestNoPIIInClearClaims(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	for _, user := range []string{"alice", "bob"} {
		tk := e.LoginAs(user)
		h, c, _ := split(t, tk.AccessToken)
		piis := []string{user, "@example.com", "uid-" + user}
		// The header and every claim but the three opaque ones are read as
		// text, case-insensitively. jti, sid and enc are random base64url
		// (ids, and the sealed payload): as text they spell "bob" in about
		// one token in a hundred by chance, so their decoded bytes are what
		// must not hold a name.
		clearText := strings.ToLower(h)
		var names []string
		for k, v := range claimsMap(t, tk.AccessToken) {
			names = append(names, k)
			switch k {
			case "jti", "sid", "enc":
				str, _ := v.(string)
				raw, err := b64.DecodeString(str)
				if err != nil {
					t.Fatalf("claim %s = %q is not base64url: %v", k, v, err)
				}
				for _, pii := range piis {
					if bytes.Contains(raw, []byte(pii)) {
						t.Fatalf("claim %s decodes to bytes holding %q", k, pii)
					}
				}
			default:
				clearText += " " + strings.ToLower(fmt.Sprint(v))
			}
		}
		for _, pii := range piis {
			if strings.Contains(clearText, pii) {
				t.Fatalf("clear token parts contain %q: %s %s", pii, h, c)
			}
		}
		if len(names) != 8 {
			t.Fatalf("clear claims %v, want exactly iss aud iat nbf exp jti sid enc", names)
		}
		// And the payload does hold them, sealed.
		if pt := string(e.openPayload(tk.AccessToken)); !strings.Contains(pt, user+"@example.com") {
			t.Fatalf("payload %q lacks the e-mail", pt)
		}
	}
}
