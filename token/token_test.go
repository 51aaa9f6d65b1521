package token_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"maps"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/token"
)

func TestRoundTripPayloadTypes(t *testing.T) {
	f := newFixture(t)
	opts := &token.Options{Now: f.clk.Now}

	t.Run("struct", func(t *testing.T) {
		raw, claims, err := f.codec.Mint(f.ks, "sid-1", refSession)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := f.codec.Parse(f.ks, raw)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if tok.Claims != claims {
			t.Errorf("claims: got %+v, want %+v", tok.Claims, claims)
		}
		if tok.Payload.Email != refSession.Email || len(tok.Payload.Roles) != 4 {
			t.Errorf("payload: got %+v", tok.Payload)
		}
		if claims.SessionID != "sid-1" || claims.KeyID != f.active.ID() || claims.Issuer != "https://id.example" ||
			claims.Audience != "shop" || !claims.IssuedAt.Equal(t0) || !claims.ExpiresAt.Equal(t0.Add(10*time.Minute)) {
			t.Errorf("unexpected claims %+v", claims)
		}
	})
	t.Run("map", func(t *testing.T) {
		c := mustCodec[map[string]int](t, opts)
		raw, _, err := c.Mint(f.ks, "s", map[string]int{"a": 1, "b": 2})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := c.Parse(f.ks, raw)
		if err != nil || !maps.Equal(tok.Payload, map[string]int{"a": 1, "b": 2}) {
			t.Fatalf("got %v, %v", tok, err)
		}
	})
	for _, size := range []int{0, 1, 100, 1000, 1500} {
		t.Run("bytes", func(t *testing.T) {
			c := mustCodec[[]byte](t, opts)
			in := make([]byte, size*3/4) // JSON base64 expands by 4/3
			for i := range in {
				in[i] = byte(i)
			}
			raw, _, err := c.Mint(f.ks, "s", in)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := c.Parse(f.ks, raw)
			if err != nil || string(tok.Payload) != string(in) {
				t.Fatalf("size %d: got %v", size, err)
			}
		})
	}
	t.Run("string", func(t *testing.T) {
		c := mustCodec[string](t, opts)
		raw, _, err := c.Mint(f.ks, "s", "héllo \x00 wörld")
		if err != nil {
			t.Fatal(err)
		}
		tok, err := c.Parse(f.ks, raw)
		if err != nil || tok.Payload != "héllo \x00 wörld" {
			t.Fatalf("got %v, %v", tok, err)
		}
	})
}

func TestMintRefusesLargePayload(t *testing.T) {
	f := newFixture(t)
	c := mustCodec[string](t, &token.Options{Now: f.clk.Now})
	_, _, err := c.Mint(f.ks, "s", strings.Repeat("x", 1535))
	if !errors.Is(err, token.ErrPayloadTooLarge) {
		t.Fatalf("got %v, want ErrPayloadTooLarge", err)
	}
	raw, _, err := c.Mint(f.ks, "s", strings.Repeat("x", 1534)) // 1536 bytes with quotes
	if err != nil {
		t.Fatalf("payload at the limit: %v", err)
	}
	if len(raw) > 4000 {
		t.Errorf("a payload at the default limit gives a %d-byte token; cookies hold ~4096", len(raw))
	}
}

func TestMintNeedsActiveKeyAndSession(t *testing.T) {
	f := newFixture(t)
	if _, _, err := f.codec.Mint(nil, "s", refSession); !errors.Is(err, keys.ErrNoActiveKey) {
		t.Errorf("nil keyset: got %v", err)
	}
	for _, sid := range []string{"", strings.Repeat("s", 129), "a\x00b"} {
		if _, _, err := f.codec.Mint(f.ks, sid, refSession); err == nil {
			t.Errorf("sid %q accepted", sid)
		}
	}
}

