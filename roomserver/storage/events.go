package storage

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// EventRow is an event as the roomserver stores it.
type EventRow struct {
	NID            int64
	EventID        string
	RoomID         string
	Type           string
	StateKey       *string
	Sender         string
	Depth          int64
	OriginServerTS int64
	JSON           []byte
	IsOutlier      bool
	IsRejected     bool
	IsRedacted     bool
	// StateBefore / StateAfter are the snapshots of the room state before and after the
	// event (equal for a message event or a rejected event).
	StateBefore int64
	StateAfter  int64
	StreamPos   int64
	// RoomVersion is filled by reads (joined from roomserver_rooms).
	RoomVersion string
	// PrevEventIDs / AuthEventIDs are written as DAG edges by InsertEvent.
	PrevEventIDs []string
	AuthEventIDs []string
}

// InsertEvent stores an event and its prev/auth edges, returning its numeric ID.
func (s *Store) InsertEvent(ctx context.Context, e *EventRow) (int64, error) {
	var sk sql.NullString
	if e.StateKey != nil {
		sk = sql.NullString{String: *e.StateKey, Valid: true}
	}
	var nid int64
	err := s.q.QueryRowContext(ctx, `INSERT INTO roomserver_events (event_id, room_id, event_type, state_key, sender, depth,
		origin_server_ts, event_json, is_outlier, is_rejected, state_before_snapshot_id, state_after_snapshot_id, stream_pos)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING event_nid`,
		e.EventID, e.RoomID, e.Type, sk, e.Sender, e.Depth, e.OriginServerTS, string(e.JSON), e.IsOutlier, e.IsRejected,
		e.StateBefore, e.StateAfter, e.StreamPos).Scan(&nid)
	if err != nil {
		return 0, fmt.Errorf("storage: inserting event %s: %w", e.EventID, err)
	}
	if err := s.insertEdges(ctx, "roomserver_prev_edges", "prev_event_id", nid, dedupe(e.PrevEventIDs)); err != nil {
		return 0, err
	}
	if err := s.insertEdges(ctx, "roomserver_auth_edges", "auth_event_id", nid, dedupe(e.AuthEventIDs)); err != nil {
		return 0, err
	}
	e.NID = nid
	return nid, nil
}

// insertEdges writes an event's DAG edges in one multi-row INSERT.
func (s *Store) insertEdges(ctx context.Context, table, column string, nid int64, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	var b strings.Builder
	args := make([]any, 0, 2*len(ids))
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "($%d, $%d)", 2*i+1, 2*i+2)
		args = append(args, nid, id)
	}
	_, err := s.q.ExecContext(ctx, `INSERT INTO `+table+` (event_nid, `+column+`) VALUES `+b.String(), args...)
	return err
}

