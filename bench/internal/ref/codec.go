package ref

import (
	"encoding/binary"
	"errors"
)

// Codec is a hand-written binary encoding of [Session], for sesame's
// auth.Config.DataEncoding: a version byte, then uid, email, name, the count of
// roles and each role, tid and loc, every string as a uvarint length and its
// bytes. The reference session takes 148 bytes, against 208 as JSON.
//
// Decoding is strict: another version, a length that is not minimally
// encoded or runs past the end, or trailing bytes is an error. The version
// byte changes with Session's layout, so that a token sealed under an old
// layout fails to decode instead of decoding into the wrong fields.
type Codec struct{}

const codecV1 = 1

var errCodec = errors.New("ref: malformed session encoding")

// Marshal encodes s.
func (Codec) Marshal(s Session) ([]byte, error) {
	n := 1 + 6*binary.MaxVarintLen16 + len(s.UID) + len(s.Email) + len(s.Name) + len(s.TID) + len(s.Loc)
	for _, r := range s.Roles {
		n += binary.MaxVarintLen16 + len(r)
	}
	b := make([]byte, 0, n)
	b = append(b, codecV1)
	b = appendString(b, s.UID)
	b = appendString(b, s.Email)
	b = appendString(b, s.Name)
	b = binary.AppendUvarint(b, uint64(len(s.Roles)))
	for _, r := range s.Roles {
		b = appendString(b, r)
	}
	b = appendString(b, s.TID)
	b = appendString(b, s.Loc)
	return b, nil
}

// Unmarshal decodes b into s, which it changes only on success.
func (Codec) Unmarshal(b []byte, s *Session) error {
	if len(b) == 0 || b[0] != codecV1 {
		return errCodec
	}
	d := decoder{b: b[1:]}
	var out Session
	out.UID = d.string()
	out.Email = d.string()
	out.Name = d.string()
	// Each role takes at least one byte, which bounds the allocation.
	if n := d.uvarint(); n > 0 && n <= uint64(len(d.b)) {
		out.Roles = make([]string, n)
		for i := range out.Roles {
			out.Roles[i] = d.string()
		}
	} else if n > 0 {
		d.bad = true
	}
	out.TID = d.string()
	out.Loc = d.string()
	if d.bad || len(d.b) != 0 {
		return errCodec
	}
	*s = out
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads from b until the first error, after which every read gives
// a zero value and bad stays set.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) uvarint() uint64 {
	if d.bad {
		return 0
	}
	v, k := binary.Uvarint(d.b)
	if k <= 0 || k > 1 && d.b[k-1] == 0 { // truncated, overflowing or not minimal
		d.bad = true
		return 0
	}
	d.b = d.b[k:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.b)) {
		d.bad = true
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
