package config

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestSigningKeyRoundTrip(t *testing.T) {
	k, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^ed25519:a_[A-Za-z0-9]{4}$`).MatchString(k.KeyID) {
		t.Fatalf("key ID %q", k.KeyID)
	}
	data, err := MarshalSigningKey(k)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^ed25519 a_[A-Za-z0-9]{4} [A-Za-z0-9+/]{43}\n$`).Match(data) {
		t.Fatalf("file format: %q", data)
	}
	back, err := ParseSigningKey(data)
	if err != nil {
		t.Fatal(err)
	}
	if back.KeyID != k.KeyID || !back.PrivateKey.Equal(k.PrivateKey) {
		t.Fatal("round trip changed the key")
	}
	sig := ed25519.Sign(back.PrivateKey, []byte("x"))
	if !ed25519.Verify(k.PublicKey(), []byte("x"), sig) {
		t.Fatal("parsed key does not sign for the public key")
	}
}

func TestParseSigningKey(t *testing.T) {
	// The seed of RFC 8032's first test vector and its public key.
	const seedB64 = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
	const pubHex = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
	tests := []struct {
		name, in, wantID, wantErr string
	}{
		{"synapse line", "ed25519 a_AbCd " + seedB64 + "\n", "ed25519:a_AbCd", ""},
		{"padded seed", "ed25519 auto " + seedB64 + "=\n", "ed25519:auto", ""},
		{"comments and blank lines", "# key\n\ned25519 k1 " + seedB64, "ed25519:k1", ""},
		{"first of two keys", "ed25519 k1 " + seedB64 + "\ned25519 k2 " + seedB64, "ed25519:k1", ""},
		{"empty", "", "", "no key"},
		{"two fields", "ed25519 " + seedB64, "", "line 1"},
		{"other algorithm", "rsa k1 " + seedB64, "", "unsupported algorithm"},
		{"bad version", "ed25519 a-b " + seedB64, "", "key version"},
		{"not base64", "ed25519 k1 !!!!", "", "not base64"},
		{"short seed", "ed25519 k1 AAAA", "", "seed is 3 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseSigningKey([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.KeyID != tt.wantID {
				t.Fatalf("KeyID = %q, want %q", k.KeyID, tt.wantID)
			}
			if got := hexOf(k.PublicKey()); got != pubHex {
				t.Fatalf("public key %s, want %s", got, pubHex)
			}
		})
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestWriteSigningKeyFileNeverOverwrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "signing.key")
	k1, _ := GenerateSigningKey()
	k2, _ := GenerateSigningKey()
	if err := WriteSigningKeyFile(path, k1); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stat: %v %v", fi, err)
	}
	if err := WriteSigningKeyFile(path, k2); !errors.Is(err, os.ErrExist) {
		t.Fatalf("second write: %v, want ErrExist", err)
	}
	got, err := ReadSigningKeyFile(path)
	if err != nil || !got.PrivateKey.Equal(k1.PrivateKey) {
		t.Fatalf("file changed: %v", err)
	}
}

func TestLoadOrCreateSigningKey(t *testing.T) {
	c := Defaults(t.TempDir())
	k, created, err := c.LoadOrCreateSigningKey()
	if err != nil || !created {
		t.Fatalf("first call: created=%v err=%v", created, err)
	}
	k2, created, err := c.LoadOrCreateSigningKey()
	if err != nil || created || !k2.PrivateKey.Equal(k.PrivateKey) || k2.KeyID != k.KeyID {
		t.Fatalf("second call: created=%v err=%v", created, err)
	}
	c.Global.KeyID = "ed25519:other"
	if _, err := c.SigningKey(); err == nil || !strings.Contains(err.Error(), "global.key_id") {
		t.Fatalf("mismatched key_id: %v", err)
	}
	fresh := Defaults(t.TempDir())
	fresh.Global.KeyID = "ed25519:mine"
	if k, _, err := fresh.LoadOrCreateSigningKey(); err != nil || k.KeyID != "ed25519:mine" {
		t.Fatalf("configured key_id for a new key: %v %v", k, err)
	}
}
