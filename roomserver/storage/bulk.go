package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// Bulk writes and walks for large rooms (a remote join stores a room's whole state and auth
// chain at once; a send_join answer walks the auth chain of the whole state): a few
// multi-row statements instead of one or more per event.

// rowsPerStatement is how many rows of paramsPerRow parameters one bulk statement carries.
// SQLite's driver looks each bound parameter's name up in a list as long as the
// statement's parameters, so binding costs the square of a statement's parameters: a
// couple of hundred per statement is fastest there (thousands made the inserts of a large
// join mostly that lookup). Postgres takes more per round trip (its limit is 65,535).
func (s *Store) rowsPerStatement(paramsPerRow int) int {
	budget := 192
	if s.dialect == sqlutil.Postgres {
		budget = 1024
	}
	return max(1, budget/paramsPerRow)
}

// InsertEvents stores events with their prev/auth edges, in the order given, in multi-row
// INSERTs, and returns their numeric IDs by event ID (each row's NID is set too). The
// events must be new (an event ID already stored fails, as with InsertEvent).
func (s *Store) InsertEvents(ctx context.Context, rows []*EventRow) (map[string]int64, error) {
	nids := make(map[string]int64, len(rows))
	per := s.rowsPerStatement(13)
	for start := 0; start < len(rows); start += per {
		chunk := rows[start:min(start+per, len(rows))]
		args := make([]any, 0, 13*len(chunk))
		for _, e := range chunk {
			var sk sql.NullString
			if e.StateKey != nil {
				sk = sql.NullString{String: *e.StateKey, Valid: true}
			}
			args = append(args, e.EventID, e.RoomID, e.Type, sk, e.Sender, e.Depth, e.OriginServerTS, string(e.JSON),
				e.IsOutlier, e.IsRejected, e.StateBefore, e.StateAfter, e.StreamPos)
		}
		res, err := s.q.QueryContext(ctx, `INSERT INTO roomserver_events (event_id, room_id, event_type, state_key, sender, depth,
			origin_server_ts, event_json, is_outlier, is_rejected, state_before_snapshot_id, state_after_snapshot_id, stream_pos)
			VALUES `+sqlutil.ValueRows(len(chunk), 13)+` RETURNING event_id, event_nid`, args...)
		if err != nil {
			return nil, fmt.Errorf("storage: inserting %d events: %w", len(chunk), err)
		}
		if err := func() error {
			defer res.Close()
			for res.Next() {
				var id string
				var nid int64
				if err := res.Scan(&id, &nid); err != nil {
					return err
				}
				nids[id] = nid
			}
			return res.Err()
		}(); err != nil {
			return nil, fmt.Errorf("storage: inserting %d events: %w", len(chunk), err)
		}
	}
	var prev, authEdges [][2]any
	for _, e := range rows {
		nid, ok := nids[e.EventID]
		if !ok {
			return nil, fmt.Errorf("storage: inserting event %s: no numeric ID returned", e.EventID)
		}
		e.NID = nid
		for _, id := range dedupe(e.PrevEventIDs) {
			prev = append(prev, [2]any{nid, id})
		}
		for _, id := range dedupe(e.AuthEventIDs) {
			authEdges = append(authEdges, [2]any{nid, id})
		}
	}
	if err := s.insertEdgeRows(ctx, "roomserver_prev_edges", "prev_event_id", prev); err != nil {
		return nil, err
	}
	if err := s.insertEdgeRows(ctx, "roomserver_auth_edges", "auth_event_id", authEdges); err != nil {
		return nil, err
	}
	return nids, nil
}

// insertEdgeRows writes (event NID, event ID) edges of many events in multi-row INSERTs.
func (s *Store) insertEdgeRows(ctx context.Context, table, column string, edges [][2]any) error {
	per := s.rowsPerStatement(2)
	for start := 0; start < len(edges); start += per {
		chunk := edges[start:min(start+per, len(edges))]
		args := make([]any, 0, 2*len(chunk))
		for _, e := range chunk {
			args = append(args, e[0], e[1])
		}
		if _, err := s.q.ExecContext(ctx, `INSERT INTO `+table+` (event_nid, `+column+`) VALUES `+sqlutil.ValueRows(len(chunk), 2), args...); err != nil {
			return fmt.Errorf("storage: inserting %d %s: %w", len(chunk), table, err)
		}
	}
	return nil
}

// MembershipRow is one user's membership for SetMemberships.
type MembershipRow struct {
	UserID     string
	Membership string
	EventNID   int64
}

