package ref

import (
	"bytes"
	"testing"
)

// TestEmbeddedContent pins the reference session: every published figure
// (token sizes, per-request costs) was measured with exactly this data, so
// a change to the file must be deliberate and re-measured.
func TestEmbeddedContent(t *testing.T) {
	want := Session{
		UID:   "usr_01J9ZK3M7Q4W2B8D5F6G7H8J9K",
		Email: "a.richardson@example-corp.com",
		Name:  "Alexandra Richardson",
		Roles: []string{"admin", "billing:read", "billing:write", "support"},
		TID:   "tnt_7f3a9c2e41b8",
		Loc:   "en-GB",
	}
	got, err := Decode(Embedded())
	if err != nil {
		t.Fatal(err)
	}
	if !Equal(got, want) {
		t.Errorf("reference session is %+v, want %+v", got, want)
	}
	if n := len(bytes.TrimSpace(Embedded())); n != 208 {
		t.Errorf("reference session is %d bytes of JSON, want 208", n)
	}
}

func TestLoad(t *testing.T) {
	s, src, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reference session from %s", src)
	if s.UID == "" || s.Email == "" || s.Name == "" || len(s.Roles) != 4 || s.TID == "" || s.Loc == "" {
		t.Fatalf("incomplete reference session: %+v", s)
	}
	if _, err := Decode(append(Embedded()[:len(Embedded())-2], `,"x":1}`...)); err == nil {
		t.Fatal("an unknown field was accepted")
	}
}
