package syncv3

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// component is the name the session tables' migrations are recorded under.
const component = "syncv3"

// migrations are the session store's tables, in whatever *sqlutil.DB the Store is given
// (the syncapi instance's own database):
//
//   - syncv3_sessions: one row per session: its user and device, the sticky parameters
//     (a Request as JSON, pagination cursors removed), when it was last used (ms since the
//     epoch; idle sessions expire), the newest to-device position the client acknowledged
//     (NULL until the session asks for the to_device stream: it then counts for deletion)
//     and the newest to-device position it was sent (a token may not claim more).
var migrations = []sqlutil.Migration{{Version: 1, SQL: `
CREATE TABLE syncv3_sessions (
	session_id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL,
	device_id TEXT NOT NULL,
	params TEXT NOT NULL,
	created_ms BIGINT NOT NULL,
	last_used_ms BIGINT NOT NULL,
	to_device_ack BIGINT,
	to_device_sent BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX syncv3_sessions_device_idx ON syncv3_sessions (user_id, device_id, last_used_ms);
CREATE INDEX syncv3_sessions_used_idx ON syncv3_sessions (last_used_ms)`}}

// Session is one stored sync v3 session.
type Session struct {
	ID, UserID, DeviceID string
	// Params are the sticky parameters of every stream the session asked for.
	Params   Request
	LastUsed time.Time
	// ToDeviceAck is the newest to-device position the client acknowledged; nil while the
	// session never asked for the to_device stream.
	ToDeviceAck  *int64
	ToDeviceSent int64
}

// Store keeps the sessions in a database (SQLite or Postgres).
type Store struct {
	db *sqlutil.DB
}

// NewStore migrates the session tables in db.
func NewStore(ctx context.Context, db *sqlutil.DB) (*Store, error) {
	if err := sqlutil.Migrate(ctx, db, component, migrations); err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

// Create stores a new session. Within the same transaction it makes room: the device's
// expired sessions go, then its oldest-idle live ones while it holds perDevice or more,
// then the server's oldest-idle ones while it holds total or more (0: no bound).
func (s *Store) Create(ctx context.Context, sess *Session, idleCutoff time.Time, perDevice, total int) error {
	params, err := json.Marshal(sess.Params)
	if err != nil {
		return err
	}
	return sqlutil.WithTransaction(ctx, s.db.DB, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM syncv3_sessions WHERE user_id = $1 AND device_id = $2 AND last_used_ms < $3`,
			sess.UserID, sess.DeviceID, idleCutoff.UnixMilli()); err != nil {
			return err
		}
		if perDevice > 0 {
			if err := evictOldest(ctx, tx, `WHERE user_id = $1 AND device_id = $2`, perDevice, sess.UserID, sess.DeviceID); err != nil {
				return err
			}
		}
		if total > 0 {
			if err := evictOldest(ctx, tx, ``, total); err != nil {
				return err
			}
		}
		now := sess.LastUsed.UnixMilli()
		_, err := tx.ExecContext(ctx, `INSERT INTO syncv3_sessions (session_id, user_id, device_id, params, created_ms, last_used_ms, to_device_ack, to_device_sent)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, sess.ID, sess.UserID, sess.DeviceID, string(params), now, now, sess.ToDeviceAck, sess.ToDeviceSent)
		return err
	})
}

// evictOldest deletes the oldest-idle sessions matching where (args are its parameters)
// until fewer than bound remain, so the new one fits.
func evictOldest(ctx context.Context, tx *sql.Tx, where string, bound int, args ...any) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM syncv3_sessions `+where, args...).Scan(&n); err != nil {
		return err
	}
	if n < bound {
		return nil
	}
	excess := n - bound + 1
	limitArg := fmt.Sprintf("$%d", len(args)+1)
	_, err := tx.ExecContext(ctx, `DELETE FROM syncv3_sessions WHERE session_id IN (SELECT session_id FROM syncv3_sessions `+where+
		` ORDER BY last_used_ms, session_id LIMIT `+limitArg+`)`, append(args, excess)...)
	return err
}

// Get returns a session, or nil when there is none with that ID.
func (s *Store) Get(ctx context.Context, id string) (*Session, error) {
	var sess Session
	var params string
	var used int64
	var ack sql.NullInt64
	err := s.db.Reader().QueryRowContext(ctx, `SELECT session_id, user_id, device_id, params, last_used_ms, to_device_ack, to_device_sent
		FROM syncv3_sessions WHERE session_id = $1`, id).Scan(&sess.ID, &sess.UserID, &sess.DeviceID, &params, &used, &ack, &sess.ToDeviceSent)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(params), &sess.Params); err != nil {
		return nil, fmt.Errorf("syncv3: session %s: params: %w", id, err)
	}
	sess.LastUsed = time.UnixMilli(used)
	if ack.Valid {
		sess.ToDeviceAck = &ack.Int64
	}
	return &sess, nil
}

// Save writes a session's parameters, last use and to-device positions. It reports false
// when the session is gone (evicted or expired meanwhile).
func (s *Store) Save(ctx context.Context, sess *Session) (bool, error) {
	params, err := json.Marshal(sess.Params)
	if err != nil {
		return false, err
	}
	res, err := s.db.DB.ExecContext(ctx, `UPDATE syncv3_sessions SET params = $2, last_used_ms = $3, to_device_ack = $4, to_device_sent = $5
		WHERE session_id = $1`, sess.ID, string(params), sess.LastUsed.UnixMilli(), sess.ToDeviceAck, sess.ToDeviceSent)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// MinToDeviceAck returns the lowest to-device acknowledgement among the device's sessions
// used at or after idleCutoff that asked for the to_device stream; ok is false when there
// is none.
func (s *Store) MinToDeviceAck(ctx context.Context, userID, deviceID string, idleCutoff time.Time) (pos int64, ok bool, err error) {
	var m sql.NullInt64
	err = s.db.Reader().QueryRowContext(ctx, `SELECT MIN(to_device_ack) FROM syncv3_sessions
		WHERE user_id = $1 AND device_id = $2 AND last_used_ms >= $3 AND to_device_ack IS NOT NULL`,
		userID, deviceID, idleCutoff.UnixMilli()).Scan(&m)
	return m.Int64, m.Valid, err
}

// DeleteExpired deletes the sessions last used before idleCutoff and returns how many.
func (s *Store) DeleteExpired(ctx context.Context, idleCutoff time.Time) (int64, error) {
	res, err := s.db.DB.ExecContext(ctx, `DELETE FROM syncv3_sessions WHERE last_used_ms < $1`, idleCutoff.UnixMilli())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
