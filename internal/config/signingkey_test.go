package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/matrix/signing"
)

func TestLoadOrCreateSigningKey(t *testing.T) {
	tests := []struct {
		name    string
		keyID   string // global.key_id
		idMatch string // what the created key's ID must look like
	}{
		{"random version", "", `^ed25519:a_[A-Za-z0-9]{4}$`},
		{"configured version", "ed25519:mine", `^ed25519:mine$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults(filepath.Join(t.TempDir(), "fresh"))
			c.Global.KeyID = tt.keyID
			k, created, err := c.LoadOrCreateSigningKey()
			if err != nil || !created {
				t.Fatalf("first call: created=%v err=%v", created, err)
			}
			if !regexp.MustCompile(tt.idMatch).MatchString(string(k.ID)) {
				t.Fatalf("key ID %q", k.ID)
			}
			data, err := os.ReadFile(c.Global.PrivateKeyPath)
			if err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(`^ed25519 [A-Za-z0-9_]+ [A-Za-z0-9+/]{43}\n$`).Match(data) {
				t.Fatalf("key file is not Synapse's format: %q", data)
			}
			k2, created, err := c.LoadOrCreateSigningKey()
			if err != nil || created || k2.ID != k.ID || !k2.Private.Equal(k.Private) {
				t.Fatalf("second call: created=%v err=%v", created, err)
			}
		})
	}
}

func TestSigningKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "signing.key")
	key, err := signing.GenerateKey("k1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := signing.WriteKeyFile(path, key); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.key")
	if err := os.WriteFile(garbage, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, keyID, wantErr string
	}{
		{"no key_id takes the file's", path, "", ""},
		{"matching key_id", path, "ed25519:k1", ""},
		{"mismatched key_id", path, "ed25519:other", "global.key_id"},
		{"missing file", filepath.Join(dir, "nope.key"), "", "global.private_key_path"},
		{"bad file", garbage, "", "global.private_key_path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults(dir)
			c.Global.PrivateKeyPath, c.Global.KeyID = tt.path, tt.keyID
			k, err := c.SigningKey()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || k.ID != key.ID || !k.Private.Equal(key.Private) {
				t.Fatalf("got %v, %v", k.ID, err)
			}
		})
	}
	// A bad file is never replaced by LoadOrCreateSigningKey.
	c := Defaults(dir)
	c.Global.PrivateKeyPath = garbage
	if _, _, err := c.LoadOrCreateSigningKey(); err == nil {
		t.Fatal("LoadOrCreateSigningKey accepted a garbage key file")
	}
	if b, _ := os.ReadFile(garbage); string(b) != "not a key\n" {
		t.Fatal("garbage key file was overwritten")
	}
}
