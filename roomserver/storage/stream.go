package storage

import "context"

// NextStreamPositions assigns the next n topic 2 stream positions (first, first+1, …) in
// one statement, under the same rules as NextStreamPos.
func (s *Store) NextStreamPositions(ctx context.Context, n int) (first int64, err error) {
	var last int64
	err = s.q.QueryRowContext(ctx, `UPDATE roomserver_stream SET pos = pos + $1 WHERE id = 1 RETURNING pos`, n).Scan(&last)
	return last - int64(n) + 1, err
}

// NextStreamPos assigns the next topic 2 stream position from the single counter row. Call
// it inside the transaction that stores the event: the row lock makes positions commit in
// order, and a rolled-back transaction rolls its increment back, so positions stay dense.
func (s *Store) NextStreamPos(ctx context.Context) (int64, error) {
	var pos int64
	err := s.q.QueryRowContext(ctx, `UPDATE roomserver_stream SET pos = pos + 1 WHERE id = 1 RETURNING pos`).Scan(&pos)
	return pos, err
}

// StreamPos returns the last assigned stream position.
func (s *Store) StreamPos(ctx context.Context) (int64, error) {
	var pos int64
	err := s.q.QueryRowContext(ctx, `SELECT pos FROM roomserver_stream WHERE id = 1`).Scan(&pos)
	return pos, err
}
