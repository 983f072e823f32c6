package storage

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/axon-matrix/axon/matrix"
)

// StateMap is a room state: (type, state_key) → the numeric ID of the event that holds it.
type StateMap map[matrix.StateKeyTuple]int64

// snapshotFullEvery bounds the delta chain: every snapshotFullEvery-th snapshot of a chain
// is written in full, so loading any state reads at most that many snapshots' entries.
const snapshotFullEvery = 32

// LoadSnapshot returns the full state of a snapshot. Snapshot 0 is the empty state (before
// the create event). One recursive query walks the delta chain back to its full snapshot.
func (s *Store) LoadSnapshot(ctx context.Context, snapshotID int64) (StateMap, error) {
	out := StateMap{}
	if snapshotID == 0 {
		return out, nil
	}
	rows, err := s.q.QueryContext(ctx, `WITH RECURSIVE chain(id, parent, lvl) AS (
			SELECT snapshot_id, parent_id, 0 FROM roomserver_state_snapshots WHERE snapshot_id = $1
			UNION ALL
			SELECT s.snapshot_id, s.parent_id, c.lvl + 1 FROM roomserver_state_snapshots s JOIN chain c ON s.snapshot_id = c.parent
		)
		SELECT e.event_type, e.state_key, e.event_nid FROM chain c JOIN roomserver_state_entries e ON e.snapshot_id = c.id
		ORDER BY c.lvl DESC`, snapshotID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var t matrix.StateKeyTuple
		var nid sql.NullInt64
		if err := rows.Scan(&t.EventType, &t.StateKey, &nid); err != nil {
			return nil, err
		}
		if nid.Valid {
			out[t] = nid.Int64
		} else {
			delete(out, t) // a removal in a delta
		}
	}
	return out, rows.Err()
}

// NewSnapshot writes the state "parent with delta applied" as a new snapshot and returns its
// ID. A delta value of 0 removes the key. Snapshots are immutable, so many events share one.
func (s *Store) NewSnapshot(ctx context.Context, roomID string, parent int64, delta StateMap) (int64, error) {
	depth := 0
	if parent != 0 {
		if err := s.q.QueryRowContext(ctx, `SELECT delta_depth FROM roomserver_state_snapshots WHERE snapshot_id = $1`, parent).Scan(&depth); err != nil {
			return 0, err
		}
		depth++
	}
	entries := delta
	var parentArg any = parent
	if parent == 0 || depth >= snapshotFullEvery {
		// A full snapshot: the whole state, no parent.
		full, err := s.LoadSnapshot(ctx, parent)
		if err != nil {
			return 0, err
		}
		for t, nid := range delta {
			if nid == 0 {
				delete(full, t)
			} else {
				full[t] = nid
			}
		}
		entries, parentArg, depth = full, nil, 0
	}
	var id int64
	if err := s.q.QueryRowContext(ctx, `INSERT INTO roomserver_state_snapshots (room_id, parent_id, delta_depth) VALUES ($1, $2, $3) RETURNING snapshot_id`,
		roomID, parentArg, depth).Scan(&id); err != nil {
		return 0, err
	}
	if err := s.insertEntries(ctx, id, entries); err != nil {
		return 0, err
	}
	return id, nil
}

// entriesPerInsert bounds the rows of one multi-row INSERT (4 parameters each, well under
// SQLite's and Postgres's parameter limits).
const entriesPerInsert = 200

// insertEntries writes a snapshot's entries in multi-row INSERTs, so a full snapshot of a
// big room costs a few statements, not one per entry.
func (s *Store) insertEntries(ctx context.Context, id int64, entries StateMap) error {
	var b strings.Builder
	args := make([]any, 0, 4*entriesPerInsert)
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		_, err := s.q.ExecContext(ctx, `INSERT INTO roomserver_state_entries (snapshot_id, event_type, state_key, event_nid) VALUES `+b.String(), args...)
		b.Reset()
		args = args[:0]
		return err
	}
	for t, nid := range entries {
		var n any = nid
		if nid == 0 {
			n = nil // a removal in a delta
		}
		if len(args) > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "($%d, $%d, $%d, $%d)", len(args)+1, len(args)+2, len(args)+3, len(args)+4)
		args = append(args, id, t.EventType, t.StateKey, n)
		if len(args) == 4*entriesPerInsert {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}
