// Package storage holds the clientapi's own tables, on SQLite and Postgres alike:
// user-interactive-auth sessions (so several clientapi instances of the polylith share
// them), the single-use nonces of shared-secret registration, and the local users' joined
// rooms fed by topic 4 (roomserver → clientapi membership changes), which the profile
// endpoints use to know where to send updated m.room.member events.
package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// Database is the clientapi's storage.
type Database struct {
	db *sqlutil.DB
}

var migrations = []sqlutil.Migration{
	{Version: 1, SQL: `
CREATE TABLE IF NOT EXISTS clientapi_uia_sessions (
	session_id TEXT NOT NULL PRIMARY KEY,
	operation  TEXT NOT NULL,
	user_id    TEXT NOT NULL,
	completed  TEXT NOT NULL,
	created_ts BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS clientapi_registration_nonces (
	nonce      TEXT NOT NULL PRIMARY KEY,
	expires_ts BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS clientapi_joined_rooms (
	user_id TEXT NOT NULL,
	room_id TEXT NOT NULL,
	PRIMARY KEY (user_id, room_id)
)`},
}

// Open runs the clientapi's migrations on db and returns its storage.
func Open(ctx context.Context, db *sqlutil.DB) (*Database, error) {
	// A multi-statement string without parameters is accepted by both lib/pq and modernc.
	if err := sqlutil.Migrate(ctx, db, "clientapi", migrations); err != nil {
		return nil, err
	}
	return &Database{db: db}, nil
}

// ErrNotFound is returned when a session or nonce does not exist.
var ErrNotFound = errors.New("storage: not found")

// UIASession is one user-interactive-auth session.
type UIASession struct {
	ID string
	// Operation binds the session to one endpoint ("register", "delete_device", …), so a
	// session started for one request cannot authorise another.
	Operation string
	// UserID is the user the session authenticates ("" for registration).
	UserID string
	// Completed lists the stages done so far, in order.
	Completed []string
	CreatedTS int64
}

// CreateUIASession stores a new, empty session.
func (d *Database) CreateUIASession(ctx context.Context, s *UIASession) error {
	completed, err := json.Marshal(nonNil(s.Completed))
	if err != nil {
		return err
	}
	_, err = d.db.ExecContext(ctx, `INSERT INTO clientapi_uia_sessions (session_id, operation, user_id, completed, created_ts)
		VALUES ($1, $2, $3, $4, $5)`, s.ID, s.Operation, s.UserID, string(completed), s.CreatedTS)
	return err
}

// GetUIASession returns a session, or ErrNotFound.
func (d *Database) GetUIASession(ctx context.Context, id string) (*UIASession, error) {
	var s UIASession
	var completed string
	err := d.db.QueryRowContext(ctx, `SELECT session_id, operation, user_id, completed, created_ts
		FROM clientapi_uia_sessions WHERE session_id = $1`, id).Scan(&s.ID, &s.Operation, &s.UserID, &completed, &s.CreatedTS)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(completed), &s.Completed); err != nil {
		return nil, fmt.Errorf("storage: bad completed stages of session %s: %w", id, err)
	}
	return &s, nil
}

// SetUIACompleted records the stages a session has completed.
func (d *Database) SetUIACompleted(ctx context.Context, id string, completed []string) error {
	b, err := json.Marshal(nonNil(completed))
	if err != nil {
		return err
	}
	res, err := d.db.ExecContext(ctx, `UPDATE clientapi_uia_sessions SET completed = $1 WHERE session_id = $2`, string(b), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteUIASession removes a finished session.
func (d *Database) DeleteUIASession(ctx context.Context, id string) error {
	_, err := d.db.ExecContext(ctx, `DELETE FROM clientapi_uia_sessions WHERE session_id = $1`, id)
	return err
}

// DeleteExpiredUIASessions removes sessions created before beforeTS.
func (d *Database) DeleteExpiredUIASessions(ctx context.Context, beforeTS int64) error {
	_, err := d.db.ExecContext(ctx, `DELETE FROM clientapi_uia_sessions WHERE created_ts < $1`, beforeTS)
	return err
}

// AddNonce stores a shared-secret registration nonce valid until expiresTS (ms). Expired
// nonces are pruned at the same time.
func (d *Database) AddNonce(ctx context.Context, nonce string, nowTS, expiresTS int64) error {
	return sqlutil.WithTransaction(ctx, d.db.DB, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM clientapi_registration_nonces WHERE expires_ts < $1`, nowTS); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO clientapi_registration_nonces (nonce, expires_ts) VALUES ($1, $2)`, nonce, expiresTS)
		return err
	})
}

// ConsumeNonce deletes a nonce and reports whether it existed and had not expired at nowTS.
// A nonce can be consumed once: of two concurrent callers only one gets true.
func (d *Database) ConsumeNonce(ctx context.Context, nonce string, nowTS int64) (bool, error) {
	var expires int64
	err := d.db.QueryRowContext(ctx, `DELETE FROM clientapi_registration_nonces WHERE nonce = $1 RETURNING expires_ts`, nonce).Scan(&expires)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return expires >= nowTS, nil
}

// SetMembership records a local user's membership in a room from topic 4: "join" adds the
// room to the user's joined rooms, anything else removes it. Replaying a message changes
// nothing (the consumer must be idempotent).
func (d *Database) SetMembership(ctx context.Context, userID, roomID, membership string) error {
	if membership == "join" {
		_, err := d.db.ExecContext(ctx, `INSERT INTO clientapi_joined_rooms (user_id, room_id) VALUES ($1, $2)
			ON CONFLICT (user_id, room_id) DO NOTHING`, userID, roomID)
		return err
	}
	_, err := d.db.ExecContext(ctx, `DELETE FROM clientapi_joined_rooms WHERE user_id = $1 AND room_id = $2`, userID, roomID)
	return err
}

// JoinedRooms lists the rooms a local user is joined to, as topic 4 reported them.
func (d *Database) JoinedRooms(ctx context.Context, userID string) ([]string, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT room_id FROM clientapi_joined_rooms WHERE user_id = $1 ORDER BY room_id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
