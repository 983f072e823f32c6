package storage

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
)

// Membership is a user's membership in a room at some position.
type Membership struct {
	RoomID     string
	Membership string // join | invite | leave | ban | knock
	// Pos is the position of the event that set it.
	Pos     int64
	EventID string
}

// StateAt returns a room's state after every event at position ≤ pos. With types
// non-empty only those event types are returned.
func (d *Database) StateAt(ctx context.Context, roomID string, pos int64, types ...string) ([]Event, error) {
	q := `SELECT ` + prefixed("e.", eventCols) + ` FROM syncapi_state_history h
		JOIN syncapi_events e ON e.event_id = h.event_id
		WHERE h.room_id = $1 AND h.stream_pos <= $2 AND h.stream_pos = (
			SELECT MAX(h2.stream_pos) FROM syncapi_state_history h2
			WHERE h2.room_id = h.room_id AND h2.event_type = h.event_type AND h2.state_key = h.state_key AND h2.stream_pos <= $2)`
	args := []any{roomID, pos}
	if len(types) > 0 {
		q += ` AND h.event_type IN (`
		for i, t := range types {
			if i > 0 {
				q += ","
			}
			args = append(args, t)
			q += "$" + strconv.Itoa(len(args))
		}
		q += `)`
	}
	return scanEvents(d.db.Reader().QueryContext(ctx, q+` ORDER BY h.stream_pos, h.event_type, h.state_key`, args...))
}

