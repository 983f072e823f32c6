package storage

import (
	"context"
	"database/sql"
	"errors"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// BackupVersion is one of a user's key backup versions. Etag changes whenever the keys
// stored in it change; Count is how many keys it holds.
type BackupVersion struct {
	Version   int64
	Algorithm string
	AuthData  []byte
	Etag      int64
	Count     int64
	Deleted   bool
}

// BackupKey is one room key in a backup (the spec's KeyBackupData with its room and
// session); SessionData is the encrypted session_data object as JSON.
type BackupKey struct {
	RoomID, SessionID string
	FirstMessageIndex int64
	ForwardedCount    int64
	IsVerified        bool
	SessionData       []byte
}

// ErrNoBackup means the asked backup version does not exist (or was deleted), or the user
// has no backup at all.
var ErrNoBackup = errors.New("no such backup version")

// WrongVersionError means keys were sent for a version that exists but is not the
// current one.
type WrongVersionError struct{ Current int64 }

func (e *WrongVersionError) Error() string { return "not the current backup version" }

// CreateBackup makes a new backup version, which becomes the current one. Versions count
// up per user and are never re-used, also after a deletion.
func (d *Database) CreateBackup(ctx context.Context, userID, algorithm string, authData []byte) (int64, error) {
	var version int64
	var err error
	// Two creations racing on Postgres may pick the same number; the loser tries again.
	for range 5 {
		err = sqlutil.WithTransaction(ctx, d.DB.DB, func(tx *sql.Tx) error {
			if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM keyserver_backup_versions WHERE user_id = $1`,
				userID).Scan(&version); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO keyserver_backup_versions (user_id, version, algorithm, auth_data, etag, deleted)
				VALUES ($1, $2, $3, $4, 0, FALSE)`, userID, version, algorithm, string(authData))
			return err
		})
		if err == nil {
			return version, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return 0, err
}

const backupColumns = `v.version, v.algorithm, v.auth_data, v.etag, v.deleted,
	(SELECT COUNT(*) FROM keyserver_backup_keys k WHERE k.user_id = v.user_id AND k.version = v.version)`

func scanBackup(row *sql.Row) (*BackupVersion, error) {
	var b BackupVersion
	var auth string
	err := row.Scan(&b.Version, &b.Algorithm, &auth, &b.Etag, &b.Deleted, &b.Count)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoBackup
	}
	if err != nil {
		return nil, err
	}
	b.AuthData = []byte(auth)
	return &b, nil
}

// Backup returns a backup version of userID, deleted ones included (Deleted says so);
// version 0 asks for the current one: the newest not deleted. ErrNoBackup when there is
// none.
func (d *Database) Backup(ctx context.Context, userID string, version int64) (*BackupVersion, error) {
	if version == 0 {
		return scanBackup(d.DB.Reader().QueryRowContext(ctx, `SELECT `+backupColumns+` FROM keyserver_backup_versions v
			WHERE v.user_id = $1 AND NOT v.deleted ORDER BY v.version DESC LIMIT 1`, userID))
	}
	return scanBackup(d.DB.Reader().QueryRowContext(ctx, `SELECT `+backupColumns+` FROM keyserver_backup_versions v
		WHERE v.user_id = $1 AND v.version = $2`, userID, version))
}

// UpdateBackup replaces the auth_data of a version that is not deleted.
func (d *Database) UpdateBackup(ctx context.Context, userID string, version int64, authData []byte) error {
	res, err := d.DB.DB.ExecContext(ctx, `UPDATE keyserver_backup_versions SET auth_data = $3
		WHERE user_id = $1 AND version = $2 AND NOT deleted`, userID, version, string(authData))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return errors.Join(err, ErrNoBackup)
	}
	return nil
}

// DeleteBackup marks a version deleted and forgets its keys; deleting a deleted version
// again is no error. ErrNoBackup when the version never existed.
func (d *Database) DeleteBackup(ctx context.Context, userID string, version int64) error {
	return sqlutil.WithTransaction(ctx, d.DB.DB, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE keyserver_backup_versions SET deleted = TRUE WHERE user_id = $1 AND version = $2`,
			userID, version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(err, ErrNoBackup)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM keyserver_backup_keys WHERE user_id = $1 AND version = $2`, userID, version)
		return err
	})
}

// counters returns a version's etag and key count inside tx.
func counters(ctx context.Context, tx *sql.Tx, userID string, version int64) (etag, count int64, err error) {
	err = tx.QueryRowContext(ctx, `SELECT etag, (SELECT COUNT(*) FROM keyserver_backup_keys WHERE user_id = $1 AND version = $2)
		FROM keyserver_backup_versions WHERE user_id = $1 AND version = $2`, userID, version).Scan(&etag, &count)
	return etag, count, err
}

