package sqlutil

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ServerIdentity is what a database remembers about the server that created it: user IDs,
// room aliases and events in it carry the server name, and remote servers know the server
// by its signing key, so neither can silently change under existing data.
type ServerIdentity struct {
	// ServerName is global.server_name.
	ServerName string
	// KeyID is the signing key's ID ("ed25519:a_XXXX"); "" when the process does not read
	// the key file, in which case it is neither compared nor recorded.
	KeyID string
}

// IdentityMismatchError is returned by CheckServerIdentity when the database was created
// for another server name.
type IdentityMismatchError struct {
	// Stored is what the database recorded at its first use; Configured what the process
	// was started with.
	Stored, Configured string
}

func (e *IdentityMismatchError) Error() string {
	return fmt.Sprintf("made for server name %q, but global.server_name is %q: the server name cannot change "+
		"once users and rooms exist (they carry it); set global.server_name back to %q, or use a new, empty database and data directory for %q",
		e.Stored, e.Configured, e.Stored, e.Configured)
}

// identityMigrations create the one-row table that holds the identity.
var identityMigrations = []Migration{{Version: 1, SQL: `CREATE TABLE IF NOT EXISTS axon_server_identity (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	server_name TEXT NOT NULL,
	key_id TEXT NOT NULL DEFAULT ''
)`}}

// searchPathSchema is a schema name CheckServerIdentity may create: the ones Axon itself
// puts in search_path (e.g. syncapi_<instance>) are lower-case identifiers.
var searchPathSchema = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// CheckServerIdentity records id in db on first use (a small table, axon_server_identity,
// created through Migrate, so several processes may do this at once) and afterwards
// compares: a different server name is an *IdentityMismatchError. A different key ID is
// not an error — keys may be replaced (axon-generate-keys -force) — but it is recorded and
// returned as previousKeyID, so the caller can warn; previousKeyID is "" when nothing
// changed.
//
// On Postgres, the tables go in the connection's current schema. When search_path names a
// schema that does not exist yet (a new sync instance, whose own code creates it), it is
// created here first, so the identity lives beside the tables it guards.
func CheckServerIdentity(ctx context.Context, db *DB, id ServerIdentity) (previousKeyID string, err error) {
	if id.ServerName == "" {
		return "", errors.New("sqlutil: server identity without a server name")
	}
	if db.Dialect == Postgres {
		if err := ensureCurrentSchema(ctx, db); err != nil {
			return "", err
		}
	}
	if err := Migrate(ctx, db, "server_identity", identityMigrations); err != nil {
		return "", err
	}
	err = WithTransaction(ctx, db.DB, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO axon_server_identity (id, server_name, key_id) VALUES (1, $1, $2)
			ON CONFLICT (id) DO NOTHING`, id.ServerName, id.KeyID); err != nil {
			return err
		}
		var name, keyID string
		if err := tx.QueryRowContext(ctx, `SELECT server_name, key_id FROM axon_server_identity WHERE id = 1`).Scan(&name, &keyID); err != nil {
			return err
		}
		if name != id.ServerName {
			return &IdentityMismatchError{Stored: name, Configured: id.ServerName}
		}
		if id.KeyID == "" || id.KeyID == keyID {
			return nil
		}
		previousKeyID = keyID
		_, err := tx.ExecContext(ctx, `UPDATE axon_server_identity SET key_id = $1 WHERE id = 1`, id.KeyID)
		return err
	})
	if err != nil {
		var me *IdentityMismatchError
		if errors.As(err, &me) {
			return "", err
		}
		return "", fmt.Errorf("sqlutil: server identity: %w", err)
	}
	return previousKeyID, nil
}

// ensureCurrentSchema creates the first schema of search_path when no schema of it exists
// (current_schema() is NULL), which would make every CREATE TABLE fail.
func ensureCurrentSchema(ctx context.Context, db *DB) error {
	var cur sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&cur); err != nil {
		return fmt.Errorf("sqlutil: server identity: %w", err)
	}
	if cur.Valid {
		return nil
	}
	var path string
	if err := db.QueryRowContext(ctx, `SHOW search_path`).Scan(&path); err != nil {
		return fmt.Errorf("sqlutil: server identity: %w", err)
	}
	first := strings.Trim(strings.TrimSpace(strings.Split(path, ",")[0]), `"`)
	if !searchPathSchema.MatchString(first) {
		return fmt.Errorf("sqlutil: search_path %q names no existing schema", path)
	}
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+first); err != nil {
		return fmt.Errorf("sqlutil: creating schema %s: %w", first, err)
	}
	return nil
}
