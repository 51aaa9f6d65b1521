package token

import (
	"encoding/json"
	"testing"
)

// FuzzClaimsJSON checks that the fast claims decoder gives exactly what
// encoding/json gives, for every input encoding/json accepts.
func FuzzClaimsJSON(f *testing.F) {
	for _, s := range []string{
		`{"iss":"sesame","aud":"sesame","iat":1795765016,"nbf":1795765016,"exp":1795765616,"jti":"abc","sid":"def","enc":"xyz"}`,
		`{"iss":"a","iss":"b"}`,
		`{"iss":"\u0061","aud":["x"]}`,
		`{"exp":1.5}`, `{"exp":1e3}`, `{"exp":-7}`, `{"exp":99999999999999999999}`,
		`{"extra":{"a":1},"sid":"s"}`, `{}`, ` { "jti" : "x" } `, `{"enc":"caf\u00e9"}`, `{"iss":"é"}`,
		`{"iat":0123}`, `{"iat":-0}`, `{"exp":123456789012345678}`, `{"exp":1234567890123456789}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		type plain wireClaims
		var want plain
		wantErr := json.Unmarshal([]byte(s), &want)
		var got wireClaims
		gotErr := json.Unmarshal([]byte(s), &got)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("%q: encoding/json error %v, ours %v", s, wantErr, gotErr)
		}
		if wantErr == nil && wireClaims(want) != got {
			t.Fatalf("%q: encoding/json %+v, ours %+v", s, want, got)
		}
	})
}