func TestVerifyOnlyKeyStillVerifies(t *testing.T) {
	f := newFixture(t)
	raw := f.mint(t)
	// Rotate: the signer becomes verify-only, the pending key active.
	ks2, err := f.ks.Rotate(testPolicy, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.codec.Parse(ks2, raw); err != nil {
		t.Fatalf("token of a verify-only key refused: %v", err)
	}
}

// TestRejections reaches every reason with a constructed token, and checks
// the error wraps exactly that reason and never contains the token.
func TestRejections(t *testing.T) {
	f := newFixture(t)
	valid := f.mint(t)
	hdr, claims, _ := segments(t, valid)
	other := newFixture(t) // same shape, different keys

	with := func(m map[string]any, kv ...any) map[string]any {
		c := maps.Clone(m)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
			} else {
				c[kv[i].(string)] = kv[i+1]
			}
		}
		return c
	}
	unsigned := func(h, c map[string]any, sig string) string {
		s := resign(t, f.active, h, c)
		return s[:strings.LastIndexByte(s, '.')+1] + sig
	}
	pub := []byte(f.active.PublicKey())
	der, err := x509.MarshalPKIXPublicKey(f.active.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})

	// Tokens from a keyset with the active key revoked, and from one where
	// it stopped signing and was retired (pruned once its tokens expired).
	revokedKS, err := f.ks.ForceRevoke(f.active.ID(), t0)
	if err != nil {
		t.Fatal(err)
	}
	retiredKS, err := f.ks.Rotate(testPolicy, t0)
	if err == nil {
		retiredKS, err = retiredKS.Prune(testPolicy, t0.Add(2*time.Hour))
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := retiredKS.Key(f.active.ID()); ok {
		t.Fatal("the retired key is still in the keyset")
	}

	// An enc from another token: a transplant between two of our tokens.
	_, claims2, _ := segments(t, f.mint(t))

	iat := claims["iat"].(float64)
	tests := []struct {
		name string
		raw  string
		ks   *keys.Keyset
		at   time.Duration // clock offset from t0
		want error
	}{
		{"empty", "", nil, 0, token.ErrMalformed},
		{"two segments", strings.Join(strings.Split(valid, ".")[:2], "."), nil, 0, token.ErrMalformed},
		{"four segments", valid + ".x", nil, 0, token.ErrMalformed},
		{"padded signature", valid + "=", nil, 0, token.ErrMalformed},
		{"std alphabet", stdAlphabet(t, f), nil, 0, token.ErrMalformed},
		{"9 MiB", strings.Repeat("a", 9<<20), nil, 0, token.ErrTooLarge},
		{"alg none no sig", unsigned(with(hdr, "alg", "none"), claims, ""), nil, 0, token.ErrBadSignature},
		{"alg None no sig", unsigned(with(hdr, "alg", "None"), claims, ""), nil, 0, token.ErrBadSignature},
		{"alg NONE with sig", unsigned(with(hdr, "alg", "NONE"), claims, "c2ln"), nil, 0, token.ErrBadSignature},
		{"alg nOnE with sig", unsigned(with(hdr, "alg", "nOnE"), claims, strings.Split(valid, ".")[2]), nil, 0, token.ErrBadSignature},
		{"alg none keeps real sig", unsigned(with(hdr, "alg", "none"), claims, strings.Split(valid, ".")[2]), nil, 0, token.ErrBadSignature},
		{"alg missing", unsigned(with(hdr, "alg", nil), claims, strings.Split(valid, ".")[2]), nil, 0, token.ErrBadSignature},
		{"alg Ed25519", resign(t, f.active, with(hdr, "alg", "Ed25519"), claims), nil, 0, token.ErrBadSignature},
		{"alg eddsa", resign(t, f.active, with(hdr, "alg", "eddsa"), claims), nil, 0, token.ErrBadSignature},
		{"HS256 keyed with raw public key", hs256(t, pub, with(hdr, "alg", "HS256"), claims), nil, 0, token.ErrBadSignature},
		{"HS256 keyed with base64 public key", hs256(t, []byte(base64.RawURLEncoding.EncodeToString(pub)), with(hdr, "alg", "HS256"), claims), nil, 0, token.ErrBadSignature},
		{"HS256 keyed with PEM public key", hs256(t, pemKey, with(hdr, "alg", "HS256"), claims), nil, 0, token.ErrBadSignature},
		{"signature of another key", resign(t, other.active, hdr, claims), nil, 0, token.ErrBadSignature},
		{"empty signature", unsigned(hdr, claims, ""), nil, 0, token.ErrBadSignature},
		{"short signature", unsigned(hdr, claims, "AAAA"), nil, 0, token.ErrBadSignature},
		{"zero signature", unsigned(hdr, claims, base64.RawURLEncoding.EncodeToString(make([]byte, 64))), nil, 0, token.ErrBadSignature},
		{"unknown kid", resign(t, other.active, with(hdr, "kid", other.active.ID()), claims), nil, 0, token.ErrUnknownKey},
		{"pending kid", resign(t, f.pending, with(hdr, "kid", f.pending.ID()), claims), nil, 0, token.ErrUnknownKey},
		{"missing kid", resign(t, f.active, with(hdr, "kid", nil), claims), nil, 0, token.ErrMalformed},
		{"kid path traversal", resign(t, f.active, with(hdr, "kid", "../../etc/passwd"), claims), nil, 0, token.ErrUnknownKey},
		{"revoked kid", valid, revokedKS, 0, token.ErrKeyRevoked},
		{"retired kid", valid, retiredKS, 0, token.ErrUnknownKey},
		{"extra header jku", resign(t, f.active, with(hdr, "jku", "http://127.0.0.1:1/jwks"), claims), nil, 0, token.ErrMalformed},
		{"extra header crit", resign(t, f.active, with(hdr, "crit", []string{"b64"}, "b64", false), claims), nil, 0, token.ErrMalformed},
		{"typ JWT", resign(t, f.active, with(hdr, "typ", "JWT"), claims), nil, 0, token.ErrMalformed},
		{"typ missing", resign(t, f.active, with(hdr, "typ", nil), claims), nil, 0, token.ErrMalformed},
		{"expired", valid, nil, 10*time.Minute + 31*time.Second, token.ErrExpired},
		{"expired but within leeway", valid, nil, 10*time.Minute + 29*time.Second, nil},
		{"not yet valid", valid, nil, -31 * time.Second, token.ErrNotYetValid},
		{"not yet valid but within leeway", valid, nil, -29 * time.Second, nil},
		{"nbf in future", resign(t, f.active, hdr, with(claims, "nbf", iat+120)), nil, 0, token.ErrNotYetValid},
		{"wrong iss", resign(t, f.active, hdr, with(claims, "iss", "https://evil.example")), nil, 0, token.ErrClaims},
		{"wrong aud", resign(t, f.active, hdr, with(claims, "aud", "other")), nil, 0, token.ErrClaims},
		{"aud array", resign(t, f.active, hdr, with(claims, "aud", []string{"shop"})), nil, 0, token.ErrMalformed},
		{"missing exp", resign(t, f.active, hdr, with(claims, "exp", nil)), nil, 0, token.ErrMalformed},
		{"missing iat", resign(t, f.active, hdr, with(claims, "iat", nil)), nil, 0, token.ErrMalformed},
		{"missing nbf", resign(t, f.active, hdr, with(claims, "nbf", nil)), nil, 0, token.ErrMalformed},
		{"fractional exp", resign(t, f.active, hdr, with(claims, "exp", iat+60.5)), nil, 0, token.ErrMalformed},
		{"absurd exp", resign(t, f.active, hdr, with(claims, "exp", 1e300)), nil, 0, token.ErrMalformed},
		{"lifetime too long", resign(t, f.active, hdr, with(claims, "exp", iat+3600)), nil, 0, token.ErrClaims},
		{"exp before iat", resign(t, f.active, hdr, with(claims, "exp", iat-1, "nbf", iat-10, "iat", iat)), nil, -5 * time.Second, token.ErrClaims},
		{"missing jti", resign(t, f.active, hdr, with(claims, "jti", nil)), nil, 0, token.ErrClaims},
		{"missing sid", resign(t, f.active, hdr, with(claims, "sid", nil)), nil, 0, token.ErrClaims},
		{"enc transplanted", resign(t, f.active, hdr, with(claims, "enc", claims2["enc"])), nil, 0, token.ErrDecrypt},
		{"sid changed", resign(t, f.active, hdr, with(claims, "sid", "another")), nil, 0, token.ErrDecrypt},
		{"jti changed", resign(t, f.active, hdr, with(claims, "jti", "another")), nil, 0, token.ErrDecrypt},
		{"enc missing", resign(t, f.active, hdr, with(claims, "enc", nil)), nil, 0, token.ErrDecrypt},
		{"enc short", resign(t, f.active, hdr, with(claims, "enc", "AAAA")), nil, 0, token.ErrDecrypt},
		{"enc not base64", resign(t, f.active, hdr, with(claims, "enc", strings.Repeat("*", 60))), nil, 0, token.ErrDecrypt},
		{"enc tampered", resign(t, f.active, hdr, with(claims, "enc", flipLast(claims["enc"].(string)))), nil, 0, token.ErrDecrypt},
		{"enc sealed by other key", resign(t, f.active, hdr, with(claims, "enc", sealedByOther(t, other, claims))), nil, 0, token.ErrDecrypt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ks := tc.ks
			if ks == nil {
				ks = f.ks
			}
			f.clk.Set(t0.Add(tc.at))
			defer f.clk.Set(t0)
			tok, err := f.codec.Parse(ks, tc.raw)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got error %v, want %v", err, tc.want)
			}
			if tok != nil {
				t.Errorf("rejected token returned claims %+v", tok)
			}
			if got, want := token.Reason(err), token.Reason(tc.want); got != want {
				t.Errorf("Reason = %q, want %q", got, want)
			}
			if len(tc.raw) > 20 && strings.Contains(err.Error(), tc.raw[len(tc.raw)-20:]) {
				t.Errorf("error %q contains part of the token", err)
			}
		})
	}
}

