package config

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// SigningKey is this server's ed25519 signing key, used for event hashes/signatures and
// federation request signing.
type SigningKey struct {
	// KeyID is the full key ID, "ed25519:<version>".
	KeyID string
	// PrivateKey is the ed25519 private key (seed and public half).
	PrivateKey ed25519.PrivateKey
}

// PublicKey returns the public half.
func (k *SigningKey) PublicKey() ed25519.PublicKey {
	return k.PrivateKey.Public().(ed25519.PublicKey)
}

var keyVersionRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

const keyIDAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// GenerateSigningKey makes a new key with a random ID of the form "ed25519:a_XXXX" (as
// Synapse names its keys).
func GenerateSigningKey() (*SigningKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		return nil, err
	}
	id := []byte("a_")
	for _, b := range r {
		id = append(id, keyIDAlphabet[int(b)%len(keyIDAlphabet)])
	}
	return &SigningKey{KeyID: "ed25519:" + string(id), PrivateKey: priv}, nil
}

// MarshalSigningKey encodes k in Synapse's signing key file format: one line
// "ed25519 <version> <unpadded base64 of the 32-byte seed>".
func MarshalSigningKey(k *SigningKey) ([]byte, error) {
	version, ok := strings.CutPrefix(k.KeyID, "ed25519:")
	if !ok || !keyVersionRE.MatchString(version) {
		return nil, fmt.Errorf("config: bad signing key ID %q", k.KeyID)
	}
	if len(k.PrivateKey) != ed25519.PrivateKeySize {
		return nil, errors.New("config: signing key has the wrong size")
	}
	seed := base64.RawStdEncoding.EncodeToString(k.PrivateKey.Seed())
	return []byte("ed25519 " + version + " " + seed + "\n"), nil
}

// ParseSigningKey decodes a Synapse-style signing key file. Blank lines and lines starting
// with '#' are skipped; the first key is the signing key. The seed may be padded or not.
func ParseSigningKey(data []byte) (*SigningKey, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Fields(text)
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: want \"ed25519 <version> <base64 seed>\"", line)
		}
		if f[0] != "ed25519" {
			return nil, fmt.Errorf("line %d: unsupported algorithm %q", line, f[0])
		}
		if !keyVersionRE.MatchString(f[1]) {
			return nil, fmt.Errorf("line %d: key version %q may only hold letters, digits and '_'", line, f[1])
		}
		seed, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(f[2], "="))
		if err != nil {
			return nil, fmt.Errorf("line %d: seed is not base64: %v", line, err)
		}
		if len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("line %d: seed is %d bytes, want %d", line, len(seed), ed25519.SeedSize)
		}
		return &SigningKey{KeyID: "ed25519:" + f[1], PrivateKey: ed25519.NewKeyFromSeed(seed)}, nil
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, errors.New("no key in file")
}

// ReadSigningKeyFile reads and parses the key file at path.
func ReadSigningKeyFile(path string) (*SigningKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: signing key: %w", err)
	}
	k, err := ParseSigningKey(data)
	if err != nil {
		return nil, fmt.Errorf("config: signing key %s: %w", path, err)
	}
	return k, nil
}

// WriteSigningKeyFile writes k to path (mode 0600), creating parent directories. It never
// overwrites an existing file: losing a server's key breaks its federation.
func WriteSigningKeyFile(path string, k *SigningKey) error {
	data, err := MarshalSigningKey(k)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("config: signing key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("config: signing key: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("config: signing key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("config: signing key: %w", err)
	}
	return f.Close()
}

// SigningKey reads global.private_key_path and checks it against global.key_id.
func (c *Config) SigningKey() (*SigningKey, error) {
	k, err := ReadSigningKeyFile(c.Global.PrivateKeyPath)
	if err != nil {
		return nil, err
	}
	if c.Global.KeyID != "" && c.Global.KeyID != k.KeyID {
		return nil, fmt.Errorf("config: global.key_id: is %q but the key file %s holds %q", c.Global.KeyID, c.Global.PrivateKeyPath, k.KeyID)
	}
	return k, nil
}

// LoadOrCreateSigningKey is SigningKey, except that a missing key file is first created
// with a new key (the monolith's first start). created says whether that happened.
func (c *Config) LoadOrCreateSigningKey() (k *SigningKey, created bool, err error) {
	if _, err := os.Stat(c.Global.PrivateKeyPath); errors.Is(err, os.ErrNotExist) {
		nk, err := GenerateSigningKey()
		if err != nil {
			return nil, false, err
		}
		if c.Global.KeyID != "" {
			nk.KeyID = c.Global.KeyID
		}
		if err := WriteSigningKeyFile(c.Global.PrivateKeyPath, nk); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, false, err
		} else if err == nil {
			created = true
		}
	}
	k, err = c.SigningKey()
	return k, created, err
}
