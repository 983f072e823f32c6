package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/syncapi/storage"
)

func TestInstanceDatabase(t *testing.T) {
	tests := []struct {
		cs, instance string
		want, schema string
		wantErr      string
	}{
		{"file:/data/syncapi.db", "0", "file:/data/syncapi-0.db", "", ""},
		{"sqlite:/data/sync", "b_2", "sqlite:/data/sync-b_2", "", ""},
		{"/data/axon.sqlite", "a", "file:/data/axon-a.sqlite", "", ""},
		{"postgres://u:p@db:5432/axon?sslmode=disable", "0",
			"postgres://u:p@db:5432/axon?search_path=syncapi_0&sslmode=disable", "syncapi_0", ""},
		{"postgresql://db/axon?search_path=public", "a", "postgresql://db/axon?search_path=syncapi_a", "syncapi_a", ""},
		{"host=db dbname=axon search_path=x sslmode=disable", "7", "host=db dbname=axon sslmode=disable search_path=syncapi_7", "syncapi_7", ""},
		{"file:/data/syncapi.db", "A", "", "", "-instance"},
		{"file:/data/syncapi.db", "a-b", "", "", "-instance"},
		{"file:/data/syncapi.db", "", "", "", "-instance"},
		{"file:/data/syncapi.db", strings.Repeat("a", 33), "", "", "-instance"},
		{"file::memory:", "0", "", "", "SQLite file"},
		{"file:/data/s.db?mode=ro", "0", "", "", "SQLite file"},
	}
	for _, tc := range tests {
		got, schema, err := instanceDatabase(tc.cs, tc.instance)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q %q: err %v, want one naming %q", tc.cs, tc.instance, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want || schema != tc.schema {
			t.Errorf("%q %q: %q %q %v, want %q %q", tc.cs, tc.instance, got, schema, err, tc.want, tc.schema)
		}
	}
}

// TestInstancesOnePostgresDatabase: two instances on one Postgres database each migrate
// the sync tables into their own schema, and a row one writes is not the other's.
func TestInstancesOnePostgresDatabase(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	ctx := context.Background()
	marks := map[string]int64{}
	for _, inst := range []string{"a", "b"} {
		cs, _, err := instanceDatabase(dsn, inst)
		if err != nil {
			t.Fatal(err)
		}
		db, err := sqlutil.Open(sqlutil.Options{ConnectionString: cs})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := ensureSchema(ctx, db, inst); err != nil {
			t.Fatal(err)
		}
		if err := ensureSchema(ctx, db, inst); err != nil { // a restart
			t.Fatalf("second ensureSchema: %v", err)
		}
		if _, err := storage.NewDatabase(ctx, db); err != nil {
			t.Fatalf("instance %s: %v", inst, err)
		}
		// Write into one table of this instance only.
		if _, err := db.ExecContext(ctx, `INSERT INTO syncapi_account_data (user_id, room_id, data_type, content, stream_pos) VALUES ($1, '', 'm.t', '{}', 1)`,
			"@"+inst+":x"); err != nil {
			t.Fatalf("instance %s: %v", inst, err)
		}
		var n int64
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM syncapi_account_data`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		marks[inst] = n
	}
	if marks["a"] != 1 || marks["b"] != 1 {
		t.Fatalf("rows seen per instance: %v, want 1 each", marks)
	}
	admin, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	rows, err := admin.QueryContext(ctx, `SELECT table_schema, COUNT(*) FROM information_schema.tables
		WHERE table_name LIKE 'syncapi\_%' OR table_name = 'axon_schema_migrations' GROUP BY table_schema ORDER BY table_schema`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		got[s] = n
	}
	if len(got) != 2 || got["syncapi_a"] == 0 || got["syncapi_a"] != got["syncapi_b"] {
		t.Fatalf("sync tables per schema: %v, want the same set in syncapi_a and syncapi_b only", got)
	}
}

// TestInstanceLock: on one Postgres database a second holder of the same instance is
// refused until the first lets go; another instance is not held up.
func TestInstanceLock(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	ctx := context.Background()
	open := func() *sqlutil.DB {
		db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	first, second := open(), open()
	release, err := lockInstance(ctx, first, "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockInstance(ctx, second, "a"); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second holder of instance a: %v", err)
	}
	other, err := lockInstance(ctx, second, "b")
	if err != nil {
		t.Fatalf("instance b: %v", err)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	again, err := lockInstance(ctx, second, "a")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	if err := errors.Join(again(), other()); err != nil {
		t.Fatal(err)
	}
}

func TestInstanceFromHostname(t *testing.T) {
	for _, tc := range []struct{ host, want string }{
		{"3f2a9c1b7d0e", "3f2a9c1b7d0e"},
		{"Sync-API.example.org", "sync_api_example_org"},
		{"docker_sync-api_2", "docker_sync_api_2"},
		{"a-very-long-host-name-that-goes-on-and-on", "a_very_long_host_name_that_goes_"},
		{"", "0"},
	} {
		got := instanceFromHostname(tc.host)
		if got != tc.want {
			t.Errorf("instanceFromHostname(%q) = %q, want %q", tc.host, got, tc.want)
		}
		if !instanceName.MatchString(got) {
			t.Errorf("instanceFromHostname(%q) = %q: not a valid instance name", tc.host, got)
		}
	}
}