func flipLast(s string) string {
	b := []byte(s)
	// Change the first character: decoded bytes change and the encoding stays canonical.
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

// sealedByOther mints a token with other's keys and returns its enc, valid in
// every respect except the key it was sealed under.
func sealedByOther(t *testing.T, other *fixture, claims map[string]any) string {
	t.Helper()
	raw, _, err := other.codec.Mint(other.ks, claims["sid"].(string), refSession)
	if err != nil {
		t.Fatal(err)
	}
	_, c, _ := segments(t, raw)
	return c["enc"].(string)
}

// TestEveryByteFlipRejected flips each byte of a valid token (header,
// payload and signature) and checks every variant is refused.
func TestEveryByteFlipRejected(t *testing.T) {
	f := newFixture(t)
	raw := f.mint(t)
	b := []byte(raw)
	for i := range b {
		orig := b[i]
		for _, x := range []byte{0x01, 0x20} {
			b[i] = orig ^ x
			if tok, err := f.codec.Parse(f.ks, string(b)); err == nil {
				t.Fatalf("flip 0x%02x at byte %d accepted (payload %+v)", x, i, tok.Payload)
			}
		}
		b[i] = orig
	}
	if _, err := f.codec.Parse(f.ks, string(b)); err != nil {
		t.Fatalf("restored token refused: %v", err)
	}
}

func TestLifetimeLongerThanMaximum(t *testing.T) {
	f := newFixture(t)
	long := mustCodec[Session](t, &token.Options{Issuer: "https://id.example", Audience: "shop", TTL: time.Hour, Now: f.clk.Now})
	raw, _, err := long.Mint(f.ks, "s", refSession)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.codec.Parse(f.ks, raw); !errors.Is(err, token.ErrClaims) {
		t.Fatalf("1h token with 10m maximum: got %v, want ErrClaims", err)
	}
	if _, err := long.Parse(f.ks, raw); err != nil {
		t.Fatalf("1h token with 1h maximum: %v", err)
	}
}

// TestHugeTokenBoundedAllocation checks a 9 MiB token is refused before any
// decoding: a constant, tiny number of allocations and bytes.
func TestHugeTokenBoundedAllocation(t *testing.T) {
	f := newFixture(t)
	huge := strings.Repeat("eyJhbGciOiJub25lIn0.", 9<<20/20)
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := f.codec.Parse(f.ks, huge); !errors.Is(err, token.ErrTooLarge) {
			t.Fatalf("got %v", err)
		}
	})
	if allocs > 0 {
		t.Errorf("9 MiB token: %v allocations per parse, want 0", allocs)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		f.codec.Parse(f.ks, huge)
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 64<<10 {
		t.Errorf("10 parses of a 9 MiB token allocated %d bytes", d)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []token.Options{
		{TTL: time.Millisecond},
		{TTL: time.Hour, MaxLifetime: time.Minute},
		{MaxTokenSize: 10},
		{MaxPayloadSize: 1 << 20},
	} {
		if _, err := token.New[Session](&o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
	c := mustCodec[Session](t, nil)
	o := c.Options()
	if o.TTL != 10*time.Minute || o.Leeway != 30*time.Second || o.MaxTokenSize != 8<<10 || o.Issuer != "sesame" {
		t.Errorf("defaults: %+v", o)
	}
	if o := mustCodec[Session](t, &token.Options{Leeway: -1}).Options(); o.Leeway != 0 {
		t.Errorf("negative leeway gives %v, want none", o.Leeway)
	}
}

func TestNoncesAndIDsUnique(t *testing.T) {
	f := newFixture(t)
	seenEnc := make(map[string]bool)
	seenJTI := make(map[string]bool)
	for range 2000 {
		raw, c, err := f.codec.Mint(f.ks, "same-session", refSession)
		if err != nil {
			t.Fatal(err)
		}
		_, claims, _ := segments(t, raw)
		nonce := claims["enc"].(string)[:32] // 24 bytes = 32 base64 chars
		if seenEnc[nonce] || seenJTI[c.ID] {
			t.Fatalf("repeated nonce or jti after %d tokens", len(seenEnc))
		}
		seenEnc[nonce], seenJTI[c.ID] = true, true
	}
}

func TestClearClaimsCarryNoPayload(t *testing.T) {
	f := newFixture(t)
	raw := f.mint(t)
	body, _ := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[1])
	for _, pii := range []string{refSession.Email, refSession.Name, refSession.UserID, refSession.Tenant} {
		if strings.Contains(string(body), pii) || strings.Contains(raw, pii) {
			t.Errorf("clear token contains %q", pii)
		}
	}
}

func TestReason(t *testing.T) {
	if token.Reason(nil) != "" {
		t.Error("Reason(nil) not empty")
	}
	if got := token.Reason(errors.New("x")); got != "invalid_token" {
		t.Errorf("unknown error: %q", got)
	}
	seen := map[string]bool{}
	for _, r := range token.Reasons() {
		if seen[r] || r == "" {
			t.Errorf("duplicate or empty reason %q", r)
		}
		seen[r] = true
	}
}

// stdAlphabet returns a valid token re-spelt in the standard base64
// alphabet. About one token in 15 has no '-' or '_' to re-spell (they come
// mostly from the random signature), so it mints until one has.
func stdAlphabet(t *testing.T, f *fixture) string {
	for {
		if raw := f.mint(t); strings.ContainsAny(raw, "-_") {
			return strings.NewReplacer("-", "+", "_", "/").Replace(raw)
		}
	}
}
