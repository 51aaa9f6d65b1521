package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/jwtauth/v5"
	"github.com/golang-jwt/jwt/v5"
	redigo "github.com/gomodule/redigo/redis"
	"github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"
	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/revocation"
	"github.com/sesame-go/sesame/token"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/sesame-go/sesame/bench/internal/ref"
)

// Way is one way of authenticating GET /app behind a chi router.
type Way struct {
	Name string
	// Handler is the chi router. GET /app answers 204 when the request
	// authenticated and the handler got the reference session, 401 otherwise.
	Handler http.Handler
	// Request carries a valid session; serve a shallow copy of it each time
	// (gorilla/sessions stores its per-request registry by overwriting *r).
	Request *http.Request
	// Anonymous is the same request without credentials.
	Anonymous *http.Request
	// CredBytes is the length of the credential the client carries: the
	// token or the cookie value.
	CredBytes int
	// NoAuth marks the baseline (chi alone), which authenticates nothing.
	NoAuth bool
	// Seen, when set, receives the session each authenticated request saw
	// (tests set it; benchmarks leave it nil).
	Seen func(ref.Session)
	// Revoke, for the ways that consult Redis on every request, ends the
	// session in Redis, so a test can prove the request path really reads it.
	Revoke func() error
	close  []func()
}

// Close releases what the way holds (goroutines, connections).
func (w *Way) Close() {
	for i := len(w.close) - 1; i >= 0; i-- {
		w.close[i]()
	}
}

// Deps are what ways need: the reference session and, for the ways that
// use Redis, the address of a redis-server the bench started.
type Deps struct {
	Ref       ref.Session
	RedisAddr string
}

// Names lists the ways in the order they are reported.
var Names = []string{
	"chi-alone",
	"sesame-hit",
	"sesame-hit-cookie",
	"sesame-miss",
	"sesame-hit-compact",
	"sesame-miss-compact",
	"floor",
	"floor+redis-get",
	"gorilla-cookiestore",
	"scs+redisstore",
	"jwtauth-HS256",
	"jwtauth-EdDSA",
}

// New builds the named way.
func New(name string, d Deps) (*Way, error) {
	switch name {
	case "chi-alone":
		return chiAlone(d)
	case "sesame-hit":
		return sesameWay(name, d, 0, false, nil)
	case "sesame-hit-cookie":
		return sesameWay(name, d, 0, true, nil)
	case "sesame-miss":
		return sesameWay(name, d, -1, false, nil)
	case "sesame-hit-compact":
		return sesameWay(name, d, 0, false, ref.Codec{})
	case "sesame-miss-compact":
		return sesameWay(name, d, -1, false, ref.Codec{})
	case "floor":
		return floorWay(name, d, false)
	case "floor+redis-get":
		return floorWay(name, d, true)
	case "gorilla-cookiestore":
		return gorillaWay(name, d)
	case "scs+redisstore":
		return scsWay(name, d)
	case "jwtauth-HS256":
		return jwtauthWay(name, d, "HS256")
	case "jwtauth-EdDSA":
		return jwtauthWay(name, d, "EdDSA")
	}
	return nil, fmt.Errorf("bench: unknown way %q", name)
}

// app is the protected handler shared by every way: it asks the way for
// the session and answers 204 only when there is one.
func (w *Way) app(get func(*http.Request) (ref.Session, bool)) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		s, ok := get(r)
		if !ok || s.UID == "" {
			rw.WriteHeader(http.StatusUnauthorized)
			return
		}
		if w.Seen != nil {
			w.Seen(s)
		}
		rw.WriteHeader(http.StatusNoContent)
	}
}

func newRequest() *http.Request { return httptest.NewRequest("GET", "/app", nil) }