// SetMemberships is SetMembership for many users of one room (each user at most once), in
// multi-row upserts.
func (s *Store) SetMemberships(ctx context.Context, roomID string, rows []MembershipRow) error {
	per := s.rowsPerStatement(5)
	for start := 0; start < len(rows); start += per {
		chunk := rows[start:min(start+per, len(rows))]
		args := make([]any, 0, 5*len(chunk))
		for _, m := range chunk {
			args = append(args, roomID, m.UserID, m.Membership, m.EventNID, false)
		}
		if _, err := s.q.ExecContext(ctx, `INSERT INTO roomserver_memberships (room_id, user_id, membership, event_nid, forgotten)
			VALUES `+sqlutil.ValueRows(len(chunk), 5)+`
			ON CONFLICT (room_id, user_id) DO UPDATE SET membership = excluded.membership, event_nid = excluded.event_nid,
				forgotten = CASE WHEN excluded.membership IN ('leave', 'ban') THEN roomserver_memberships.forgotten ELSE FALSE END`,
			args...); err != nil {
			return fmt.Errorf("storage: setting %d memberships: %w", len(chunk), err)
		}
	}
	return nil
}

// SetCurrentState sets entries of the room's current state (new or replaced tuples), in
// multi-row upserts: UpdateCurrentState's set, for a whole state at once.
func (s *Store) SetCurrentState(ctx context.Context, roomID string, set StateMap) error {
	per := s.rowsPerStatement(4)
	args := make([]any, 0, 4*per)
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		_, err := s.q.ExecContext(ctx, `INSERT INTO roomserver_current_state (room_id, event_type, state_key, event_nid) VALUES `+
			sqlutil.ValueRows(len(args)/4, 4)+` ON CONFLICT (room_id, event_type, state_key) DO UPDATE SET event_nid = excluded.event_nid`, args...)
		args = args[:0]
		if err != nil {
			return fmt.Errorf("storage: setting the current state: %w", err)
		}
		return nil
	}
	for t, nid := range set {
		args = append(args, roomID, t.EventType, t.StateKey, nid)
		if len(args) == 4*per {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// AuthChainOfNIDs returns the IDs of the auth chain of the stored events with the given
// numeric IDs: their auth events, those events' auth events, and so on (an auth event not
// stored is listed but ends its branch). The walk is breadth-first, one query per
// rowsPerStatement(1) events of a level, so a room's whole state costs a few dozen queries
// however many events it has, and no statement grows with the room.
func (s *Store) AuthChainOfNIDs(ctx context.Context, nids []int64) ([]string, error) {
	seen := map[string]bool{}
	expanded := make(map[int64]bool, len(nids))
	var chain []string
	frontier := make([]int64, 0, len(nids))
	for _, nid := range nids {
		if !expanded[nid] {
			expanded[nid] = true
			frontier = append(frontier, nid)
		}
	}
	per := s.rowsPerStatement(1)
	for len(frontier) > 0 {
		var next []int64
		for start := 0; start < len(frontier); start += per {
			chunk := frontier[start:min(start+per, len(frontier))]
			args := make([]any, len(chunk))
			for i, n := range chunk {
				args[i] = n
			}
			rows, err := s.q.QueryContext(ctx, `SELECT DISTINCT a.auth_event_id, e.event_nid FROM roomserver_auth_edges a
				LEFT JOIN roomserver_events e ON e.event_id = a.auth_event_id
				WHERE a.event_nid IN (`+placeholders(len(chunk), 1)+`)`, args...)
			if err != nil {
				return nil, err
			}
			if err := func() error {
				defer rows.Close()
				for rows.Next() {
					var id string
					var nid sql.NullInt64
					if err := rows.Scan(&id, &nid); err != nil {
						return err
					}
					if !seen[id] {
						seen[id] = true
						chain = append(chain, id)
					}
					if nid.Valid && !expanded[nid.Int64] {
						expanded[nid.Int64] = true
						next = append(next, nid.Int64)
					}
				}
				return rows.Err()
			}(); err != nil {
				return nil, err
			}
		}
		frontier = next
	}
	return chain, nil
}

// EventIDAndJSON is a stored event's ID and, when asked for, its JSON.
type EventIDAndJSON struct {
	EventID string
	JSON    []byte
}

// EventsIDAndJSONByNID returns the ID and, with withJSON, the stored JSON of the events
// with the given numeric IDs, by numeric ID (unknown ones left out): a room's state for a
// send_join answer in one pass over its primary key, without the other columns.
func (s *Store) EventsIDAndJSONByNID(ctx context.Context, nids []int64, withJSON bool) (map[int64]EventIDAndJSON, error) {
	cols := `event_nid, event_id, ''`
	if withJSON {
		cols = `event_nid, event_id, event_json`
	}
	out := make(map[int64]EventIDAndJSON, len(nids))
	per := s.rowsPerStatement(1)
	for start := 0; start < len(nids); start += per {
		chunk := nids[start:min(start+per, len(nids))]
		args := make([]any, len(chunk))
		for i, n := range chunk {
			args[i] = n
		}
		rows, err := s.q.QueryContext(ctx, `SELECT `+cols+` FROM roomserver_events WHERE event_nid IN (`+placeholders(len(chunk), 1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		if err := func() error {
			defer rows.Close()
			for rows.Next() {
				var nid int64
				var id, js string
				if err := rows.Scan(&nid, &id, &js); err != nil {
					return err
				}
				e := EventIDAndJSON{EventID: id}
				if withJSON {
					e.JSON = []byte(js)
				}
				out[nid] = e
			}
			return rows.Err()
		}(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
