package redisurl_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sesame-go/sesame/internal/redistest"
	"github.com/sesame-go/sesame/internal/redisurl"
)

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and its
// key as PEM files in dir.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sesame test redis"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "redis.crt"), filepath.Join(dir, "redis.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestLiveTLS: rediss:// (and tls=true) reach a TLS-only port of a real
// redis-server, with ACL credentials; a plain redis:// URL to that port
// does not get an answer.
func TestLiveTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile := writeSelfSigned(t, t.TempDir())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	redistest.Start(t, &redistest.Options{Args: append(append([]string{}, aclArgs...),
		"--tls-port", strconv.Itoa(tlsPort), "--tls-cert-file", certFile, "--tls-key-file", keyFile,
		"--tls-ca-cert-file", certFile, "--tls-auth-clients", "no")})
	addr := "127.0.0.1:" + strconv.Itoa(tlsPort)
	// The certificate is self-signed, so verification is off here
	// (skip_verify is for tests only); what this proves is that the
	// connection is TLS end to end.
	live(t, "rediss://alice:s3cret@"+addr+"/0?skip_verify=true", "rediss://alice:wrong@"+addr+"/0?skip_verify=true&max_retries=-1")
	live(t, "redis://alice:s3cret@"+addr+"/0?tls=true&skip_verify=true", "redis://alice:wrong@"+addr+"/0?tls=true&skip_verify=true&max_retries=-1")
	plain, err := redisurl.NewClient("redis://alice:s3cret@" + addr + "/0?max_retries=-1&dial_timeout=1s&read_timeout=1s")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.Ping(t.Context()).Err(); err == nil {
		t.Fatal("a plain-text client got an answer from the TLS port")
	}
	// Verification is on without skip_verify: the self-signed certificate
	// is refused.
	strict, err := redisurl.NewClient("rediss://alice:s3cret@" + addr + "/0?max_retries=-1")
	if err != nil {
		t.Fatal(err)
	}
	defer strict.Close()
	if err := strict.Ping(t.Context()).Err(); err == nil {
		t.Fatal("an unverifiable certificate was accepted without skip_verify")
	}
}
