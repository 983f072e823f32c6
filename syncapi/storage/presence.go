package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// presenceComponent names presence's own migration sequence, apart from the syncapi's
// main one: each user's newest presence from topic 3 (eduserver → syncapi).
const presenceComponent = "syncapi_presence"

var presenceMigrations = []sqlutil.Migration{{Version: 1, SQL: `
CREATE TABLE syncapi_presence (
	user_id          TEXT PRIMARY KEY,
	presence         TEXT NOT NULL,
	status_msg       TEXT,
	last_active_ts   BIGINT NOT NULL,
	currently_active BOOLEAN NOT NULL,
	stream_pos       BIGINT NOT NULL
)`}}

// Presence is one user's presence as of StreamPos.
type Presence struct {
	UserID          string
	Presence        string
	StatusMsg       *string
	LastActiveTS    int64
	CurrentlyActive bool
	StreamPos       int64
}

// StorePresence stores a topic 3 presence record at its position and moves the edu
// watermark, in one transaction; an older record than the stored one changes nothing.
func (d *Database) StorePresence(ctx context.Context, p *Presence) (Advance, error) {
	return d.storeEDU(ctx, p.StreamPos, func(tx *sql.Tx) error {
		var msg sql.NullString
		if p.StatusMsg != nil {
			msg = sql.NullString{String: *p.StatusMsg, Valid: true}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO syncapi_presence (user_id, presence, status_msg, last_active_ts, currently_active, stream_pos)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (user_id) DO UPDATE SET presence = excluded.presence, status_msg = excluded.status_msg,
				last_active_ts = excluded.last_active_ts, currently_active = excluded.currently_active, stream_pos = excluded.stream_pos
			WHERE syncapi_presence.stream_pos < excluded.stream_pos`,
			p.UserID, p.Presence, msg, p.LastActiveTS, p.CurrentlyActive, p.StreamPos)
		if err != nil {
			return fmt.Errorf("syncapi storage: storing presence: %w", err)
		}
		return nil
	})
}

// AllPresence returns every stored presence (loaded into memory at start).
func (d *Database) AllPresence(ctx context.Context) ([]Presence, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT user_id, presence, status_msg, last_active_ts, currently_active, stream_pos
		FROM syncapi_presence`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Presence
	for rows.Next() {
		var p Presence
		var msg sql.NullString
		if err := rows.Scan(&p.UserID, &p.Presence, &msg, &p.LastActiveTS, &p.CurrentlyActive, &p.StreamPos); err != nil {
			return nil, err
		}
		if msg.Valid {
			p.StatusMsg = &msg.String
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
