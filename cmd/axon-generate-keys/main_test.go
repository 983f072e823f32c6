package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/matrix/signing"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "axon.yaml")
	cfgKey := filepath.Join(dir, "from-config.key")
	if err := os.WriteFile(cfgFile, []byte("global: {private_key_path: "+cfgKey+", key_id: 'ed25519:mykey'}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		file   string // key file expected afterwards
		keyID  string // "" = any generated a_XXXX ID
		stderr string
	}{
		{"explicit path", []string{"-out", filepath.Join(dir, "sub", "a.key")}, 0, filepath.Join(dir, "sub", "a.key"), "", ""},
		{"never overwrites", []string{"-out", filepath.Join(dir, "sub", "a.key")}, 1, "", "", "exists"},
		{"path and key ID from config", []string{"-config", cfgFile}, 0, cfgKey, "ed25519:mykey", ""},
		{"missing config", []string{"-config", filepath.Join(dir, "nope.yaml")}, 1, "", "", "no such file"},
		{"stray argument", []string{"x"}, 2, "", "", "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Fatalf("stderr %q lacks %q", stderr.String(), tt.stderr)
			}
			if tt.code != 0 {
				return
			}
			keys, err := signing.LoadKeyFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			k := keys[0]
			if tt.keyID != "" && string(k.ID) != tt.keyID {
				t.Fatalf("key ID %q, want %q", k.ID, tt.keyID)
			}
			if !strings.Contains(stdout.String(), string(k.ID)) || !strings.Contains(stdout.String(), signing.EncodeBase64(k.Public())) {
				t.Fatalf("output %q does not name the key ID", stdout.String())
			}
		})
	}
}
