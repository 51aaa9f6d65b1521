package keys

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

type staticSource struct{ ks *Keyset }

func (s staticSource) Current() *Keyset { return s.ks }

func TestJWKSContents(t *testing.T) {
	ks := mustInit(t)
	ks, _ = ks.Rotate(testPolicy, t0.Add(time.Hour))
	ks, _ = ks.Rotate(testPolicy, t0.Add(2*time.Hour))
	// Now: two verify-only, one active, one pending. Revoke one verify-only.
	var revoked string
	for _, k := range ks.Keys() {
		if k.State() == VerifyOnly {
			revoked = k.ID()
			break
		}
	}
	ks, _ = ks.Revoke(revoked, t0.Add(2*time.Hour))

	set := ks.JWKS()
	want := map[string]bool{}
	for _, k := range ks.Keys() {
		if k.State() == Pending || k.State() == Active || k.State() == VerifyOnly {
			want[k.ID()] = true
		}
	}
	if len(set.Keys) != len(want) || len(want) != 3 {
		t.Fatalf("JWKS has %d keys, want %d", len(set.Keys), len(want))
	}
	for _, j := range set.Keys {
		if !want[j.KID] || j.KID == revoked {
			t.Errorf("unexpected key %s", j.KID)
		}
		if j.KTY != "OKP" || j.CRV != "Ed25519" || j.Use != "sig" || j.Alg != "EdDSA" || len(j.X) != 43 {
			t.Errorf("bad JWK %+v", j)
		}
	}
	b, _ := json.Marshal(set)
	for _, k := range ks.Keys() {
		for _, s := range []string{b64(k.m.secret[:]), b64(k.SigningKey().Seed()), b64(k.SigningKey())} {
			if strings.Contains(string(b), s) {
				t.Fatal("JWKS contains secret material")
			}
		}
	}
	for _, field := range []string{`"d"`, "secret"} {
		if strings.Contains(string(b), field) {
			t.Errorf("JWKS JSON has %s", field)
		}
	}
}

// TestJWKSIndependentVerifier signs a JWS with golang-jwt and our active key,
// serves our JWKS over HTTP, and verifies the token with go-jose using only
// the fetched JWKS JSON.
func TestJWKSIndependentVerifier(t *testing.T) {
	ks := mustInit(t)
	srv := httptest.NewServer(JWKSHandler(staticSource{ks}, testPolicy))
	defer srv.Close()

	signer, _ := ks.Signer()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"sub": "alice", "exp": t0.Add(time.Hour).Unix()})
	tok.Header["kid"] = signer.ID()
	compact, err := tok.SignedString(signer.SigningKey())
	if err != nil {
		t.Fatal(err)
	}

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got, want := resp.Header.Get("Cache-Control"), "public, max-age=300"; got != want {
		t.Errorf("Cache-Control = %q, want %q (less than the 10m publish delay)", got, want)
	}

	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatalf("go-jose cannot parse our JWKS: %v\n%s", err, body)
	}
	jws, err := jose.ParseSigned(compact, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	kid := jws.Signatures[0].Header.KeyID
	found := set.Key(kid)
	if len(found) != 1 {
		t.Fatalf("kid %q: %d keys in the JWKS", kid, len(found))
	}
	if !found[0].Valid() || !found[0].IsPublic() || found[0].Algorithm != "EdDSA" || found[0].Use != "sig" {
		t.Errorf("JWK as go-jose reads it: %+v", found[0])
	}
	payload, err := jws.Verify(found[0])
	if err != nil {
		t.Fatalf("go-jose rejects our token: %v", err)
	}
	if !strings.Contains(string(payload), `"sub":"alice"`) {
		t.Errorf("payload %s", payload)
	}

	// A token signed by the pending key verifies with the JWKS too (it is
	// published), and one signed by a key that is not in the set does not.
	other := mustGen(t)
	tok.Header["kid"] = other.ID()
	bad, _ := tok.SignedString(other.SigningKey())
	jws, _ = jose.ParseSigned(bad, []jose.SignatureAlgorithm{jose.EdDSA})
	if len(set.Key(other.ID())) != 0 {
		t.Fatal("foreign key in the JWKS")
	}
	if _, err := jws.Verify(found[0]); err == nil {
		t.Fatal("a token signed by another key verified")
	}
}

func TestJWKSHandlerHTTP(t *testing.T) {
	ks := mustInit(t)
	h := JWKSHandler(staticSource{ks}, RotationPolicy{})
	tests := []struct {
		name, method, inm string
		status            int
	}{
		{"get", http.MethodGet, "", http.StatusOK},
		{"head", http.MethodHead, "", http.StatusOK},
		{"post", http.MethodPost, "", http.StatusMethodNotAllowed},
		{"not modified", http.MethodGet, fmt.Sprintf(`"%d"`, ks.Version()), http.StatusNotModified},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/.well-known/jwks.json", nil)
			if tc.inm != "" {
				r.Header.Set("If-None-Match", tc.inm)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("got status %d, want %d", w.Code, tc.status)
			}
			if tc.status == http.StatusOK && w.Header().Get("Content-Type") != "application/jwk-set+json" {
				t.Errorf("Content-Type %q", w.Header().Get("Content-Type"))
			}
		})
	}
}
