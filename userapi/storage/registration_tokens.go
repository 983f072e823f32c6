package storage

import (
	"context"
	"database/sql"
	"errors"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// RegistrationTokenRow is one row of userapi_registration_tokens. A nil UsesAllowed or
// ExpiryTime means no limit.
type RegistrationTokenRow struct {
	Token       string
	UsesAllowed *int64
	Pending     int64
	Completed   int64
	ExpiryTime  *int64 // ms since the epoch
}

// Valid reports whether the token may still be used at nowMS: not expired and, with a
// limit, fewer than UsesAllowed registrations pending or completed.
func (r *RegistrationTokenRow) Valid(nowMS int64) bool {
	if r.ExpiryTime != nil && *r.ExpiryTime <= nowMS {
		return false
	}
	return r.UsesAllowed == nil || r.Pending+r.Completed < *r.UsesAllowed
}

const tokenColumns = `token, uses_allowed, pending, completed, expiry_time`

func scanToken(s interface{ Scan(...any) error }) (*RegistrationTokenRow, error) {
	var r RegistrationTokenRow
	var uses, expiry sql.NullInt64
	if err := s.Scan(&r.Token, &uses, &r.Pending, &r.Completed, &expiry); err != nil {
		return nil, err
	}
	if uses.Valid {
		r.UsesAllowed = &uses.Int64
	}
	if expiry.Valid {
		r.ExpiryTime = &expiry.Int64
	}
	return &r, nil
}

func nullable(p *int64) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: *p, Valid: true}
}

// InsertRegistrationToken creates a token; false (and nothing written) if it exists.
func InsertRegistrationToken(ctx context.Context, q sqlutil.Querier, r *RegistrationTokenRow) (bool, error) {
	res, err := q.ExecContext(ctx, `INSERT INTO userapi_registration_tokens (token, uses_allowed, pending, completed, expiry_time)
		VALUES ($1, $2, 0, 0, $3) ON CONFLICT (token) DO NOTHING`, r.Token, nullable(r.UsesAllowed), nullable(r.ExpiryTime))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SelectRegistrationToken returns one token, or ErrNotFound. forUpdate locks the row until
// the transaction ends on Postgres (SQLite's single writer serialises anyway).
func SelectRegistrationToken(ctx context.Context, q sqlutil.Querier, d sqlutil.Dialect, token string, forUpdate bool) (*RegistrationTokenRow, error) {
	lock := ""
	if forUpdate && d == sqlutil.Postgres {
		lock = " FOR UPDATE"
	}
	r, err := scanToken(q.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM userapi_registration_tokens WHERE token = $1`+lock, token))
	return r, notFound(err)
}

// SelectRegistrationTokens returns every token, ordered by token.
func SelectRegistrationTokens(ctx context.Context, q sqlutil.Querier) ([]RegistrationTokenRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+tokenColumns+` FROM userapi_registration_tokens ORDER BY token`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RegistrationTokenRow
	for rows.Next() {
		r, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	return out, rows.Err()
}

// UpdateRegistrationTokenLimits sets uses_allowed and expiry_time; ErrNotFound if the
// token does not exist.
func UpdateRegistrationTokenLimits(ctx context.Context, q sqlutil.Querier, token string, usesAllowed, expiryTime *int64) error {
	res, err := q.ExecContext(ctx, `UPDATE userapi_registration_tokens SET uses_allowed = $2, expiry_time = $3 WHERE token = $1`,
		token, nullable(usesAllowed), nullable(expiryTime))
	return affectedOne(res, err)
}

// DeleteRegistrationToken deletes a token and its reservations; ErrNotFound if it does not
// exist.
func DeleteRegistrationToken(ctx context.Context, q sqlutil.Querier, token string) error {
	if _, err := q.ExecContext(ctx, `DELETE FROM userapi_registration_token_reservations WHERE token = $1`, token); err != nil {
		return err
	}
	res, err := q.ExecContext(ctx, `DELETE FROM userapi_registration_tokens WHERE token = $1`, token)
	return affectedOne(res, err)
}

// AddPending changes a token's pending count by delta (never below 0).
func AddPending(ctx context.Context, q sqlutil.Querier, token string, delta int64) error {
	_, err := q.ExecContext(ctx, `UPDATE userapi_registration_tokens
		SET pending = CASE WHEN pending + $2 < 0 THEN 0 ELSE pending + $2 END WHERE token = $1`, token, delta)
	return err
}

// CompletePending moves one registration of token from pending to completed; ErrNotFound
// if the token no longer exists.
func CompletePending(ctx context.Context, q sqlutil.Querier, token string) error {
	res, err := q.ExecContext(ctx, `UPDATE userapi_registration_tokens
		SET pending = CASE WHEN pending > 0 THEN pending - 1 ELSE 0 END, completed = completed + 1 WHERE token = $1`, token)
	return affectedOne(res, err)
}

// InsertReservation records that session passed the token stage with token.
func InsertReservation(ctx context.Context, q sqlutil.Querier, session, token string, nowMS int64) error {
	_, err := q.ExecContext(ctx, `INSERT INTO userapi_registration_token_reservations (session_id, token, created_ts)
		VALUES ($1, $2, $3)`, session, token, nowMS)
	return err
}

// SelectReservation returns the token session reserved, or ErrNotFound.
func SelectReservation(ctx context.Context, q sqlutil.Querier, session string) (string, error) {
	var token string
	err := q.QueryRowContext(ctx, `SELECT token FROM userapi_registration_token_reservations WHERE session_id = $1`, session).Scan(&token)
	return token, notFound(err)
}

// DeleteReservation removes session's reservation and returns its token, or ErrNotFound.
func DeleteReservation(ctx context.Context, q sqlutil.Querier, session string) (string, error) {
	token, err := SelectReservation(ctx, q, session)
	if err != nil {
		return "", err
	}
	_, err = q.ExecContext(ctx, `DELETE FROM userapi_registration_token_reservations WHERE session_id = $1`, session)
	return token, err
}

// ReleaseReservationsBefore deletes the reservations made before beforeMS (registrations
// abandoned after the token stage) and gives their uses back to the tokens' pending
// counts, in the caller's transaction.
func ReleaseReservationsBefore(ctx context.Context, tx *sql.Tx, beforeMS int64) error {
	rows, err := tx.QueryContext(ctx, `SELECT token, COUNT(*) FROM userapi_registration_token_reservations
		WHERE created_ts < $1 GROUP BY token`, beforeMS)
	if err != nil {
		return err
	}
	counts := map[string]int64{}
	for rows.Next() {
		var token string
		var n int64
		if err := rows.Scan(&token, &n); err != nil {
			rows.Close()
			return err
		}
		counts[token] = n
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	if len(counts) == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM userapi_registration_token_reservations WHERE created_ts < $1`, beforeMS); err != nil {
		return err
	}
	for token, n := range counts {
		if err := AddPending(ctx, tx, token, -n); err != nil {
			return err
		}
	}
	return nil
}
