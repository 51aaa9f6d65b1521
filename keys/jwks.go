package keys

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// JWK is one public key of a JSON Web Key Set, in the OKP form of RFC 8037.
type JWK struct {
	KTY string `json:"kty"` // "OKP"
	CRV string `json:"crv"` // "Ed25519"
	X   string `json:"x"`   // the public key, base64url without padding
	KID string `json:"kid"`
	Use string `json:"use"` // "sig"
	Alg string `json:"alg"` // "EdDSA"
}

// JWKSet is a JSON Web Key Set (RFC 7517, section 5).
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// JWKS returns the public keys of the pending, active and verify-only
// generations: pending ones so that verifiers learn a key before it signs,
// verify-only ones until the tokens they signed have expired. Revoked and
// retired keys are left out, and no secret ever is.
func (s *Keyset) JWKS() JWKSet {
	set := JWKSet{Keys: []JWK{}}
	for _, k := range s.keys {
		if !k.state.Published() {
			continue
		}
		set.Keys = append(set.Keys, JWK{
			KTY: "OKP",
			CRV: "Ed25519",
			X:   base64.RawURLEncoding.EncodeToString(k.m.pub),
			KID: k.id,
			Use: "sig",
			Alg: "EdDSA",
		})
	}
	return set
}

// Source gives the keyset in use; [Holder] is one.
type Source interface{ Current() *Keyset }

// JWKSHandler serves the JWKS of src's current keyset, for
// /.well-known/jwks.json. Responses carry `Cache-Control: public,
// max-age=N` with N the policy's JWKSMaxAge, which is shorter than the
// publish delay: a verifier that cached the set just before a key appeared
// refreshes before that key signs. It panics if the policy is invalid (a
// programmer error; validate it first with [RotationPolicy.Validate]).
func JWKSHandler(src Source, p RotationPolicy) http.Handler {
	p, err := p.resolve()
	if err != nil {
		panic(err.Error())
	}
	cacheControl := "public, max-age=" + strconv.Itoa(int(p.JWKSMaxAge/time.Second))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		ks := src.Current()
		body, err := json.Marshal(ks.JWKS())
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/jwk-set+json")
		h.Set("Cache-Control", cacheControl)
		h.Set("ETag", `"`+strconv.FormatUint(ks.Version(), 10)+`"`)
		// ServeContent answers If-None-Match with 304 from the ETag.
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}
