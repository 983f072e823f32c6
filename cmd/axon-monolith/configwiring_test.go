package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/testenv"
)

// user_api.bcrypt_cost reaches the userapi: a registered account's stored hash has that
// cost (the default is 12), on SQLite and on Postgres.
func TestBcryptCostFromConfig(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			cfg := fmt.Sprintf("global:\n  server_name: bcrypt.test\n  data_dir: %q\n", dir)
			if backend == "postgres" {
				cfg += fmt.Sprintf("  database:\n    connection_string: %q\n", testenv.PostgresDSN(t))
			}
			cfg += "user_api:\n  bcrypt_cost: 5\n"
			path := filepath.Join(dir, "axon.yaml")
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			m, c := startTest(t, &options{configPath: path, httpBind: "127.0.0.1:0"})
			defer stop(t, m)
			r := c.must(401, "POST", "/_matrix/client/v3/register", "", map[string]any{"username": "dan", "password": "secret-pw"})
			c.must(200, "POST", "/_matrix/client/v3/register", "", map[string]any{"username": "dan", "password": "secret-pw",
				"auth": map[string]any{"type": "m.login.dummy", "session": r["session"]}})
			db, err := m.base.OpenDatabase(config.ComponentUserAPI)
			if err != nil {
				t.Fatal(err)
			}
			var hash string
			if err := db.QueryRowContext(t.Context(), `SELECT password_hash FROM userapi_accounts WHERE localpart = $1`, "dan").Scan(&hash); err != nil {
				t.Fatal(err)
			}
			if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != 5 {
				t.Fatalf("stored hash cost = %d (%v), want 5", cost, err)
			}
		})
	}
}
