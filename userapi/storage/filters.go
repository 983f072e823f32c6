package storage

import (
	"context"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// SelectFilterIDByContent returns the ID under which a user already stored exactly this
// (canonicalised) filter, or ErrNotFound.
func SelectFilterIDByContent(ctx context.Context, q sqlutil.Querier, localpart, filter string) (int64, error) {
	var id int64
	err := q.QueryRowContext(ctx, `SELECT filter_id FROM userapi_filters WHERE localpart = $1 AND filter = $2
		ORDER BY filter_id LIMIT 1`, localpart, filter).Scan(&id)
	return id, notFound(err)
}

// InsertFilter stores a filter under the user's next ID (0, 1, 2, …) and returns it. The
// ID is computed and claimed in one statement; if a concurrent writer claimed the same ID
// first, ok is false and nothing was written (the caller retries).
func InsertFilter(ctx context.Context, q sqlutil.Querier, localpart, filter string) (id int64, ok bool, err error) {
	err = q.QueryRowContext(ctx, `INSERT INTO userapi_filters (localpart, filter_id, filter)
		SELECT $1, COALESCE(MAX(filter_id) + 1, 0), $2 FROM userapi_filters WHERE localpart = $1
		ON CONFLICT (localpart, filter_id) DO NOTHING RETURNING filter_id`, localpart, filter).Scan(&id)
	if err = notFound(err); err == ErrNotFound {
		return 0, false, nil
	}
	return id, err == nil, err
}

// SelectFilter returns a stored filter, or ErrNotFound.
func SelectFilter(ctx context.Context, q sqlutil.Querier, localpart string, id int64) (string, error) {
	var f string
	err := q.QueryRowContext(ctx, `SELECT filter FROM userapi_filters WHERE localpart = $1 AND filter_id = $2`,
		localpart, id).Scan(&f)
	return f, notFound(err)
}
