package auth

import (
	"encoding/binary"
	"errors"

	"github.com/sesame-go/sesame/token"
)

// payload is what an access token seals: the user id and the application's
// data. The refresh family's id derives from the user and session ids
// (revocation.DeriveFamilyID), so it is not carried.
type payload[T any] struct {
	Sub  string
	Data T
}

// The sealed payload is framed in a few bytes instead of a JSON object,
// whose names, quotes and braces cost about 20 bytes, 36 base64 characters in
// the token (the payload is base64 inside the base64 claims):
//
//	0x01 uvarint(len(sub)) sub data
//
// where data, the rest, is Config.DataEncoding's encoding of the session
// data. Decoding is strict: an unknown version, a length that is not
// minimally encoded or runs past the end, an empty user id, or data the
// DataEncoding refuses (JSON refuses trailing bytes) is an error, which
// token.Parse reports as token.ErrDecrypt (reason bad_payload).
const payloadV1 = 0x01

var errPayloadFraming = errors.New("auth: malformed token payload")

// payloadEncoding is the token.Encoding of auth's access tokens.
type payloadEncoding[T any] struct{ data token.Encoding[T] }

func (c payloadEncoding[T]) Marshal(p payload[T]) ([]byte, error) {
	if p.Sub == "" {
		return nil, errors.New("auth: empty user id")
	}
	data, err := c.data.Marshal(p.Data)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(p.Sub)+len(data))
	b = append(b, payloadV1)
	b = binary.AppendUvarint(b, uint64(len(p.Sub)))
	b = append(b, p.Sub...)
	return append(b, data...), nil
}

func (c payloadEncoding[T]) Unmarshal(b []byte, p *payload[T]) error {
	if len(b) == 0 || b[0] != payloadV1 {
		return errPayloadFraming
	}
	sub, b, ok := readField(b[1:])
	if !ok {
		return errPayloadFraming
	}
	var data T
	if err := c.data.Unmarshal(b, &data); err != nil {
		return err
	}
	*p = payload[T]{Sub: string(sub), Data: data}
	return nil
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