// bumpEtag gives a version a new etag after its keys changed.
func bumpEtag(ctx context.Context, tx *sql.Tx, userID string, version int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE keyserver_backup_versions SET etag = etag + 1 WHERE user_id = $1 AND version = $2`,
		userID, version)
	return err
}

// PutBackupKeys stores keys in version, which must be the current version (else
// WrongVersionError, or ErrNoBackup when version does not exist or was deleted). A key
// replaces the stored key of its session only when it is better, as the spec says:
// verified over unverified, then the lower first_message_index, then the lower
// forwarded_count. The etag changes when any key was stored. It returns the new etag and
// the version's key count.
func (d *Database) PutBackupKeys(ctx context.Context, userID string, version int64, keys []BackupKey) (etag, count int64, err error) {
	err = sqlutil.WithTransaction(ctx, d.DB.DB, func(tx *sql.Tx) error {
		var current int64
		err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM keyserver_backup_versions WHERE user_id = $1 AND NOT deleted`,
			userID).Scan(&current)
		if err != nil {
			return err
		}
		if current != version {
			var deleted bool
			err := tx.QueryRowContext(ctx, `SELECT deleted FROM keyserver_backup_versions WHERE user_id = $1 AND version = $2`,
				userID, version).Scan(&deleted)
			if errors.Is(err, sql.ErrNoRows) || (err == nil && deleted) || current == 0 {
				return ErrNoBackup
			}
			if err != nil {
				return err
			}
			return &WrongVersionError{Current: current}
		}
		changed := false
		for _, k := range keys {
			res, err := tx.ExecContext(ctx, `INSERT INTO keyserver_backup_keys AS t (user_id, version, room_id, session_id,
				first_message_index, forwarded_count, is_verified, session_data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
				ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET first_message_index = excluded.first_message_index,
				forwarded_count = excluded.forwarded_count, is_verified = excluded.is_verified, session_data = excluded.session_data
				WHERE (excluded.is_verified AND NOT t.is_verified)
					OR (excluded.is_verified = t.is_verified AND (excluded.first_message_index < t.first_message_index
						OR (excluded.first_message_index = t.first_message_index AND excluded.forwarded_count < t.forwarded_count)))`,
				userID, version, k.RoomID, k.SessionID, k.FirstMessageIndex, k.ForwardedCount, k.IsVerified, string(k.SessionData))
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n > 0 {
				changed = true
			}
		}
		if changed {
			if err := bumpEtag(ctx, tx, userID, version); err != nil {
				return err
			}
		}
		etag, count, err = counters(ctx, tx, userID, version)
		return err
	})
	return etag, count, err
}

// BackupKeys returns the keys of a version that is not deleted (else ErrNoBackup): all,
// one room's (roomID set) or one session's (sessionID set too).
func (d *Database) BackupKeys(ctx context.Context, userID string, version int64, roomID, sessionID string) ([]BackupKey, error) {
	var deleted bool
	err := d.DB.Reader().QueryRowContext(ctx, `SELECT deleted FROM keyserver_backup_versions WHERE user_id = $1 AND version = $2`,
		userID, version).Scan(&deleted)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && deleted) {
		return nil, ErrNoBackup
	}
	if err != nil {
		return nil, err
	}
	rows, err := d.DB.Reader().QueryContext(ctx, `SELECT room_id, session_id, first_message_index, forwarded_count, is_verified, session_data
		FROM keyserver_backup_keys WHERE user_id = $1 AND version = $2 AND ($3 = '' OR room_id = $3) AND ($4 = '' OR session_id = $4)
		ORDER BY room_id, session_id`, userID, version, roomID, sessionID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []BackupKey
	for rows.Next() {
		var k BackupKey
		var data string
		if err := rows.Scan(&k.RoomID, &k.SessionID, &k.FirstMessageIndex, &k.ForwardedCount, &k.IsVerified, &data); err != nil {
			return nil, err
		}
		k.SessionData = []byte(data)
		out = append(out, k)
	}
	return out, rows.Err()
}

// DeleteBackupKeys forgets keys of a version that is not deleted (else ErrNoBackup): all,
// one room's or one session's, as BackupKeys selects them. The etag changes when any key
// was deleted. It returns the new etag and the version's key count.
func (d *Database) DeleteBackupKeys(ctx context.Context, userID string, version int64, roomID, sessionID string) (etag, count int64, err error) {
	err = sqlutil.WithTransaction(ctx, d.DB.DB, func(tx *sql.Tx) error {
		var deleted bool
		err := tx.QueryRowContext(ctx, `SELECT deleted FROM keyserver_backup_versions WHERE user_id = $1 AND version = $2`,
			userID, version).Scan(&deleted)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && deleted) {
			return ErrNoBackup
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM keyserver_backup_keys WHERE user_id = $1 AND version = $2
			AND ($3 = '' OR room_id = $3) AND ($4 = '' OR session_id = $4)`, userID, version, roomID, sessionID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n > 0 {
			if err := bumpEtag(ctx, tx, userID, version); err != nil {
				return err
			}
		}
		etag, count, err = counters(ctx, tx, userID, version)
		return err
	})
	return etag, count, err
}
