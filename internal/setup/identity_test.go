package setup

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/matrix/signing"
)

// identityBase builds a base for serverName over dataDir and database cs ("" for SQLite
// files in dataDir), with a signing key of keyVersion in dataDir ("" for no key file).
func identityBase(t *testing.T, dataDir, cs, serverName, keyVersion string) *Base {
	t.Helper()
	cfg := config.Defaults(dataDir)
	cfg.Global.ServerName = serverName
	cfg.Global.Database.ConnectionString = cs
	cfg.Global.Logging.Level = "error"
	if keyVersion != "" {
		cfg.Global.PrivateKeyPath = filepath.Join(dataDir, "key-"+keyVersion)
		if _, err := os.Stat(cfg.Global.PrivateKeyPath); err != nil {
			k, err := signing.GenerateKey(keyVersion, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := signing.WriteKeyFile(cfg.Global.PrivateKeyPath, k); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	b, err := NewBase(cfg, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Shutdown(context.Background()) })
	return b
}

// TestOpenDatabaseChecksIdentity: every database a process opens remembers the server
// name of its first start; another server name is refused naming both, on SQLite and on
// Postgres (one database shared by the components, as in the polylith), whether or not
// the process reads the key; a new key is accepted.
func TestOpenDatabaseChecksIdentity(t *testing.T) {
	steps := []struct {
		name, serverName, key string
		wantErr               bool
	}{
		{"first start", "one.example", "a", false},
		{"again", "one.example", "a", false},
		{"another component, no key file", "one.example", "", false},
		{"new key", "one.example", "b", false},
		{"another server name", "two.example", "b", true},
		{"another server name, no key file", "two.example", "", true},
	}
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cs := ""
			if name == "postgres" {
				cs = dsn(t)
			}
			for _, s := range steps {
				b := identityBase(t, dir, cs, s.serverName, s.key)
				for _, component := range []string{config.ComponentUserAPI, config.ComponentRoomServer} {
					_, err := b.OpenDatabase(component)
					if !s.wantErr {
						if err != nil {
							t.Fatalf("%s, %s: %v", s.name, component, err)
						}
						continue
					}
					if err == nil || !strings.Contains(err.Error(), `"one.example"`) || !strings.Contains(err.Error(), `"two.example"`) ||
						!strings.Contains(err.Error(), component) {
						t.Fatalf("%s, %s: err %v, want one naming both server names and the database", s.name, component, err)
					}
				}
				_ = b.Shutdown(context.Background())
			}
		})
	}
}

// TestCheckDataDir: the data directory's identity file is written on first start and
// refuses another server name afterwards; a new key ID replaces the recorded one.
func TestCheckDataDir(t *testing.T) {
	dir := t.TempDir()
	read := func() string {
		raw, err := os.ReadFile(filepath.Join(dir, IdentityFileName))
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	steps := []struct {
		name, serverName, key string
		wantErr               bool
		wantFile              []string
	}{
		{"first start", "localhost", "a", false, []string{`"localhost"`, `"ed25519:a"`}},
		{"again without key", "localhost", "", false, []string{`"ed25519:a"`}},
		{"another server name", "example.org", "a", true, []string{`"localhost"`}},
		{"new key", "localhost", "b", false, []string{`"localhost"`, `"ed25519:b"`}},
	}
	for _, s := range steps {
		b := identityBase(t, dir, "", s.serverName, s.key)
		record, err := b.CheckDataDir()
		if err == nil {
			err = record()
		}
		if s.wantErr {
			if err == nil || !strings.Contains(err.Error(), `"localhost"`) || !strings.Contains(err.Error(), `"example.org"`) {
				t.Fatalf("%s: err %v, want one naming both server names", s.name, err)
			}
		} else if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		for _, want := range s.wantFile {
			if got := read(); !strings.Contains(got, want) {
				t.Fatalf("%s: file %s lacks %s", s.name, got, want)
			}
		}
	}
	// Checking alone writes nothing: a start refused later leaves no trace.
	other := t.TempDir()
	if _, err := identityBase(t, other, "", "example.org", "a").CheckDataDir(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(other, IdentityFileName)); !os.IsNotExist(err) {
		t.Fatalf("CheckDataDir wrote the file before record: %v", err)
	}
	// A damaged file is reported, never silently rewritten.
	if err := os.WriteFile(filepath.Join(dir, IdentityFileName), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := identityBase(t, dir, "", "localhost", "").CheckDataDir(); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged file: %v", err)
	}
}
