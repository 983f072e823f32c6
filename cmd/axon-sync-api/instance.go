package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/sqlutil"
)

// Several axon-sync-api instances run side by side (ARCHITECTURE.md §7), each consuming
// topics 1 and 2 itself: every instance needs every record, so each has its own consumer
// group, and each builds its own view, so each has its own tables. Both follow from the
// instance name (-instance, default "0"):
//
//   - consumer group "syncapi-<instance>";
//   - SQLite: the sync database file with "-<instance>" before its extension
//     (DATA_DIR/syncapi.db → DATA_DIR/syncapi-0.db);
//   - Postgres: the same database, schema "syncapi_<instance>", created if missing and
//     selected by the search_path run-time parameter lib/pq sends in the connection's
//     startup message. The sync tables and their migration records live in that schema
//     only, so instances never see each other's rows, and one Postgres database (even the
//     one global.database shares with every other component) holds any number of instances;
//     an advisory lock keeps a second process from running the same instance (lockInstance).
//
// Positions are the producers' (syncapi/README.md), so any instance serves a token another
// instance handed out.

// instanceName is what -instance accepts: it becomes part of a Postgres schema name and a
// file name, so lower-case letters, digits and "_", at most 32.
var instanceName = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)

// instanceFromHostname makes an instance name of a host name (-instance-from-hostname):
// lower-cased, every character outside a-z, 0-9 and _ replaced by _, cut to 32. Docker
// gives each container its ID's first 12 hex digits as host name, so each replica of a
// scaled sync service is its own instance (its own consumer group and tables).
func instanceFromHostname(h string) string {
	b := []byte(strings.ToLower(h))
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			b[i] = '_'
		}
	}
	if len(b) > 32 {
		b = b[:32]
	}
	if len(b) == 0 {
		return "0"
	}
	return string(b)
}

// consumerGroup is the instance's consumer group on topics 1 and 2.
func consumerGroup(instance string) string { return "syncapi-" + instance }

// schemaName is the instance's Postgres schema.
func schemaName(instance string) string { return "syncapi_" + instance }

// instanceDatabase returns the connection string of the instance's own tables, derived
// from cs (the sync_api database the config resolves to), and the Postgres schema to
// create ("" for SQLite).
func instanceDatabase(cs, instance string) (string, string, error) {
	if !instanceName.MatchString(instance) {
		return "", "", fmt.Errorf("-instance %q: want 1–32 of a-z, 0-9 and _", instance)
	}
	cs = strings.TrimSpace(cs)
	switch {
	case strings.HasPrefix(cs, "postgres://") || strings.HasPrefix(cs, "postgresql://"):
		u, err := url.Parse(cs)
		if err != nil {
			return "", "", fmt.Errorf("sync_api database: %w", err)
		}
		q := u.Query()
		q.Set("search_path", schemaName(instance))
		u.RawQuery = q.Encode()
		return u.String(), schemaName(instance), nil
	case strings.Contains(cs, "dbname=") || strings.Contains(cs, "host="):
		// key=value DSN: drop any search_path and add the instance's; the name needs no quoting.
		var out []string
		for _, f := range strings.Fields(cs) {
			if !strings.HasPrefix(f, "search_path=") {
				out = append(out, f)
			}
		}
		return strings.Join(append(out, "search_path="+schemaName(instance)), " "), schemaName(instance), nil
	}
	scheme := "file:"
	path := cs
	for _, p := range []string{"file:", "sqlite:"} {
		if strings.HasPrefix(cs, p) {
			scheme, path = p, strings.TrimPrefix(cs, p)
			break
		}
	}
	if path == "" || path == ":memory:" || strings.Contains(path, "?") {
		return "", "", fmt.Errorf("sync_api database %q: want a SQLite file path without options", cs)
	}
	ext := filepath.Ext(path)
	return scheme + strings.TrimSuffix(path, ext) + "-" + instance + ext, "", nil
}

// configureInstance points the sync_api database at the instance's own tables.
func configureInstance(cfg *config.Config, instance string) error {
	cs, _, err := instanceDatabase(cfg.DatabaseFor(config.ComponentSyncAPI).ConnectionString, instance)
	if err != nil {
		return err
	}
	cfg.SyncAPI.Database.ConnectionString = cs
	return nil
}

// ensureSchema creates the instance's schema on Postgres (nothing on SQLite). Its name
// passed instanceName, so it needs no quoting.
func ensureSchema(ctx context.Context, db *sqlutil.DB, instance string) error {
	if db.Dialect != sqlutil.Postgres {
		return nil
	}
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+schemaName(instance)); err != nil {
		return fmt.Errorf("creating schema %s: %w", schemaName(instance), err)
	}
	return nil
}

// lockInstance makes sure one process at a time runs an instance on Postgres: it takes a
// session advisory lock named after the instance's schema on a connection it holds until
// release, so a second process started with the same -instance against the same database
// refuses to start instead of splitting the instance's consumer group and tables with the
// first. On SQLite it does nothing.
func lockInstance(ctx context.Context, db *sqlutil.DB, instance string) (release func() error, err error) {
	if db.Dialect != sqlutil.Postgres {
		return func() error { return nil }, nil
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1, hashtext($2))`, instanceLockClass, schemaName(instance)).Scan(&ok); err != nil {
		conn.Close()
		return nil, fmt.Errorf("locking sync instance %q: %w", instance, err)
	}
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("sync instance %q is already running on this database (schema %s): give each process its own -instance",
			instance, schemaName(instance))
	}
	return func() error {
		_, uerr := conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1, hashtext($2))`, instanceLockClass, schemaName(instance))
		return errors.Join(uerr, conn.Close())
	}, nil
}

// instanceLockClass is the first key of the sync instance advisory locks (two-key locks
// never collide with the one-key lock sqlutil.Migrate takes).
const instanceLockClass = 7172
