package token

import "encoding/json"

// UnmarshalJSON decodes the claims. Tokens minted by sesame are a flat
// object of plain strings and integers, which fastDecode reads without
// reflection; anything else (escapes, non-ASCII, unknown or repeated
// members, floats, nested values) goes to encoding/json, so the result is
// always exactly what encoding/json would decode. encoding/json has already
// checked that b is valid JSON when this runs.
func (c *wireClaims) UnmarshalJSON(b []byte) error {
	if c.fastDecode(b) {
		return nil
	}
	*c = wireClaims{}
	type plain wireClaims // the same fields, without this method
	return json.Unmarshal(b, (*plain)(c))
}

func (c *wireClaims) fastDecode(b []byte) bool {
	var seen uint8
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipSpace(b, i+1) == len(b)
	}
	for {
		key, j, ok := plainString(b, i)
		if !ok {
			return false
		}
		i = skipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		var bit uint8
		switch string(key) {
		case "iss", "aud", "jti", "sid", "enc":
			v, j, ok := plainString(b, i)
			if !ok {
				return false
			}
			i = j
			switch string(key) {
			case "iss":
				bit, c.Iss = 1, string(v)
			case "aud":
				bit, c.Aud = 2, string(v)
			case "jti":
				bit, c.Jti = 4, string(v)
			case "sid":
				bit, c.Sid = 8, string(v)
			case "enc":
				bit, c.Enc = 16, string(v)
			}
		case "iat", "nbf", "exp":
			n, j, ok := plainInt(b, i)
			if !ok {
				return false
			}
			i = j
			switch string(key) {
			case "iat":
				bit, c.Iat = 32, n
			case "nbf":
				bit, c.Nbf = 64, n
			case "exp":
				bit, c.Exp = 128, n
			}
		default:
			return false
		}
		if seen&bit != 0 {
			return false // a repeated member: let encoding/json decide
		}
		seen |= bit
		i = skipSpace(b, i)
		switch {
		case i < len(b) && b[i] == ',':
			i = skipSpace(b, i+1)
		case i < len(b) && b[i] == '}':
			return skipSpace(b, i+1) == len(b)
		default:
			return false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString reads a JSON string of printable ASCII without escapes, and
// returns its contents and the index after it.
func plainString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, i, false
		}
	}
	return nil, i, false
}

// plainInt reads a JSON integer of at most 18 digits (no fraction, no
// exponent: those go to encoding/json, which refuses them for int64 or
// decodes them identically).
func plainInt(b []byte, i int) (int64, int, bool) {
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	start := i
	var n int64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' && i-start < 18 {
		n = n*10 + int64(b[i]-'0')
		i++
	}
	if i == start || (i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E' || (b[i] >= '0' && b[i] <= '9'))) {
		return 0, i, false
	}
	if b[start] == '0' && i-start > 1 {
		return 0, i, false // leading zeros are not JSON; encoding/json refused the input already
	}
	if neg {
		n = -n
	}
	return n, i, true
}