func bearerRequest(tok string) *http.Request {
	r := newRequest()
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func cookieRequest(name, value string) *http.Request {
	r := newRequest()
	r.AddCookie(&http.Cookie{Name: name, Value: value})
	return r
}

func chiAlone(d Deps) (*Way, error) {
	w := &Way{Name: "chi-alone", NoAuth: true, Request: newRequest(), Anonymous: newRequest()}
	s := d.Ref
	r := chi.NewRouter()
	r.Get("/app", w.app(func(*http.Request) (ref.Session, bool) { return s, true }))
	w.Handler = r
	return w, nil
}

// --- sesame ---------------------------------------------------------------

var sesameKeys = sync.OnceValues(func() (*keys.Keyset, error) { return keys.Init(time.Now()) })

// sesameWay is auth's Require with a memory store and its replica. dataCodec
// is auth.Config.DataEncoding: nil means JSON, the default; the -compact ways
// use ref.Codec, a hand-written binary encoding of the reference session.
func sesameWay(name string, d Deps, cacheSize int, cookie bool, dataCodec token.Encoding[ref.Session]) (*Way, error) {
	ks, err := sesameKeys()
	if err != nil {
		return nil, err
	}
	store, err := revocation.NewMemory(nil)
	if err != nil {
		return nil, err
	}
	rep, err := revocation.NewReplica(store, nil)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rep.Run(ctx); close(done) }()
	w := &Way{Name: name}
	w.close = append(w.close, func() { cancel(); <-done })
	if err := WaitReplica(rep); err != nil {
		w.Close()
		return nil, err
	}
	data := d.Ref
	m, err := auth.New(auth.Config[ref.Session]{
		Keys: ks, Store: store, Denylist: rep, CacheSize: cacheSize, DataEncoding: dataCodec,
		Authenticator: auth.AuthenticatorFunc[ref.Session](func(_ context.Context, u, p string) (string, ref.Session, error) {
			if u != "bench" || p != "bench-pw" {
				return "", ref.Session{}, auth.ErrInvalidCredentials
			}
			return data.UID, data, nil
		}),
	})
	if err != nil {
		w.Close()
		return nil, err
	}
	r := chi.NewRouter()
	r.Mount("/auth", m.Routes())
	r.With(m.Require()).Get("/app", w.app(func(r *http.Request) (ref.Session, bool) {
		s, ok := auth.FromContext[ref.Session](r.Context())
		if !ok {
			return ref.Session{}, false
		}
		return s.Data, true
	}))
	w.Handler = r
	tok, _, err := SesameLogin(r, "bench", "bench-pw")
	if err != nil {
		w.Close()
		return nil, err
	}
	w.CredBytes = len(tok)
	if cookie {
		w.Request = cookieRequest("__Host-sesame", tok)
	} else {
		w.Request = bearerRequest(tok)
	}
	w.Anonymous = newRequest()
	return w, nil
}

// WaitReplica waits until the replica has loaded its first snapshot.
func WaitReplica(rep *revocation.Replica) error {
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for rep.Status().Stale {
		if time.Now().After(deadline) {
			return errors.New("bench: denylist replica did not become current")
		}
		<-tick.C
	}
	return nil
}

// SesameLogin logs in through h's POST /auth/login with header transport
// and returns the access and refresh tokens.
func SesameLogin(h http.Handler, user, pass string) (access, refresh string, err error) {
	req := httptest.NewRequest("POST", "/auth/login", strings.NewReader(fmt.Sprintf(`{"username":%q,"password":%q}`, user, pass)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(auth.TransportHeader, "header")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return "", "", fmt.Errorf("bench: sesame login: %d %s", rec.Code, rec.Body)
	}
	var tk struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tk); err != nil {
		return "", "", err
	}
	return tk.AccessToken, tk.RefreshToken, nil
}

// --- the crypto floor -----------------------------------------------------

// floorClaims are typed claims shaped like sesame's: registered claims, a
// session id and the sealed payload.
type floorClaims struct {
	jwt.RegisteredClaims
	Sid string `json:"sid"`
	Enc string `json:"enc"`
}

type floorKey struct{}

const floorKID = "k1"

func floorAD(jti, sid string) []byte {
	return []byte("floor/v1\x00" + floorKID + "\x00" + jti + "\x00" + sid)
}

