package auth

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"

	"github.com/sesame-go/sesame/token"
)

// rawData is a DataEncoding that seals a byte string as it is, so the fuzz
// target can check that framing round-trips byte for byte.
type rawData struct{}

func (rawData) Marshal(b []byte) ([]byte, error) { return bytes.Clone(b), nil }
func (rawData) Unmarshal(b []byte, v *[]byte) error {
	*v = bytes.Clone(b)
	return nil
}

type framed struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles,omitempty"`
}

func TestPayloadFraming(t *testing.T) {
	c := payloadEncoding[framed]{token.JSONEncoding[framed]{}}
	for _, tc := range []struct {
		name string
		in   payload[framed]
		want string
	}{
		{"derived family", payload[framed]{Sub: "u1", Data: framed{Name: "A"}},
			"\x01\x02u1" + `{"name":"A"}`},
		{"long user id", payload[framed]{Sub: strings.Repeat("u", 200), Data: framed{Roles: []string{"r"}}},
			"\x01\xc8\x01" + strings.Repeat("u", 200) + `{"name":"","roles":["r"]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := c.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Fatalf("got %q, want %q", b, tc.want)
			}
			var out payload[framed]
			if err := c.Unmarshal(b, &out); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(out, tc.in) {
				t.Fatalf("round trip: got %+v, want %+v", out, tc.in)
			}
		})
	}
	if _, err := c.Marshal(payload[framed]{}); err == nil {
		t.Error("Marshal accepted an empty user id")
	}
}

// TestPayloadFramingStrict: anything Marshal would not produce is refused.
func TestPayloadFramingStrict(t *testing.T) {
	c := payloadEncoding[framed]{token.JSONEncoding[framed]{}}
	const data = `{"name":"A"}`
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"version only", "\x01"},
		{"version 0", "\x00\x02u1" + data},
		{"version 3", "\x03\x02u1" + data},
		{"legacy JSON", `{"s":"u1","f":"F","d":` + data + `}`},
		{"truncated length", "\x01\x80"},
		{"length past the end", "\x01\x09u1"},
		{"length past the end by one", "\x01\x03u1"},
		{"non-minimal length", "\x01\x82\x00u1" + data},
		{"overlong length", "\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01u1" + data},
		{"empty user id", "\x01\x00" + data},
		{"no data", "\x01\x02u1"},
		{"trailing garbage", "\x01\x02u1" + data + "x"},
		{"second object", "\x01\x02u1" + data + data},
		{"truncated data", "\x01\x02u1" + data[:len(data)-1]},
		{"version 2 (a family id: no longer made)", "\x02\x02u1\x01F" + data},
		{"v2 without family", "\x02\x02u1"},
		{"v2 empty family", "\x02\x02u1\x00" + data},
		{"v2 family past the end", "\x02\x02u1\x05F"},
		{"v2 non-minimal family length", "\x02\x02u1\x81\x00F" + data},
	} {
		var out payload[framed]
		if err := c.Unmarshal([]byte(tc.in), &out); err == nil {
			t.Errorf("%s: %q accepted as %+v", tc.name, tc.in, out)
		}
	}
}

// FuzzPayload checks the framing on arbitrary bytes: it never panics; with a
// raw DataEncoding, what decodes re-encodes to the same bytes (one payload, one
// encoding); with JSON, what decodes re-encodes with the same framing, to a
// fixed point.
func FuzzPayload(f *testing.F) {
	raw := payloadEncoding[[]byte]{rawData{}}
	js := payloadEncoding[framed]{token.JSONEncoding[framed]{}}
	for _, p := range []payload[framed]{
		{Sub: "uid-alice", Data: framed{Name: "Alice", Roles: []string{"admin"}}},
		{Sub: "uid-bob", Data: framed{}},
		{Sub: strings.Repeat("x", 300), Data: framed{Name: "y"}},
	} {
		b, err := js.Marshal(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-1])
		f.Add(append(bytes.Clone(b), ' '))
	}
	for _, s := range []string{"", "\x01", "\x02", "\x01\x80", "\x01\x82\x00u", "\x02\x01u\x00", "\xff", `{"s":"u"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p payload[[]byte]
		if err := raw.Unmarshal(b, &p); err == nil {
			if p.Sub == "" || b[0] != payloadV1 {
				t.Fatalf("decoded %q as %+v", b, p)
			}
			again, err := raw.Marshal(p)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("decoded %q, re-encoded %q (%v)", b, again, err)
			}
		}
		var q payload[framed]
		if err := js.Unmarshal(b, &q); err != nil {
			return
		}
		again, err := js.Marshal(q)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", q, err)
		}
		// JSON itself is not canonical (key order, spaces, [] against
		// omitempty), so the check is that one round trip reaches a fixed
		// point: decoding the re-encoding and encoding again changes nothing.
		var q2 payload[framed]
		if err := js.Unmarshal(again, &q2); err != nil || q2.Sub != q.Sub {
			t.Fatalf("%q decoded as %+v, re-encoded as %q, decoded as %+v (%v)", b, q, again, q2, err)
		}
		if third, err := js.Marshal(q2); err != nil || !bytes.Equal(third, again) {
			t.Fatalf("%q re-encoded as %q, then as %q (%v)", b, again, third, err)
		}
		if head := len(again) - len(mustJSON(t, q.Data)); !bytes.Equal(again[:head], b[:head]) {
			t.Fatalf("framing of %q re-encoded as %q", b, again)
		}
	})
}

func mustJSON(t *testing.T, v framed) []byte {
	t.Helper()
	b, err := token.JSONEncoding[framed]{}.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReadField pins the length rules on their own.
func TestReadField(t *testing.T) {
	long := binary.AppendUvarint(nil, 300)
	for _, tc := range []struct {
		in         string
		field, rst string
		ok         bool
	}{
		{"\x01ab", "a", "b", true},
		{"\x02ab", "ab", "", true},
		{string(long) + strings.Repeat("z", 301), strings.Repeat("z", 300), "z", true},
		{"\x00ab", "", "", false},
		{"\x03ab", "", "", false},
		{"\x81\x00a", "", "", false},
		{"\x80", "", "", false},
		{"", "", "", false},
	} {
		field, rest, ok := readField([]byte(tc.in))
		if ok != tc.ok || string(field) != tc.field || string(rest) != tc.rst {
			t.Errorf("readField(%q) = %q, %q, %v; want %q, %q, %v", tc.in, field, rest, ok, tc.field, tc.rst, tc.ok)
		}
	}
	if _, _, ok := readField([]byte("\x01")); ok {
		t.Error("a length with no field accepted")
	}
}
