package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunRefusesBadInput: bad flags exit 2; a config that fails validation exits 1 and
// names the bad key.
func TestRunRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("client_api_proxy: {sync_api_urls: [\"ftp://sync\"]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no -config", nil, 2, "-config is required"},
		{"stray argument", []string{"-config", bad, "extra"}, 2, "-config is required"},
		{"missing file", []string{"-config", filepath.Join(dir, "none.yaml")}, 1, "none.yaml"},
		{"invalid section", []string{"-config", bad}, 1, "client_api_proxy.sync_api_urls[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := run(tt.args, &stderr); code != tt.wantCode || !strings.Contains(stderr.String(), tt.wantErr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tt.wantCode, tt.wantErr)
			}
		})
	}
}
