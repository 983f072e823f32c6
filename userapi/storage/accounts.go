package storage

import (
	"context"
	"database/sql"
	"errors"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// AccountRow is one row of userapi_accounts.
type AccountRow struct {
	Localpart    string
	PasswordHash string // "" when the account has no password
	AccountType  int
	CreatedTS    int64
	Deactivated  bool
}

// InsertAccount creates an account. It returns false (and writes nothing) if the localpart
// is taken, including by a deactivated account: localparts are never reused.
func InsertAccount(ctx context.Context, q sqlutil.Querier, a *AccountRow) (bool, error) {
	res, err := q.ExecContext(ctx, `INSERT INTO userapi_accounts (localpart, password_hash, account_type, created_ts, deactivated)
		VALUES ($1, $2, $3, $4, FALSE) ON CONFLICT (localpart) DO NOTHING`,
		a.Localpart, a.PasswordHash, a.AccountType, a.CreatedTS)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SelectAccount returns an account, or ErrNotFound.
func SelectAccount(ctx context.Context, q sqlutil.Querier, localpart string) (*AccountRow, error) {
	a := AccountRow{Localpart: localpart}
	err := q.QueryRowContext(ctx, `SELECT password_hash, account_type, created_ts, deactivated
		FROM userapi_accounts WHERE localpart = $1`, localpart).
		Scan(&a.PasswordHash, &a.AccountType, &a.CreatedTS, &a.Deactivated)
	if err != nil {
		return nil, notFound(err)
	}
	return &a, nil
}

// AccountExists reports whether an account (active or deactivated) has the localpart.
func AccountExists(ctx context.Context, q sqlutil.Querier, localpart string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM userapi_accounts WHERE localpart = $1`, localpart).Scan(&n)
	return n > 0, err
}

// LockAccount reports whether an account exists and, on Postgres, locks its row until the
// transaction ends, so that writers of one user's per-user sequences (filter IDs) take turns
// instead of racing for the same next value. SQLite has a single writer connection, so the
// transaction alone serialises them.
func LockAccount(ctx context.Context, tx *sql.Tx, d sqlutil.Dialect, localpart string) (bool, error) {
	lock := ""
	if d == sqlutil.Postgres {
		lock = " FOR UPDATE"
	}
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM userapi_accounts WHERE localpart = $1`+lock, localpart).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// UpdatePasswordHash sets an active account's password hash; ErrNotFound if there is none.
func UpdatePasswordHash(ctx context.Context, q sqlutil.Querier, localpart, hash string) error {
	res, err := q.ExecContext(ctx, `UPDATE userapi_accounts SET password_hash = $2
		WHERE localpart = $1 AND deactivated = FALSE`, localpart, hash)
	return affectedOne(res, err)
}

// DeactivateAccount marks an account deactivated and removes its password hash.
// ErrNotFound if the account does not exist or is already deactivated.
func DeactivateAccount(ctx context.Context, q sqlutil.Querier, localpart string) error {
	res, err := q.ExecContext(ctx, `UPDATE userapi_accounts SET deactivated = TRUE, password_hash = ''
		WHERE localpart = $1 AND deactivated = FALSE`, localpart)
	return affectedOne(res, err)
}

func affectedOne(res interface{ RowsAffected() (int64, error) }, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
