package auth

import (
	"encoding/binary"
	"errors"

	"github.com/sesame-go/sesame/token"
)

// payload is what an access token seals: the user id and the application's
// data. The refresh family is named by revocation.FamilyIDOf(Sub, sid), so
// it is not carried, except for a family made before family ids were
// derived from session ids (Fam), until such families have ended.
type payload[T any] struct {
	Sub  string
	Fam  string // "" when the family id derives from Sub and the sid
	Data T
}

// The sealed payload is framed in a few bytes instead of a JSON object,
// whose names, quotes and braces cost about 20 bytes, 36 base64 characters in
// the token (the payload is base64 inside the base64 claims):
//
//	0x01 uvarint(len(sub)) sub data
//	0x02 uvarint(len(sub)) sub uvarint(len(fam)) fam data
//
// where data, the rest, is Config.DataCodec's encoding of the session data.
// Version 2 carries a family id that does not derive from the user and
// session ids. Decoding is strict: an unknown version, a length that is not
// minimally encoded or runs past the end, an empty user or family id, or data
// the DataCodec refuses (JSON refuses trailing bytes) is an error, which
// token.Parse reports as token.ErrDecrypt (reason bad_payload).
const (
	payloadV1 = 0x01
	payloadV2 = 0x02
)

var errPayloadFraming = errors.New("auth: malformed token payload")

// payloadCodec is the token.PayloadCodec of auth's access tokens.
type payloadCodec[T any] struct{ data token.PayloadCodec[T] }

func (c payloadCodec[T]) Marshal(p payload[T]) ([]byte, error) {
	if p.Sub == "" {
		return nil, errors.New("auth: empty user id")
	}
	data, err := c.data.Marshal(p.Data)
	if err != nil {
		return nil, err
	}
	n := 1 + binary.MaxVarintLen64 + len(p.Sub) + len(data)
	v := byte(payloadV1)
	if p.Fam != "" {
		v = payloadV2
		n += binary.MaxVarintLen64 + len(p.Fam)
	}
	b := make([]byte, 0, n)
	b = append(b, v)
	b = appendField(b, p.Sub)
	if v == payloadV2 {
		b = appendField(b, p.Fam)
	}
	return append(b, data...), nil
}

func (c payloadCodec[T]) Unmarshal(b []byte, p *payload[T]) error {
	if len(b) == 0 || b[0] != payloadV1 && b[0] != payloadV2 {
		return errPayloadFraming
	}
	v := b[0]
	sub, b, ok := readField(b[1:])
	if !ok {
		return errPayloadFraming
	}
	var fam []byte
	if v == payloadV2 {
		if fam, b, ok = readField(b); !ok {
			return errPayloadFraming
		}
	}
	var data T
	if err := c.data.Unmarshal(b, &data); err != nil {
		return err
	}
	*p = payload[T]{Sub: string(sub), Fam: string(fam), Data: data}
	return nil
}

func appendField(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// readField reads a non-empty length-prefixed field. The length must be
// minimally encoded (a multi-byte uvarint never ends in 0x00), so one
// payload has one encoding.
func readField(b []byte) (field, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || k > 1 && b[k-1] == 0 || n == 0 || n > uint64(len(b)-k) {
		return nil, nil, false
	}
	return b[k : k+int(n)], b[k+int(n):], true
}
