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
	otherCfg := filepath.Join(dir, "other.yaml")
	if err := os.WriteFile(otherCfg, []byte("global: {private_key_path: "+cfgKey+", key_id: 'ed25519:other'}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.key")
	if err := os.WriteFile(garbage, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	aKey := filepath.Join(dir, "sub", "a.key")
	var firstID string // the key written by the first case
	tests := []struct {
		name    string
		args    []string
		code    int
		file    string // key file expected afterwards
		keyID   string // "" = any generated a_XXXX ID; "first" = the first case's
		stdout  string
		stderr  string
		backups int // files a.key.replaced-* expected afterwards
	}{
		{"explicit path", []string{"-out", aKey}, 0, aKey, "", "wrote", "", 0},
		{"keeps an existing key", []string{"-out", aKey}, 0, aKey, "first", "keeping the existing key", "", 0},
		{"force replaces it", []string{"-out", aKey, "-force"}, 0, aKey, "", "wrote", "WARNING", 1},
		{"path and key ID from config", []string{"-config", cfgFile}, 0, cfgKey, "ed25519:mykey", "wrote", "", 1},
		{"config's key kept", []string{"-config", cfgFile}, 0, cfgKey, "ed25519:mykey", "keeping", "", 1},
		{"key_id differs from the kept key", []string{"-config", otherCfg}, 1, "", "", "", `set key_id to "ed25519:mykey"`, 1},
		{"force would reuse the key ID", []string{"-config", cfgFile, "-force"}, 1, "", "", "", "old key's ID", 1},
		{"not a key file", []string{"-out", garbage}, 1, "", "", "", "not a usable key file", 1},
		{"missing config", []string{"-config", filepath.Join(dir, "nope.yaml")}, 1, "", "", "", "no such file", 1},
		{"stray argument", []string{"x"}, 2, "", "", "", "unexpected arguments", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.stderr) || !strings.Contains(stdout.String(), tt.stdout) {
				t.Fatalf("stdout %q, stderr %q; want %q and %q", stdout.String(), stderr.String(), tt.stdout, tt.stderr)
			}
			if backups, _ := filepath.Glob(aKey + ".replaced-*"); len(backups) != tt.backups {
				t.Fatalf("backups %v, want %d", backups, tt.backups)
			}
			if tt.code != 0 {
				return
			}
			keys, err := signing.LoadKeyFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			k := keys[0]
			switch tt.keyID {
			case "":
				if string(k.ID) == firstID {
					t.Fatalf("key ID %q: the key was not replaced", k.ID)
				}
			case "first":
				if string(k.ID) != firstID {
					t.Fatalf("key ID %q, want the kept %q", k.ID, firstID)
				}
			default:
				if string(k.ID) != tt.keyID {
					t.Fatalf("key ID %q, want %q", k.ID, tt.keyID)
				}
			}
			if firstID == "" {
				firstID = string(k.ID)
			}
			if !strings.Contains(stdout.String(), string(k.ID)) || !strings.Contains(stdout.String(), signing.EncodeBase64(k.Public())) {
				t.Fatalf("output %q does not name the key ID", stdout.String())
			}
		})
	}
	// The replaced key is kept beside the new one.
	backups, _ := filepath.Glob(aKey + ".replaced-*")
	old, err := signing.LoadKeyFile(backups[0])
	if err != nil || string(old[0].ID) != firstID {
		t.Fatalf("backup holds %v, %v; want the first key %s", old, err, firstID)
	}
}
