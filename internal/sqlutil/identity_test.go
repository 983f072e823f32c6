package sqlutil_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
)

// TestCheckServerIdentity: the first check records the identity; later checks with the
// same server name pass (a new key ID is recorded and reported, an unknown one changes
// nothing); another server name is refused with an error that names both.
func TestCheckServerIdentity(t *testing.T) {
	steps := []struct {
		name         string
		id           sqlutil.ServerIdentity
		wantPrevious string
		wantErr      []string // substrings; nil: no error
	}{
		{"first start records", sqlutil.ServerIdentity{ServerName: "a.example", KeyID: "ed25519:one"}, "", nil},
		{"same again", sqlutil.ServerIdentity{ServerName: "a.example", KeyID: "ed25519:one"}, "", nil},
		{"key unknown to this process", sqlutil.ServerIdentity{ServerName: "a.example"}, "", nil},
		{"other server name", sqlutil.ServerIdentity{ServerName: "b.example", KeyID: "ed25519:one"}, "",
			[]string{`"a.example"`, `"b.example"`}},
		{"key replaced", sqlutil.ServerIdentity{ServerName: "a.example", KeyID: "ed25519:two"}, "ed25519:one", nil},
		{"replacement remembered", sqlutil.ServerIdentity{ServerName: "a.example", KeyID: "ed25519:two"}, "", nil},
		{"other name still refused", sqlutil.ServerIdentity{ServerName: "localhost"}, "", []string{`"a.example"`, `"localhost"`}},
	}
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, s := range steps {
				prev, err := sqlutil.CheckServerIdentity(context.Background(), db, s.id)
				if s.wantErr == nil {
					if err != nil || prev != s.wantPrevious {
						t.Fatalf("%s: previous %q, err %v; want %q, nil", s.name, prev, err, s.wantPrevious)
					}
					continue
				}
				var me *sqlutil.IdentityMismatchError
				if !errors.As(err, &me) {
					t.Fatalf("%s: err %v, want an IdentityMismatchError", s.name, err)
				}
				for _, want := range s.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Fatalf("%s: %q does not name %s", s.name, err, want)
					}
				}
			}
		})
	}
}

// TestCheckServerIdentityCreatesSearchPathSchema: on Postgres, a connection whose
// search_path names a schema that does not exist yet (a new sync instance) gets the schema
// and its identity table there, apart from the database's other schemas.
func TestCheckServerIdentityCreatesSearchPathSchema(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	ctx := context.Background()
	main, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer main.Close()
	if _, err := sqlutil.CheckServerIdentity(ctx, main, sqlutil.ServerIdentity{ServerName: "main.example"}); err != nil {
		t.Fatal(err)
	}
	inst, err := sqlutil.Open(sqlutil.Options{ConnectionString: withSearchPath(t, dsn, "syncapi_x")})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	if _, err := sqlutil.CheckServerIdentity(ctx, inst, sqlutil.ServerIdentity{ServerName: "main.example"}); err != nil {
		t.Fatal(err)
	}
	var name string
	if err := main.QueryRowContext(ctx, `SELECT server_name FROM syncapi_x.axon_server_identity`).Scan(&name); err != nil || name != "main.example" {
		t.Fatalf("identity in schema syncapi_x: %q, %v", name, err)
	}
	if _, err := sqlutil.CheckServerIdentity(ctx, inst, sqlutil.ServerIdentity{ServerName: "other.example"}); err == nil {
		t.Fatal("the instance's schema accepted another server name")
	}
}