// StateEventAt returns one piece of a room's state at position pos, or nil.
func (d *Database) StateEventAt(ctx context.Context, roomID, eventType, stateKey string, pos int64) (*Event, error) {
	e, err := scanEvent(d.db.Reader().QueryRowContext(ctx, `SELECT `+prefixed("e.", eventCols)+` FROM syncapi_state_history h
		JOIN syncapi_events e ON e.event_id = h.event_id
		WHERE h.room_id = $1 AND h.event_type = $2 AND h.state_key = $3 AND h.stream_pos <= $4
		ORDER BY h.stream_pos DESC LIMIT 1`, roomID, eventType, stateKey, pos))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// MembershipsAt returns every room in which userID has a membership event at or before
// pos, with the membership in force at pos.
func (d *Database) MembershipsAt(ctx context.Context, userID string, pos int64) ([]Membership, error) {
	return scanMemberships(d.db.Reader().QueryContext(ctx, `SELECT h.room_id, h.membership, h.stream_pos, COALESCE(h.event_id, '')
		FROM syncapi_state_history h
		WHERE h.event_type = 'm.room.member' AND h.state_key = $1 AND h.stream_pos <= $2 AND h.stream_pos = (
			SELECT MAX(h2.stream_pos) FROM syncapi_state_history h2
			WHERE h2.event_type = 'm.room.member' AND h2.state_key = $1 AND h2.room_id = h.room_id AND h2.stream_pos <= $2)
		ORDER BY h.stream_pos`, userID, pos))
}

// MembershipHistory returns the changes of userID's membership in a room with position ≤
// upTo, oldest first.
func (d *Database) MembershipHistory(ctx context.Context, roomID, userID string, upTo int64) ([]Membership, error) {
	return scanMemberships(d.db.Reader().QueryContext(ctx, `SELECT room_id, membership, stream_pos, COALESCE(event_id, '')
		FROM syncapi_state_history WHERE event_type = 'm.room.member' AND state_key = $1 AND room_id = $2 AND stream_pos <= $3
		ORDER BY stream_pos`, userID, roomID, upTo))
}

// MembershipChanges returns the changes of userID's membership in any room with
// after < position ≤ upTo, oldest first.
func (d *Database) MembershipChanges(ctx context.Context, userID string, after, upTo int64) ([]Membership, error) {
	if upTo <= after {
		return nil, nil
	}
	return scanMemberships(d.db.Reader().QueryContext(ctx, `SELECT room_id, membership, stream_pos, COALESCE(event_id, '')
		FROM syncapi_state_history WHERE event_type = 'm.room.member' AND state_key = $1 AND stream_pos > $2 AND stream_pos <= $3
		ORDER BY stream_pos`, userID, after, upTo))
}

func scanMemberships(rows *sql.Rows, err error) ([]Membership, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Membership
	for rows.Next() {
		var m Membership
		if err := rows.Scan(&m.RoomID, &m.Membership, &m.Pos, &m.EventID); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// MemberCounts returns the number of joined and invited members of a room at pos.
func (d *Database) MemberCounts(ctx context.Context, roomID string, pos int64) (joined, invited int, err error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT h.membership, COUNT(*) FROM syncapi_state_history h
		WHERE h.room_id = $1 AND h.event_type = 'm.room.member' AND h.event_id IS NOT NULL AND h.stream_pos <= $2 AND h.stream_pos = (
			SELECT MAX(h2.stream_pos) FROM syncapi_state_history h2
			WHERE h2.room_id = h.room_id AND h2.event_type = 'm.room.member' AND h2.state_key = h.state_key AND h2.stream_pos <= $2)
		GROUP BY h.membership`, roomID, pos)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var m string
		var n int
		if err := rows.Scan(&m, &n); err != nil {
			return 0, 0, err
		}
		switch m {
		case "join":
			joined = n
		case "invite":
			invited = n
		}
	}
	return joined, invited, rows.Err()
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ", ")
}

// StateChange is one change of a (type, state_key): the position and the new event's JSON
// (nil when the tuple left the state).
type StateChange struct {
	Pos  int64
	JSON []byte
}

// TupleHistory returns the changes of one (type, state_key) of a room with position ≤
// upTo, oldest first.
func (d *Database) TupleHistory(ctx context.Context, roomID, eventType, stateKey string, upTo int64) ([]StateChange, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT h.stream_pos, COALESCE(e.event_json, '') FROM syncapi_state_history h
		LEFT JOIN syncapi_events e ON e.event_id = h.event_id
		WHERE h.room_id = $1 AND h.event_type = $2 AND h.state_key = $3 AND h.stream_pos <= $4 ORDER BY h.stream_pos`,
		roomID, eventType, stateKey, upTo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []StateChange
	for rows.Next() {
		var c StateChange
		var js string
		if err := rows.Scan(&c.Pos, &js); err != nil {
			return nil, err
		}
		if js != "" {
			c.JSON = []byte(js)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// RoomKnown reports whether the syncapi has any event of the room.
func (d *Database) RoomKnown(ctx context.Context, roomID string) (bool, error) {
	var n int
	err := d.db.Reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM syncapi_events WHERE room_id = $1 LIMIT 1) x`, roomID).Scan(&n)
	return n > 0, err
}

// StateDelta is one row of a room's state history.
type StateDelta struct {
	Pos       int64
	EventType string
	StateKey  string
	// EventID is "" when the tuple left the state.
	EventID string
}

// RoomStateDelta is a StateDelta with its room.
type RoomStateDelta struct {
	RoomID string
	StateDelta
}

// AllStateChangesBetween returns every room's state changes with after < position ≤ upTo
// (what a watermark advance over several positions made visible), oldest first.
func (d *Database) AllStateChangesBetween(ctx context.Context, after, upTo int64) ([]RoomStateDelta, error) {
	if upTo <= after {
		return nil, nil
	}
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT room_id, stream_pos, event_type, state_key, COALESCE(event_id, '') FROM syncapi_state_history
		WHERE stream_pos > $1 AND stream_pos <= $2 ORDER BY stream_pos`, after, upTo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RoomStateDelta
	for rows.Next() {
		var c RoomStateDelta
		if err := rows.Scan(&c.RoomID, &c.Pos, &c.EventType, &c.StateKey, &c.EventID); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// StateChangesBetween returns a room's state changes with after < position ≤ upTo, oldest first.
func (d *Database) StateChangesBetween(ctx context.Context, roomID string, after, upTo int64) ([]StateDelta, error) {
	if upTo <= after {
		return nil, nil
	}
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT stream_pos, event_type, state_key, COALESCE(event_id, '') FROM syncapi_state_history
		WHERE room_id = $1 AND stream_pos > $2 AND stream_pos <= $3 ORDER BY stream_pos`, roomID, after, upTo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []StateDelta
	for rows.Next() {
		var c StateDelta
		if err := rows.Scan(&c.Pos, &c.EventType, &c.StateKey, &c.EventID); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
