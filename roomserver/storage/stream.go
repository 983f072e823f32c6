package storage

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// AssignStreamPositions assigns the next n topic 2 stream positions (first, first+1, …) and
// sets the stream position of each event in offsets (event NID → offset from first), under
// the same rules as NextStreamPositions. The counter row stays locked from here to the commit, so
// on Postgres, where every statement is a round trip, both go in one statement (a
// data-modifying WITH) to keep other rooms' transactions waiting on that lock as briefly as
// possible; on SQLite (no round trips, one writer) they are the two statements of
// NextStreamPositions and SetEventStreamPositions.
func (s *Store) AssignStreamPositions(ctx context.Context, n int, offsets map[int64]int64) (first int64, err error) {
	if s.dialect != sqlutil.Postgres || len(offsets) == 0 {
		if first, err = s.NextStreamPositions(ctx, n); err != nil {
			return 0, err
		}
		positions := make(map[int64]int64, len(offsets))
		for nid, off := range offsets {
			positions[nid] = first + off
		}
		return first, s.SetEventStreamPositions(ctx, positions)
	}
	nids := make([]int64, 0, len(offsets))
	for nid := range offsets {
		nids = append(nids, nid)
	}
	sort.Slice(nids, func(i, j int) bool { return nids[i] < nids[j] })
	args := []any{n}
	values := make([]string, len(nids))
	for i, nid := range nids {
		values[i] = fmt.Sprintf("(CAST($%d AS BIGINT), CAST($%d AS BIGINT))", len(args)+1, len(args)+2)
		args = append(args, nid, offsets[nid])
	}
	// A WITH statement is not counted as a write by countingTx; this one writes.
	s.writes++
	var last int64
	err = s.q.QueryRowContext(ctx, `WITH c AS (UPDATE roomserver_stream SET pos = pos + $1 WHERE id = 1 RETURNING pos),
		u AS (UPDATE roomserver_events e SET stream_pos = c.pos - $1 + 1 + v.off FROM c, (VALUES `+strings.Join(values, ", ")+`) AS v (nid, off)
			WHERE e.event_nid = v.nid RETURNING 1)
		SELECT pos FROM c`, args...).Scan(&last)
	return last - int64(n) + 1, err
}

// NextStreamPositions assigns the next n topic 2 stream positions (first, first+1, …) in
// one statement, from the single counter row. Call it inside the transaction that stores
// the events: the row lock makes positions commit in order, and a rolled-back transaction
// rolls its increment back, so positions stay dense.
func (s *Store) NextStreamPositions(ctx context.Context, n int) (first int64, err error) {
	var last int64
	err = s.q.QueryRowContext(ctx, `UPDATE roomserver_stream SET pos = pos + $1 WHERE id = 1 RETURNING pos`, n).Scan(&last)
	return last - int64(n) + 1, err
}

// StreamPos returns the last assigned stream position.
func (s *Store) StreamPos(ctx context.Context) (int64, error) {
	var pos int64
	err := s.q.QueryRowContext(ctx, `SELECT pos FROM roomserver_stream WHERE id = 1`).Scan(&pos)
	return pos, err
}
