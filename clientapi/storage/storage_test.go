package storage

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
)

func openTest(t *testing.T, dsn string) *Database {
	t.Helper()
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d, err := Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	// Migrating twice is a no-op.
	if _, err := Open(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestStorage(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			d := openTest(t, dsn(t))
			ctx := context.Background()
			t.Run("uia sessions", func(t *testing.T) {
				if _, err := d.GetUIASession(ctx, "nope"); !errors.Is(err, ErrNotFound) {
					t.Fatalf("want ErrNotFound, got %v", err)
				}
				s := &UIASession{ID: "s1", Operation: "register", UserID: "", CreatedTS: 100}
				if err := d.CreateUIASession(ctx, s); err != nil {
					t.Fatal(err)
				}
				if err := d.CreateUIASession(ctx, s); err == nil {
					t.Fatal("duplicate session ID accepted")
				}
				got, err := d.GetUIASession(ctx, "s1")
				if err != nil {
					t.Fatal(err)
				}
				if got.Operation != "register" || len(got.Completed) != 0 || got.CreatedTS != 100 {
					t.Fatalf("got %+v", got)
				}
				if err := d.SetUIACompleted(ctx, "s1", []string{"m.login.dummy"}); err != nil {
					t.Fatal(err)
				}
				if err := d.SetUIACompleted(ctx, "missing", []string{"x"}); !errors.Is(err, ErrNotFound) {
					t.Fatalf("want ErrNotFound, got %v", err)
				}
				got, _ = d.GetUIASession(ctx, "s1")
				if !reflect.DeepEqual(got.Completed, []string{"m.login.dummy"}) {
					t.Fatalf("completed = %v", got.Completed)
				}
				if err := d.DeleteExpiredUIASessions(ctx, 50); err != nil {
					t.Fatal(err)
				}
				if _, err := d.GetUIASession(ctx, "s1"); err != nil {
					t.Fatal("session deleted too early")
				}
				if err := d.DeleteExpiredUIASessions(ctx, 101); err != nil {
					t.Fatal(err)
				}
				if _, err := d.GetUIASession(ctx, "s1"); !errors.Is(err, ErrNotFound) {
					t.Fatal("expired session kept")
				}
			})
			t.Run("nonces", func(t *testing.T) {
				cases := []struct {
					nonce     string
					expires   int64
					consumeAt int64
					want      bool
				}{
					{"fresh", 1000, 500, true},
					{"expired", 1000, 1500, false},
				}
				for _, c := range cases {
					if err := d.AddNonce(ctx, c.nonce, 0, c.expires); err != nil {
						t.Fatal(err)
					}
					ok, err := d.ConsumeNonce(ctx, c.nonce, c.consumeAt)
					if err != nil || ok != c.want {
						t.Fatalf("%s: ok=%v err=%v, want %v", c.nonce, ok, err, c.want)
					}
					// Single use: a second consume always fails.
					if ok, _ := d.ConsumeNonce(ctx, c.nonce, c.consumeAt); ok {
						t.Fatalf("%s: nonce used twice", c.nonce)
					}
				}
				if ok, _ := d.ConsumeNonce(ctx, "never-issued", 0); ok {
					t.Fatal("unknown nonce accepted")
				}
			})
			t.Run("joined rooms", func(t *testing.T) {
				steps := []struct {
					room, membership string
					want             []string
				}{
					{"!a:x", "join", []string{"!a:x"}},
					{"!a:x", "join", []string{"!a:x"}}, // replay: idempotent
					{"!b:x", "join", []string{"!a:x", "!b:x"}},
					{"!a:x", "leave", []string{"!b:x"}},
					{"!a:x", "leave", []string{"!b:x"}},
					{"!b:x", "ban", nil},
				}
				for i, s := range steps {
					if err := d.SetMembership(ctx, "@u:x", s.room, s.membership); err != nil {
						t.Fatal(err)
					}
					got, err := d.JoinedRooms(ctx, "@u:x")
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(got, s.want) {
						t.Fatalf("step %d: got %v want %v", i, got, s.want)
					}
				}
			})
		})
	}
}
