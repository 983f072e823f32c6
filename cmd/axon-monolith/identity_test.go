package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/setup"
)

// TestServerNameChangeRefused follows README's commands after a first start on the
// embedded defaults: a config with another server name over the same data directory is
// refused with an error that names both names, before anything is served; the original
// name still starts, and the data directory remembers it and the key ID.
func TestServerNameChangeRefused(t *testing.T) {
	dir := t.TempDir()
	m, _ := startTest(t, &options{dataDir: dir, httpBind: "127.0.0.1:0"}) // "localhost"
	stop(t, m)
	raw, err := os.ReadFile(filepath.Join(dir, setup.IdentityFileName))
	if err != nil || !strings.Contains(string(raw), `"localhost"`) || !strings.Contains(string(raw), `"ed25519:`) {
		t.Fatalf("identity file: %s, %v", raw, err)
	}

	cfgs := []struct {
		name, yaml string
		wantErr    []string
	}{
		{"another server name", "global: {server_name: example.org, data_dir: " + dir + "}\n", []string{`"localhost"`, `"example.org"`}},
		// Without the marker file the databases refuse it too.
		{"another server name, marker gone", "global: {server_name: example.org, data_dir: " + dir + "}\n", []string{`"localhost"`, `"example.org"`, "database of"}},
		{"the same server name", "global: {server_name: localhost, data_dir: " + dir + "}\n", nil},
	}
	for _, c := range cfgs {
		t.Run(c.name, func(t *testing.T) {
			if strings.Contains(c.name, "marker gone") {
				if err := os.Remove(filepath.Join(dir, setup.IdentityFileName)); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(t.TempDir(), "axon.yaml")
			if err := os.WriteFile(path, []byte(c.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			m, err := start(&options{configPath: path, httpBind: "127.0.0.1:0"})
			if c.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				stop(t, m)
				return
			}
			if err == nil {
				stop(t, m)
				t.Fatal("started with another server name")
			}
			for _, want := range c.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("error %q does not name %s", err, want)
				}
			}
		})
	}
}
