package ref

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestCodec(t *testing.T) {
	s := Must()
	b, err := Codec{}.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(s)
	t.Logf("reference session: %d bytes binary, %d bytes JSON", len(b), len(js))
	if len(b) >= len(js) {
		t.Fatalf("binary %d bytes, JSON %d", len(b), len(js))
	}
	var got Session
	if err := (Codec{}).Unmarshal(b, &got); err != nil || !Equal(got, s) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	empty, _ := Codec{}.Marshal(Session{})
	if string(empty) != "\x01\x00\x00\x00\x00\x00\x00" {
		t.Fatalf("empty session encodes as %q", empty)
	}
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"version 0", "\x00\x00\x00\x00\x00\x00\x00"},
		{"version 2", "\x02\x00\x00\x00\x00\x00\x00"},
		{"truncated", string(b[:len(b)-1])},
		{"trailing byte", string(b) + "\x00"},
		{"missing fields", "\x01\x00\x00\x00\x00\x00"},
		{"length past the end", "\x01\x05ab"},
		{"non-minimal length", "\x01\x80\x00\x00\x00\x00\x00\x00"},
		{"role count past the end", "\x01\x00\x00\x00\x10\x00\x00"},
		{"huge role count", "\x01\x00\x00\x00\xff\xff\xff\xff\x0f\x00\x00"},
	} {
		before := Session{UID: "kept"}
		if err := (Codec{}).Unmarshal([]byte(tc.in), &before); err == nil || before.UID != "kept" {
			t.Errorf("%s: %q accepted (or the target changed: %+v)", tc.name, tc.in, before)
		}
	}
}

// FuzzCodec: decoding never panics, and what decodes re-encodes to the same
// bytes (one session, one encoding).
func FuzzCodec(f *testing.F) {
	b, err := Codec{}.Marshal(Must())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)-1])
	f.Add([]byte("\x01\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("\x01\x00\x00\x00\xff\xff\xff\xff\x0f\x00\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var s Session
		if err := (Codec{}).Unmarshal(in, &s); err != nil {
			return
		}
		out, err := Codec{}.Marshal(s)
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("%q decoded as %+v, re-encoded as %q (%v)", in, s, out, err)
		}
	})
}
