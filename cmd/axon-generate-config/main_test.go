package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/config"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.yaml")
	if err := os.WriteFile(existing, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		code       int
		serverName string // checked in the output when code is 0
		file       string // where the output goes; "" = stdout
		stderr     string
	}{
		{"defaults to stdout", nil, 0, "localhost", "", ""},
		{"server name", []string{"-server-name", "example.org", "-data-dir", "/srv"}, 0, "example.org", "", ""},
		{"to a file", []string{"-server-name", "example.org", "-out", filepath.Join(dir, "new.yaml")}, 0, "example.org", filepath.Join(dir, "new.yaml"), "wrote"},
		{"never overwrites", []string{"-out", existing}, 1, "", "", "not overwriting"},
		{"bad server name", []string{"-server-name", "bad name"}, 1, "", "", "global.server_name"},
		{"unknown flag", []string{"-nope"}, 2, "", "", "flag provided but not defined"},
		{"stray argument", []string{"extra"}, 2, "", "", "unexpected arguments"},
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
			raw := stdout.Bytes()
			if tt.file != "" {
				var err error
				if raw, err = os.ReadFile(tt.file); err != nil {
					t.Fatal(err)
				}
			}
			c, err := config.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if c.Global.ServerName != tt.serverName {
				t.Fatalf("server name %q, want %q", c.Global.ServerName, tt.serverName)
			}
		})
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep" {
		t.Fatal("existing file was changed")
	}
}

// TestSharedSecret: every generated file carries a registration shared secret (for
// axon-create-account), a new one each time.
func TestSharedSecret(t *testing.T) {
	secrets := map[string]bool{}
	for range 2 {
		var stdout, stderr bytes.Buffer
		if code := run(nil, &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		c, err := config.Parse(stdout.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		s := c.ClientAPI.RegistrationSharedSecret
		if len(s) < 32 || secrets[s] {
			t.Fatalf("registration_shared_secret %q (seen before: %v)", s, secrets[s])
		}
		secrets[s] = true
	}
}
