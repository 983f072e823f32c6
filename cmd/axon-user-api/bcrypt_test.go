package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/axon-matrix/axon/internal/inthttp/polylith/processtest"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/userapi/api"
	"github.com/axon-matrix/axon/userapi/inthttp"
)

// user_api.bcrypt_cost reaches the userapi of the axon-user-api process: an account it
// creates is stored with a hash of that cost (the default is 12).
func TestProcessBcryptCost(t *testing.T) {
	bin := processtest.Build(t, ".", "axon-user-api")
	dir := t.TempDir()
	port := processtest.FreePort(t)
	cfgPath := processtest.WriteConfig(t, dir, processtest.Config{ServerName: testServer, Section: "user_api", Port: port, Secret: testSecret})
	f, err := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString("  bcrypt_cost: 5\n") // user_api is the file's last section
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	processtest.Start(t, bin, port, "-config", cfgPath)
	c := inthttp.NewClient(fmt.Sprintf("http://127.0.0.1:%d", port), testSecret)
	if _, err := c.CreateAccount(context.Background(), &api.CreateAccountRequest{Localpart: "erin", Password: "pw-of-erin"}); err != nil {
		t.Fatal(err)
	}
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: "file:" + filepath.Join(dir, "userapi.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var hash string
	if err := db.QueryRowContext(t.Context(), `SELECT password_hash FROM userapi_accounts WHERE localpart = $1`, "erin").Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != 5 {
		t.Fatalf("stored hash cost = %d (%v), want 5", cost, err)
	}
}
