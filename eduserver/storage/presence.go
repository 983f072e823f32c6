package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Presence is one user's stored presence.
type Presence struct {
	UserID          string
	Presence        string
	StatusMsg       *string
	LastActiveTS    int64
	CurrentlyActive bool
	StreamPos       int64
}

// GetPresence returns the user's presence, or nil when the user was never seen.
func GetPresence(ctx context.Context, q sqlQuerier, userID string) (*Presence, error) {
	p := &Presence{UserID: userID}
	var msg sql.NullString
	err := q.QueryRowContext(ctx, `SELECT presence, status_msg, last_active_ts, currently_active, stream_pos
		FROM eduserver_presence WHERE user_id = $1`, userID).Scan(&p.Presence, &msg, &p.LastActiveTS, &p.CurrentlyActive, &p.StreamPos)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("eduserver storage: reading presence: %w", err)
	}
	if msg.Valid {
		p.StatusMsg = &msg.String
	}
	return p, nil
}

// sqlQuerier is a *sql.Tx or *sql.DB.
type sqlQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Reader returns the database for reads outside a transaction.
func (d *Database) Reader() sqlQuerier { return d.DB.Reader() }

// UpsertPresence stores p as the user's presence.
func UpsertPresence(ctx context.Context, tx *sql.Tx, p *Presence) error {
	var msg sql.NullString
	if p.StatusMsg != nil {
		msg = sql.NullString{String: *p.StatusMsg, Valid: true}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO eduserver_presence (user_id, presence, status_msg, last_active_ts, currently_active, stream_pos)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (user_id) DO UPDATE SET presence = excluded.presence, status_msg = excluded.status_msg,
			last_active_ts = excluded.last_active_ts, currently_active = excluded.currently_active, stream_pos = excluded.stream_pos`,
		p.UserID, p.Presence, msg, p.LastActiveTS, p.CurrentlyActive, p.StreamPos)
	if err != nil {
		return fmt.Errorf("eduserver storage: storing presence: %w", err)
	}
	return nil
}

// TouchPresence moves a user's last_active_ts (activity that changes nothing published).
func (d *Database) TouchPresence(ctx context.Context, userID string, ts int64) error {
	_, err := d.DB.ExecContext(ctx, `UPDATE eduserver_presence SET last_active_ts = $2 WHERE user_id = $1 AND last_active_ts < $2`, userID, ts)
	return err
}

// IdlePresence returns the users not offline whose last activity is before beforeTS.
func (d *Database) IdlePresence(ctx context.Context, beforeTS int64) ([]string, error) {
	rows, err := d.DB.Reader().QueryContext(ctx, `SELECT user_id FROM eduserver_presence
		WHERE presence IN ('online', 'unavailable') AND last_active_ts < $1`, beforeTS)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}
