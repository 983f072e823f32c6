package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// StreamKeyChange is topic 7 (keyserver → syncapi): changes of users' device lists and
// cross-signing keys, at the keyserver's own positions.
const StreamKeyChange Stream = "key_change"

// KeyChange is one stored topic 7 record.
type KeyChange struct {
	Pos    int64
	UserID string
	// Audience, when set, are the only users who see the change.
	Audience []string
}

// KeyChangeWatermark returns the visible position of the key change stream.
func (d *Database) KeyChangeWatermark(ctx context.Context) (int64, error) {
	var w int64
	err := d.db.Reader().QueryRowContext(ctx, `SELECT watermark FROM syncapi_stream_positions WHERE stream = $1`, string(StreamKeyChange)).Scan(&w)
	return w, err
}

// StoreKeyChange stores a topic 7 record and moves the key change watermark, in one
// transaction. A replayed position changes nothing (Advance.Duplicate).
func (d *Database) StoreKeyChange(ctx context.Context, c *KeyChange) (adv Advance, err error) {
	audience := ""
	if len(c.Audience) > 0 {
		b, err := json.Marshal(c.Audience)
		if err != nil {
			return Advance{}, err
		}
		audience = string(b)
	}
	err = sqlutil.WithTransaction(ctx, d.db.DB, func(tx *sql.Tx) error {
		w, err := d.lockStream(ctx, tx, StreamKeyChange)
		if err != nil {
			return err
		}
		if dup, err := seen(ctx, tx, StreamKeyChange, w, c.Pos); err != nil || dup {
			adv = Advance{From: w, To: w, Duplicate: dup}
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO syncapi_key_changes (stream_pos, user_id, audience) VALUES ($1, $2, $3)
			ON CONFLICT (stream_pos) DO NOTHING`, c.Pos, c.UserID, audience); err != nil {
			return fmt.Errorf("syncapi storage: storing key change: %w", err)
		}
		adv, err = receive(ctx, tx, StreamKeyChange, w, c.Pos)
		return err
	})
	return adv, err
}

// KeyChangesBetween returns the key changes with after < position ≤ upTo, oldest first.
func (d *Database) KeyChangesBetween(ctx context.Context, after, upTo int64) ([]KeyChange, error) {
	if upTo <= after {
		return nil, nil
	}
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT stream_pos, user_id, audience FROM syncapi_key_changes
		WHERE stream_pos > $1 AND stream_pos <= $2 ORDER BY stream_pos`, after, upTo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []KeyChange
	for rows.Next() {
		var c KeyChange
		var audience string
		if err := rows.Scan(&c.Pos, &c.UserID, &audience); err != nil {
			return nil, err
		}
		if audience != "" {
			if err := json.Unmarshal([]byte(audience), &c.Audience); err != nil {
				return nil, fmt.Errorf("syncapi storage: key change %d: bad audience: %w", c.Pos, err)
			}
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// maxRoomsPerQuery bounds the room IDs of one JoinedUsersInRooms statement.
const maxRoomsPerQuery = 500

// JoinedUsersInRooms returns the users joined to any of rooms at position pos.
func (d *Database) JoinedUsersInRooms(ctx context.Context, rooms []string, pos int64) (map[string]bool, error) {
	out := map[string]bool{}
	for start := 0; start < len(rooms); start += maxRoomsPerQuery {
		chunk := rooms[start:min(start+maxRoomsPerQuery, len(rooms))]
		args := []any{pos}
		marks := make([]string, len(chunk))
		for i, r := range chunk {
			args = append(args, r)
			marks[i] = "$" + strconv.Itoa(len(args))
		}
		rows, err := d.db.Reader().QueryContext(ctx, `SELECT DISTINCT h.state_key FROM syncapi_state_history h
			WHERE h.event_type = 'm.room.member' AND h.membership = 'join' AND h.room_id IN (`+strings.Join(marks, ",")+`)
			AND h.stream_pos <= $1 AND h.stream_pos = (
				SELECT MAX(h2.stream_pos) FROM syncapi_state_history h2
				WHERE h2.room_id = h.room_id AND h2.event_type = 'm.room.member' AND h2.state_key = h.state_key AND h2.stream_pos <= $1)`,
			args...)
		if err != nil {
			return nil, err
		}
		err = func() error {
			defer rows.Close()
			for rows.Next() {
				var u string
				if err := rows.Scan(&u); err != nil {
					return err
				}
				out[u] = true
			}
			return rows.Err()
		}()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// MemberChangesIn reports whether any user's membership changed in any of rooms with
// after < position ≤ upTo.
func (d *Database) MemberChangesIn(ctx context.Context, rooms []string, after, upTo int64) (bool, error) {
	if upTo <= after {
		return false, nil
	}
	for start := 0; start < len(rooms); start += maxRoomsPerQuery {
		chunk := rooms[start:min(start+maxRoomsPerQuery, len(rooms))]
		args := []any{after, upTo}
		marks := make([]string, len(chunk))
		for i, r := range chunk {
			args = append(args, r)
			marks[i] = "$" + strconv.Itoa(len(args))
		}
		var n int
		if err := d.db.Reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM syncapi_state_history
			WHERE event_type = 'm.room.member' AND stream_pos > $1 AND stream_pos <= $2 AND room_id IN (`+strings.Join(marks, ",")+`)
			LIMIT 1) x`, args...).Scan(&n); err != nil {
			return false, err
		}
		if n > 0 {
			return true, nil
		}
	}
	return false, nil
}
