package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/revocation"
	"golang.org/x/crypto/argon2"

	"github.com/sesame-go/sesame/bench/internal/ref"
)

// BenchmarkAuth is one "authenticate this request" through a chi router
// per way: a shallow copy of the way's request (gorilla/sessions writes its
// registry into *r, so reusing one request would measure a cache), a fresh
// httptest.ResponseRecorder, GET /app, 204 required. The copy and the
// recorder are in every way, including chi-alone, the baseline.
func BenchmarkAuth(b *testing.B) {
	for _, name := range Names {
		b.Run(name, func(b *testing.B) {
			w, err := New(name, deps)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			h, tmpl := w.Handler, w.Request
			b.ReportAllocs()
			for b.Loop() {
				r := *tmpl
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, &r)
				if rec.Code != http.StatusNoContent {
					b.Fatalf("status %d", rec.Code)
				}
			}
			b.ReportMetric(float64(w.CredBytes), "cred-bytes")
		})
	}
}

// BenchmarkEd25519Verify is one ed25519.Verify of a token-sized message: the
// part of a cache miss no library can avoid.
func BenchmarkEd25519Verify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := make([]byte, 560)
	rand.Read(msg)
	sig := ed25519.Sign(priv, msg)
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("verify")
		}
	}
}

// Argon2Params are the argon2id costs of users.DefaultParams (what
// sessiond and sessionctl hash new passwords with): t=1 pass, m=64 MiB,
// p=2 lanes, 16-byte salt, 32-byte key. The bench module cannot import the
// main module's internal packages, so they are repeated here.
var Argon2Params = struct {
	Time, MemoryKiB uint32
	Threads         uint8
	SaltLen, KeyLen int
}{1, 64 << 10, 2, 16, 32}

func argon2Hash(password string, salt []byte) []byte {
	p := Argon2Params
	return argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(p.KeyLen))
}

// BenchmarkLogin is the login cost: one argon2id hash alone, and one whole
// POST /auth/login through sesame (argon2id verify of the password, a new
// refresh family in the memory store, an access token minted).
func BenchmarkLogin(b *testing.B) {
	salt := make([]byte, Argon2Params.SaltLen)
	rand.Read(salt)
	b.Run("argon2id-t1-m64MiB-p2", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			argon2Hash("correct horse battery staple", salt)
		}
	})
	b.Run("sesame-login", func(b *testing.B) {
		h, done := loginServer(b, salt)
		defer done()
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := SesameLogin(h, "bench", "correct horse battery staple"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func loginServer(tb testing.TB, salt []byte) (http.Handler, func()) {
	want := argon2Hash("correct horse battery staple", salt)
	ks, err := sesameKeys()
	if err != nil {
		tb.Fatal(err)
	}
	store, _ := revocation.NewMemory(nil)
	rep, _ := revocation.NewReplica(store, nil)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { rep.Run(ctx); close(stopped) }()
	done := func() { cancel(); <-stopped }
	if err := WaitReplica(rep); err != nil {
		done()
		tb.Fatal(err)
	}
	data := deps.Ref
	m, err := auth.New(auth.Config[ref.Session]{
		Keys: ks, Store: store, Denylist: rep,
		Limits: auth.Limits{LoginsPerAddress: -1, FailuresPerUser: -1},
		Authenticator: auth.AuthenticatorFunc[ref.Session](func(_ context.Context, u, p string) (string, ref.Session, error) {
			got := argon2Hash(p, salt)
			if u != "bench" || string(got) != string(want) {
				return "", ref.Session{}, auth.ErrInvalidCredentials
			}
			return data.UID, data, nil
		}),
		Now: time.Now,
	})
	if err != nil {
		done()
		tb.Fatal(err)
	}
	r := chi.NewRouter()
	r.Mount("/auth", m.Routes())
	return r, done
}
