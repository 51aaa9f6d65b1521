package auth

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"time"
)

// Device tokens keep a user's own devices out of the lockout an attacker
// causes (OWASP's "device cookies"). Ten wrong passwords for a username, from
// anywhere, use up its budget (Config.Limits.FailuresPerUser): without more,
// its owner could not log in either. So every successful login hands the
// client a device token, signed and bound to the username, and a login that
// presents a valid one for the username it names is counted against that
// device's own budget (Limits.FailuresPerDevice) instead of the username's.
// It still counts against its address's budget (Limits.LoginsPerAddress).
// Everyone else gets 429 with Retry-After until the username's budget
// refills: they are slowed down, not locked out for good (one attempt per
// Window/FailuresPerUser, 30s at the defaults).
//
// A stolen device token gives its thief the device's budget, 10 guesses per
// Window, and nothing more: it is not a credential, and the password is
// still checked. It cannot be moved to another username (the username is
// under the MAC) and dies at its expiry (Limits.DeviceTTL, 90 days).
//
// The token, base64url without padding, 57 bytes: a version byte (1), a
// 128-bit random device id, the expiry (unix seconds, 8 bytes), and
// HMAC-SHA256 over the label, the lower-cased username, the id and the
// expiry. The HMAC key is derived from Config.DataKey with HKDF-SHA256
// (info [deviceKeyLabel]), so every node of a fleet (which shares the
// DataKey, derived by Open from the master key) accepts every other's
// tokens. Rotating the DataKey invalidates device tokens as it does
// sessions: until its next successful login, a device is treated as
// unknown. Without a DataKey (the memory store, or PlaintextData) the key
// is random per Manager, and tokens are accepted by the node that made them
// only.
//
// Cookie transport carries it in its own cookie, [deviceCookie]
// ("__Host-sesame-device": HttpOnly, Secure, Path=/, no Domain,
// SameSite=Strict, kept DeviceTTL; logout leaves it, as it should). Header
// transport returns it as "device_token" in the login response, and the
// client sends it back as "device_token" in the login JSON.
const deviceKeyLabel = "sesame/v1 device token"

const (
	deviceTokenV1  = 0x01
	deviceIDLen    = 16
	deviceTokenLen = 1 + deviceIDLen + 8 + sha256.Size
)

// deviceCookie names the device cookie.
func (m *Manager[T]) deviceCookie() string {
	if m.cfg.Insecure {
		return "sesame-device"
	}
	return "__Host-sesame-device"
}

// newDeviceKey derives the device-token key from dataKey, or draws one.
func newDeviceKey(dataKey []byte) ([]byte, error) {
	if dataKey == nil {
		k := make([]byte, 32)
		rand.Read(k)
		return k, nil
	}
	return hkdf.Key(sha256.New, dataKey, nil, deviceKeyLabel, 32)
}

func (m *Manager[T]) deviceMAC(user string, id []byte, exp uint64) []byte {
	h := hmac.New(sha256.New, m.deviceKey)
	h.Write([]byte(deviceKeyLabel + "\x00"))
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(user)))
	h.Write(n[:])
	h.Write([]byte(user))
	h.Write(id)
	binary.BigEndian.PutUint64(n[:], exp)
	h.Write(n[:])
	return h.Sum(nil)
}

// mintDevice makes a device token for user (lower-cased), keeping id when
// the device already had one.
func (m *Manager[T]) mintDevice(user string, id []byte, now time.Time) string {
	if id == nil {
		id = make([]byte, deviceIDLen)
		rand.Read(id)
	}
	exp := uint64(now.Add(m.cfg.Limits.DeviceTTL).Unix())
	b := make([]byte, 0, deviceTokenLen)
	b = append(b, deviceTokenV1)
	b = append(b, id...)
	b = binary.BigEndian.AppendUint64(b, exp)
	b = append(b, m.deviceMAC(user, id, exp)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// checkDevice returns the device id of tok if it is a valid, unexpired
// device token for user, else nil. It never fails: a bad token is just no
// device.
func (m *Manager[T]) checkDevice(tok, user string, now time.Time) []byte {
	if m.cfg.Limits.DeviceTTL < 0 || tok == "" || len(tok) != base64.RawURLEncoding.EncodedLen(deviceTokenLen) {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) != deviceTokenLen || b[0] != deviceTokenV1 {
		return nil
	}
	id, exp, mac := b[1:1+deviceIDLen], binary.BigEndian.Uint64(b[1+deviceIDLen:]), b[1+deviceIDLen+8:]
	if !hmac.Equal(mac, m.deviceMAC(user, id, exp)) || exp > uint64(1<<62) || now.Unix() >= int64(exp) {
		return nil
	}
	return id
}

// deviceToken is the device token a login request carries: the device
// cookie in cookie transport (none if duplicated), the body's device_token
// in header transport.
func (m *Manager[T]) deviceToken(r *http.Request, header bool, body string) string {
	if header {
		return body
	}
	v, e := singleCookie(r, m.deviceCookie())
	if e != nil {
		return ""
	}
	return v
}

// setDeviceCookie sets the device cookie for DeviceTTL.
func (m *Manager[T]) setDeviceCookie(w http.ResponseWriter, tok string) {
	http.SetCookie(w, &http.Cookie{Name: m.deviceCookie(), Value: tok, Path: "/", MaxAge: int(m.cfg.Limits.DeviceTTL / time.Second),
		Secure: !m.cfg.Insecure, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}