// floorWay is the least any Ed25519-signed, XChaCha20-Poly1305-sealed
// token can cost: golang-jwt parses into typed claims with EdDSA pinned and
// checks exp/iss/aud; the payload is base64-decoded, opened and
// JSON-decoded into the session. With redis, one GET of a denylist key
// follows (the "Redis round trip per request" design sesame avoids).
func floorWay(name string, d Deps, withRedis bool) (*Way, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	aeadKey := make([]byte, chacha20poly1305.KeySize)
	rand.Read(aeadKey)
	aead, err := chacha20poly1305.NewX(aeadKey)
	if err != nil {
		return nil, err
	}
	pj, err := json.Marshal(d.Ref)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	jti, sid := randID(), randID()
	nonce := make([]byte, chacha20poly1305.NonceSizeX, chacha20poly1305.NonceSizeX+len(pj)+chacha20poly1305.Overhead)
	rand.Read(nonce)
	sealed := aead.Seal(nonce, nonce, pj, floorAD(jti, sid))
	claims := floorClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "sesame", Audience: jwt.ClaimStrings{"sesame"}, ID: jti,
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
		},
		Sid: sid, Enc: base64.RawURLEncoding.EncodeToString(sealed),
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = floorKID
	t.Header["typ"] = "at+jwt"
	tok, err := t.SignedString(priv)
	if err != nil {
		return nil, err
	}

	w := &Way{Name: name, CredBytes: len(tok), Request: bearerRequest(tok), Anonymous: newRequest()}
	var rdb *redis.Client
	if withRedis {
		if d.RedisAddr == "" {
			return nil, errors.New("bench: floor+redis-get needs Redis")
		}
		rdb = redis.NewClient(&redis.Options{Addr: d.RedisAddr})
		w.close = append(w.close, func() { rdb.Close() })
		w.Revoke = func() error {
			return rdb.Set(context.Background(), "bench:dl:sid:"+sid, "1", time.Minute).Err()
		}
	}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithIssuer("sesame"),
		jwt.WithAudience("sesame"), jwt.WithExpirationRequired(), jwt.WithLeeway(30*time.Second))
	keyFunc := func(t *jwt.Token) (any, error) {
		if t.Header["kid"] != floorKID {
			return nil, errors.New("unknown kid")
		}
		return pub, nil
	}
	mw := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok {
				rw.WriteHeader(http.StatusUnauthorized)
				return
			}
			var c floorClaims
			if _, err := parser.ParseWithClaims(raw, &c, keyFunc); err != nil {
				rw.WriteHeader(http.StatusUnauthorized)
				return
			}
			buf, err := base64.RawURLEncoding.DecodeString(c.Enc)
			if err != nil || len(buf) < chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead {
				rw.WriteHeader(http.StatusUnauthorized)
				return
			}
			pt, err := aead.Open(buf[chacha20poly1305.NonceSizeX:chacha20poly1305.NonceSizeX], buf[:chacha20poly1305.NonceSizeX],
				buf[chacha20poly1305.NonceSizeX:], floorAD(c.ID, c.Sid))
			if err != nil {
				rw.WriteHeader(http.StatusUnauthorized)
				return
			}
			s := new(ref.Session)
			if err := json.Unmarshal(pt, s); err != nil {
				rw.WriteHeader(http.StatusUnauthorized)
				return
			}
			if rdb != nil {
				switch err := rdb.Get(r.Context(), "bench:dl:sid:"+c.Sid).Err(); {
				case err == nil:
					rw.WriteHeader(http.StatusUnauthorized) // revoked
					return
				case !errors.Is(err, redis.Nil):
					rw.WriteHeader(http.StatusServiceUnavailable)
					return
				}
			}
			next.ServeHTTP(rw, r.WithContext(context.WithValue(r.Context(), floorKey{}, s)))
		})
	}
	r := chi.NewRouter()
	r.With(mw).Get("/app", w.app(func(r *http.Request) (ref.Session, bool) {
		s, ok := r.Context().Value(floorKey{}).(*ref.Session)
		if !ok {
			return ref.Session{}, false
		}
		return *s, true
	}))
	w.Handler = r
	return w, nil
}

func randID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// --- gorilla/sessions CookieStore -------------------------------------------

var registerGob = sync.OnceFunc(func() { gob.Register(ref.Session{}) })

// gorillaWay keeps the session in the cookie itself: gob-encoded, AES-256-CTR
// encrypted and HMAC-SHA256 authenticated by securecookie.
func gorillaWay(name string, d Deps) (*Way, error) {
	registerGob()
	hashKey, blockKey := make([]byte, 32), make([]byte, 32)
	rand.Read(hashKey)
	rand.Read(blockKey)
	store := sessions.NewCookieStore(hashKey, blockKey)
	const cookie = "session"
	// Mint a cookie the way an application would: Save in a login handler.
	req, rec := newRequest(), httptest.NewRecorder()
	sess, err := store.New(req, cookie)
	if err != nil && sess == nil {
		return nil, err
	}
	sess.Values["s"] = d.Ref
	if err := sess.Save(req, rec); err != nil {
		return nil, err
	}
	var value string
	for _, c := range rec.Result().Cookies() {
		if c.Name == cookie {
			value = c.Value
		}
	}
	if value == "" {
		return nil, errors.New("bench: gorilla set no cookie")
	}
	w := &Way{Name: name, CredBytes: len(value), Request: cookieRequest(cookie, value), Anonymous: newRequest()}
	r := chi.NewRouter()
	r.Get("/app", w.app(func(r *http.Request) (ref.Session, bool) {
		sess, err := store.Get(r, cookie)
		if err != nil || sess.IsNew {
			return ref.Session{}, false
		}
		s, ok := sess.Values["s"].(ref.Session)
		return s, ok
	}))
	w.Handler = r
	return w, nil
}

