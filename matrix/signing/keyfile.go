package signing

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ParseKeyFile reads signing keys in Synapse's format: one key a line,
// "ed25519 <version> <unpadded base64 seed>". Blank lines and lines starting with '#' are
// skipped.
func ParseKeyFile(data []byte) ([]SigningKey, error) {
	var keys []SigningKey
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 {
			return nil, fmt.Errorf("signing key file line %d: want \"<algorithm> <version> <seed>\"", n+1)
		}
		if fields[0] != AlgorithmEd25519 {
			return nil, fmt.Errorf("signing key file line %d: unsupported algorithm %q", n+1, fields[0])
		}
		seed, err := DecodeBase64(fields[2])
		if err != nil {
			return nil, fmt.Errorf("signing key file line %d: bad base64 seed: %w", n+1, err)
		}
		key, err := KeyFromSeed(NewKeyID(fields[1]), seed)
		if err != nil {
			return nil, fmt.Errorf("signing key file line %d: %w", n+1, err)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errNoKeys
	}
	return keys, nil
}

// FormatKeyFile writes keys in Synapse's format, one a line.
func FormatKeyFile(keys ...SigningKey) []byte {
	var b bytes.Buffer
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %s %s\n", k.ID.Algorithm(), k.ID.Version(), EncodeBase64(k.Seed()))
	}
	return b.Bytes()
}

// LoadKeyFile reads the signing keys from a file; the first is the one to sign with.
func LoadKeyFile(path string) ([]SigningKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	keys, err := ParseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return keys, nil
}

// WriteKeyFile writes keys to a new file, readable only by its owner. It refuses to
// overwrite an existing file, so a key is never silently replaced.
func WriteKeyFile(path string, keys ...SigningKey) error {
	if len(keys) == 0 {
		return errNoKeys
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(FormatKeyFile(keys...)); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// LoadOrGenerateKeyFile loads the key file at path, or, if it does not exist, generates a
// new key, writes it there and returns it. The monolith uses it for its default config.
func LoadOrGenerateKeyFile(path string) ([]SigningKey, error) {
	keys, err := LoadKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return keys, err
	}
	key, err := GenerateKey("", nil)
	if err != nil {
		return nil, err
	}
	if err := WriteKeyFile(path, key); err != nil {
		if errors.Is(err, fs.ErrExist) { // another process won the race: use its key
			return LoadKeyFile(path)
		}
		return nil, err
	}
	return []SigningKey{key}, nil
}