func dedupe(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := in[:0:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

const eventColumns = `e.event_nid, e.event_id, e.room_id, e.event_type, e.state_key, e.sender, e.depth, e.origin_server_ts,
	e.event_json, e.is_outlier, e.is_rejected, e.is_redacted, e.state_before_snapshot_id, e.state_after_snapshot_id,
	e.stream_pos, r.room_version`

const eventFrom = ` FROM roomserver_events e JOIN roomserver_rooms r ON r.room_id = e.room_id `

func scanEvent(sc interface{ Scan(...any) error }) (*EventRow, error) {
	var e EventRow
	var sk sql.NullString
	var js string
	if err := sc.Scan(&e.NID, &e.EventID, &e.RoomID, &e.Type, &sk, &e.Sender, &e.Depth, &e.OriginServerTS, &js,
		&e.IsOutlier, &e.IsRejected, &e.IsRedacted, &e.StateBefore, &e.StateAfter, &e.StreamPos, &e.RoomVersion); err != nil {
		return nil, err
	}
	if sk.Valid {
		v := sk.String
		e.StateKey = &v
	}
	e.JSON = []byte(js)
	return &e, nil
}

// EventByID returns a stored event, or nil if it is not known.
func (s *Store) EventByID(ctx context.Context, eventID string) (*EventRow, error) {
	e, err := scanEvent(s.q.QueryRowContext(ctx, `SELECT `+eventColumns+eventFrom+`WHERE e.event_id = $1`, eventID))
	if noRows(err) {
		return nil, nil
	}
	return e, err
}

// EventsByNID returns the stored events with the given numeric IDs, keyed by NID.
func (s *Store) EventsByNID(ctx context.Context, nids []int64) (map[int64]*EventRow, error) {
	out := make(map[int64]*EventRow, len(nids))
	for start := 0; start < len(nids); start += 500 {
		chunk := nids[start:min(start+500, len(nids))]
		args := make([]any, len(chunk))
		for i, n := range chunk {
			args[i] = n
		}
		rows, err := s.q.QueryContext(ctx, `SELECT `+eventColumns+eventFrom+`WHERE e.event_nid IN (`+placeholders(len(chunk), 1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		if err := func() error {
			defer rows.Close()
			for rows.Next() {
				e, err := scanEvent(rows)
				if err != nil {
					return err
				}
				out[e.NID] = e
			}
			return rows.Err()
		}(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// EventsByID returns the stored events with the given IDs that are known, keyed by event ID.
func (s *Store) EventsByID(ctx context.Context, eventIDs []string) (map[string]*EventRow, error) {
	out := make(map[string]*EventRow, len(eventIDs))
	for start := 0; start < len(eventIDs); start += 500 {
		chunk := eventIDs[start:min(start+500, len(eventIDs))]
		args := make([]any, len(chunk))
		for i, n := range chunk {
			args[i] = n
		}
		rows, err := s.q.QueryContext(ctx, `SELECT `+eventColumns+eventFrom+`WHERE e.event_id IN (`+placeholders(len(chunk), 1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		if err := func() error {
			defer rows.Close()
			for rows.Next() {
				e, err := scanEvent(rows)
				if err != nil {
					return err
				}
				out[e.EventID] = e
			}
			return rows.Err()
		}(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SetEventRedacted replaces an event's stored JSON with its redacted form.
func (s *Store) SetEventRedacted(ctx context.Context, eventID string, redactedJSON []byte) error {
	_, err := s.q.ExecContext(ctx, `UPDATE roomserver_events SET event_json = $1, is_redacted = TRUE WHERE event_id = $2`,
		string(redactedJSON), eventID)
	return err
}

// PrevEventIDs returns the prev_events edges of an event.
func (s *Store) PrevEventIDs(ctx context.Context, nid int64) ([]string, error) {
	rows, err := s.q.QueryContext(ctx, `SELECT prev_event_id FROM roomserver_prev_edges WHERE event_nid = $1 ORDER BY prev_event_id`, nid)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// AuthEventIDs returns the auth_events edges of an event.
func (s *Store) AuthEventIDs(ctx context.Context, nid int64) ([]string, error) {
	rows, err := s.q.QueryContext(ctx, `SELECT auth_event_id FROM roomserver_auth_edges WHERE event_nid = $1 ORDER BY auth_event_id`, nid)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// placeholders returns "$from, $from+1, …" for n values.
func placeholders(n, from int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", from+i)
	}
	return b.String()
}

// SetEventStateAfter records the snapshot of the state after a state event.
func (s *Store) SetEventStateAfter(ctx context.Context, nid, snapshotID int64) error {
	_, err := s.q.ExecContext(ctx, `UPDATE roomserver_events SET state_after_snapshot_id = $1 WHERE event_nid = $2`, snapshotID, nid)
	return err
}

// SetEventStreamPos records the topic 2 stream position assigned to an event.
func (s *Store) SetEventStreamPos(ctx context.Context, nid, pos int64) error {
	_, err := s.q.ExecContext(ctx, `UPDATE roomserver_events SET stream_pos = $1 WHERE event_nid = $2`, pos, nid)
	return err
}

// SetEventStreamPositions records the topic 2 stream positions of several events (numeric
// ID → position) in one statement.
func (s *Store) SetEventStreamPositions(ctx context.Context, positions map[int64]int64) error {
	if len(positions) == 0 {
		return nil
	}
	var cases strings.Builder
	args := make([]any, 0, 3*len(positions))
	for nid, pos := range positions {
		fmt.Fprintf(&cases, " WHEN $%d THEN CAST($%d AS BIGINT)", len(args)+1, len(args)+2)
		args = append(args, nid, pos)
	}
	from := len(args) + 1
	for nid := range positions {
		args = append(args, nid)
	}
	_, err := s.q.ExecContext(ctx, `UPDATE roomserver_events SET stream_pos = CASE event_nid`+cases.String()+
		` END WHERE event_nid IN (`+placeholders(len(positions), from)+`)`, args...)
	return err
}

// EventIDsByNID maps numeric event IDs to event IDs (without loading the JSON).
func (s *Store) EventIDsByNID(ctx context.Context, nids []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(nids))
	for start := 0; start < len(nids); start += 500 {
		chunk := nids[start:min(start+500, len(nids))]
		args := make([]any, len(chunk))
		for i, n := range chunk {
			args[i] = n
		}
		rows, err := s.q.QueryContext(ctx, `SELECT event_nid, event_id FROM roomserver_events WHERE event_nid IN (`+placeholders(len(chunk), 1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		if err := func() error {
			defer rows.Close()
			for rows.Next() {
				var nid int64
				var id string
				if err := rows.Scan(&nid, &id); err != nil {
					return err
				}
				out[nid] = id
			}
			return rows.Err()
		}(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AuthChain returns the IDs of the auth chain of the given events: their auth events,
// those events' auth events, and so on, as far as they are stored. One recursive query;
// UNION (not UNION ALL) drops repeats, so the walk ends.
func (s *Store) AuthChain(ctx context.Context, eventIDs []string) ([]string, error) {
	if len(eventIDs) == 0 {
		return nil, nil
	}
	args := make([]any, len(eventIDs))
	for i, id := range eventIDs {
		args[i] = id
	}
	rows, err := s.q.QueryContext(ctx, `WITH RECURSIVE chain(id) AS (
			SELECT a.auth_event_id FROM roomserver_auth_edges a JOIN roomserver_events e ON e.event_nid = a.event_nid
			WHERE e.event_id IN (`+placeholders(len(eventIDs), 1)+`)
			UNION
			SELECT a.auth_event_id FROM chain c JOIN roomserver_events e ON e.event_id = c.id
			JOIN roomserver_auth_edges a ON a.event_nid = e.event_nid
		)
		SELECT id FROM chain`, args...)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// EventSenderByNID returns an event's sender, also for an event of a room this server does
// not hold (an invite from another server, kept as an outlier with no room row); "" if
// the event is not stored.
func (s *Store) EventSenderByNID(ctx context.Context, nid int64) (string, error) {
	var sender string
	err := s.q.QueryRowContext(ctx, `SELECT sender FROM roomserver_events WHERE event_nid = $1`, nid).Scan(&sender)
	if noRows(err) {
		return "", nil
	}
	return sender, err
}

// EventNIDByID returns an event's numeric ID, also for an event of a room this server does
// not hold; 0 if the event is not stored.
func (s *Store) EventNIDByID(ctx context.Context, eventID string) (int64, error) {
	var nid int64
	err := s.q.QueryRowContext(ctx, `SELECT event_nid FROM roomserver_events WHERE event_id = $1`, eventID).Scan(&nid)
	if noRows(err) {
		return 0, nil
	}
	return nid, err
}