// --- alexedwards/scs v2 + redisstore (redigo) -------------------------------

// scsWay keeps the session in Redis under a random token carried in a
// cookie; LoadAndSave does one GET per request.
func scsWay(name string, d Deps) (*Way, error) {
	if d.RedisAddr == "" {
		return nil, errors.New("bench: scs+redisstore needs Redis")
	}
	registerGob()
	sm, pool := NewSCS(d.RedisAddr)
	ctx, err := sm.Load(context.Background(), "")
	if err != nil {
		pool.Close()
		return nil, err
	}
	sm.Put(ctx, "s", d.Ref)
	tok, _, err := sm.Commit(ctx)
	if err != nil {
		pool.Close()
		return nil, err
	}
	w := &Way{Name: name, CredBytes: len(tok), Request: cookieRequest(sm.Cookie.Name, tok), Anonymous: newRequest()}
	w.close = append(w.close, func() { pool.Close() })
	w.Revoke = func() error {
		c := pool.Get()
		defer c.Close()
		_, err := c.Do("DEL", "bench:scs:"+tok)
		return err
	}
	r := chi.NewRouter()
	r.Use(sm.LoadAndSave)
	r.Get("/app", w.app(SCSGet(sm)))
	w.Handler = r
	return w, nil
}

// NewSCS returns an scs session manager storing sessions in the Redis at
// addr through a redigo pool (close it when done).
func NewSCS(addr string) (*scs.SessionManager, *redigo.Pool) {
	registerGob()
	pool := &redigo.Pool{
		MaxIdle:     256,
		IdleTimeout: time.Minute,
		Dial:        func() (redigo.Conn, error) { return redigo.Dial("tcp", addr) },
	}
	sm := scs.New()
	sm.Store = redisstore.NewWithPrefix(pool, "bench:scs:")
	sm.Lifetime = time.Hour
	sm.Cookie.Name = "session"
	return sm, pool
}

// SCSGet reads the reference session from an scs-loaded request.
func SCSGet(sm *scs.SessionManager) func(*http.Request) (ref.Session, bool) {
	return func(r *http.Request) (ref.Session, bool) {
		s, ok := sm.Get(r.Context(), "s").(ref.Session)
		return s, ok
	}
}

// --- go-chi/jwtauth ---------------------------------------------------------

// jwtauthWay carries the session fields as JWT claims (signed, not
// encrypted); the handler rebuilds the typed session from jwtauth's claims
// map, as an application would.
func jwtauthWay(name string, d Deps, alg string) (*Way, error) {
	var ja *jwtauth.JWTAuth
	switch alg {
	case "HS256":
		secret := make([]byte, 32)
		rand.Read(secret)
		ja = jwtauth.New("HS256", secret, nil)
	case "EdDSA":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		ja = jwtauth.New("EdDSA", priv, pub)
	default:
		return nil, fmt.Errorf("bench: jwtauth alg %q", alg)
	}
	claims := map[string]any{
		"uid": d.Ref.UID, "email": d.Ref.Email, "name": d.Ref.Name,
		"roles": d.Ref.Roles, "tid": d.Ref.TID, "loc": d.Ref.Loc,
	}
	jwtauth.SetIssuedNow(claims)
	jwtauth.SetExpiryIn(claims, time.Hour)
	_, tok, err := ja.Encode(claims)
	if err != nil {
		return nil, err
	}
	w := &Way{Name: name, CredBytes: len(tok), Request: bearerRequest(tok), Anonymous: newRequest()}
	r := chi.NewRouter()
	r.With(jwtauth.Verifier(ja), jwtauth.Authenticator(ja)).Get("/app", w.app(func(r *http.Request) (ref.Session, bool) {
		_, c, err := jwtauth.FromContext(r.Context())
		if err != nil {
			return ref.Session{}, false
		}
		return sessionFromClaims(c)
	}))
	w.Handler = r
	return w, nil
}

func sessionFromClaims(c map[string]any) (ref.Session, bool) {
	var s ref.Session
	var ok [5]bool
	s.UID, ok[0] = c["uid"].(string)
	s.Email, ok[1] = c["email"].(string)
	s.Name, ok[2] = c["name"].(string)
	s.TID, ok[3] = c["tid"].(string)
	s.Loc, ok[4] = c["loc"].(string)
	if ok != [5]bool{true, true, true, true, true} {
		return s, false
	}
	roles, _ := c["roles"].([]any)
	s.Roles = make([]string, 0, len(roles))
	for _, v := range roles {
		str, isStr := v.(string)
		if !isStr {
			return s, false
		}
		s.Roles = append(s.Roles, str)
	}
	return s, true
}
