package userapi

import (
	"context"
	"database/sql"
	"testing"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/userapi/api"
)

type nopOutbox struct{}

func (nopOutbox) Stage(context.Context, *sql.Tx, ...eventlog.Message) error { return nil }
func (nopOutbox) Kick()                                                     {}
func (nopOutbox) Run(ctx context.Context) error                             { <-ctx.Done(); return nil }

// TestNewInternalAPI checks the wiring: migrations run (twice is fine) and options apply.
func TestNewInternalAPI(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			opts := []Option{WithBcryptCost(4), WithReservedLocalparts("admin"), WithTokenCache(-1, 0)}
			if _, err := NewInternalAPI(db, "example.org", nopOutbox{}, "axon.account_data", opts...); err != nil {
				t.Fatal(err)
			}
			u, err := NewInternalAPI(db, "example.org", nopOutbox{}, "axon.account_data", opts...)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if ok, err := u.LocalpartAvailable(ctx, "admin"); err != nil || ok {
				t.Fatalf("reserved localpart available = %v, %v", ok, err)
			}
			acct, err := u.CreateAccount(ctx, &api.CreateAccountRequest{Localpart: "alice", Password: "pw"})
			if err != nil {
				t.Fatal(err)
			}
			dev, err := u.CreateDevice(ctx, &api.CreateDeviceRequest{UserID: acct.UserID})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := u.QueryAccessToken(ctx, dev.AccessToken); err != nil || got.UserID != "@alice:example.org" {
				t.Fatalf("QueryAccessToken = %+v, %v", got, err)
			}
		})
	}
}
