package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/keys"
)

// devMasterKeyName is the development master key file, kept beside a file
// keyset when no master key is configured.
const devMasterKeyName = "sesame-master.key"

// keyset is the keyset store and what came with it.
type keyset struct {
	store     keys.Store
	masterKey *keys.MasterKey
	close     func() // releases a Redis client opened only for the keyset
}

// openKeyset finds the master key and opens the keyset store named by
// c.keyset: a file, or Redis (the store's client when the URL is the same).
// auth creates the keyset if there is none yet.
func openKeyset(c *config, getenv func(string) string, revRedis redis.UniversalClient, hook redis.Hook, log *slog.Logger) (*keyset, error) {
	spec := c.keyset
	isFile := strings.HasPrefix(spec, "file:")
	isRedis := false
	for _, scheme := range []string{"redis://", "rediss://", "redis-sentinel://", "redis-cluster://"} {
		isRedis = isRedis || strings.HasPrefix(spec, scheme)
	}
	if !isFile && !isRedis {
		return nil, fmt.Errorf("--keyset %q: want file:PATH or redis://...", redactURL(spec))
	}
	path := strings.TrimPrefix(spec, "file:")
	if isFile && path == "" {
		return nil, errors.New("--keyset file: needs a path")
	}

	raw, err := masterKey(c, getenv, isFile, path, log)
	if err != nil {
		return nil, err
	}
	defer clear(raw)
	mk, err := keys.NewMasterKey(raw)
	if err != nil {
		return nil, err
	}
	ks := &keyset{masterKey: mk, close: func() {}}
	if isFile {
		ks.store = keys.NewFileStore(path, mk)
		return ks, nil
	}
	client := revRedis
	if spec != c.redisURL || client == nil {
		if client, err = newRedisClient(spec); err != nil {
			return nil, fmt.Errorf("--keyset: %w", err)
		}
		if hook != nil {
			client.AddHook(hook)
		}
		ks.close = func() { client.Close() }
	}
	ks.store = keys.NewRedisStore(client, mk, nil)
	return ks, nil
}

// masterKey returns the 32 master key bytes: from --master-key-file, else
// SESAME_MASTER_KEY, else (file keysets only) the development key file
// beside the keyset, created on first start.
func masterKey(c *config, getenv func(string) string, isFile bool, keysetPath string, log *slog.Logger) ([]byte, error) {
	if c.masterKeyFile != "" {
		b, err := os.ReadFile(c.masterKeyFile)
		if err != nil {
			return nil, fmt.Errorf("reading the master key file: %w", err)
		}
		defer clear(b)
		raw, err := decodeMasterKey(b)
		if err != nil {
			return nil, fmt.Errorf("%w (in %q)", err, c.masterKeyFile)
		}
		return raw, nil
	}
	if v := getenv(keys.MasterKeyEnv); v != "" {
		raw, err := decodeMasterKey([]byte(v))
		if err != nil {
			return nil, fmt.Errorf("%w (in %s)", err, keys.MasterKeyEnv)
		}
		return raw, nil
	}
	if !isFile {
		return nil, fmt.Errorf("no master key: a Redis keyset needs %s (base64 of 32 bytes, e.g. from `head -c 32 /dev/urandom | base64`) or --master-key-file", keys.MasterKeyEnv)
	}
	return devMasterKey(keysetPath, log)
}

// devMasterKey reads or creates the development master key file beside the
// keyset file. It refuses to make a new key for an existing keyset: the new
// key could not open it, and the old one would be lost from view.
func devMasterKey(keysetPath string, log *slog.Logger) ([]byte, error) {
	path := filepath.Join(filepath.Dir(keysetPath), devMasterKeyName)
	warn := func(msg string) {
		log.Warn(msg+": DEVELOPMENT ONLY. The master key sits in a file beside the keyset it protects; in production set "+
			keys.MasterKeyEnv+" or --master-key-file from a secret store", "master_key_file", path, "keyset", keysetPath)
	}
	b, err := os.ReadFile(path)
	if err == nil {
		defer clear(b)
		raw, err := decodeMasterKey(b)
		if err != nil {
			return nil, fmt.Errorf("%w (in %q)", err, path)
		}
		warn("using the development master key file")
		return raw, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading the master key file: %w", err)
	}
	if _, err := os.Stat(keysetPath); err == nil {
		return nil, fmt.Errorf("keyset %q exists but its master key is missing: set %s or --master-key-file (or move the keyset away to start over)", keysetPath, keys.MasterKeyEnv)
	}
	raw := make([]byte, keys.MasterKeySize)
	rand.Read(raw)
	enc := []byte(base64.StdEncoding.EncodeToString(raw) + "\n")
	defer clear(enc)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating the master key file: %w", err)
	}
	if _, err := f.Write(enc); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("writing the master key file: %w", err)
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("writing the master key file: %w", err)
	}
	warn("created a development master key file")
	return raw, nil
}

// decodeMasterKey decodes base64 (standard or URL alphabet, padding
// optional) of exactly 32 bytes. The error never contains the input.
func decodeMasterKey(b []byte) ([]byte, error) {
	s := string(bytes.TrimSpace(b))
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		raw, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(raw) != keys.MasterKeySize {
			clear(raw)
			return nil, fmt.Errorf("master key is %d bytes, want %d", len(raw), keys.MasterKeySize)
		}
		return raw, nil
	}
	return nil, errors.New("master key is not valid base64")
}
