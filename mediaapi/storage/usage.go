package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// UploadedBytes is the sum of the sizes of the media of origin that uploader has uploaded
// (pending IDs count nothing): the usage media_api.max_bytes_per_user bounds. Each media
// ID counts its full size, also when its bytes are one file with another media's.
func (d *Database) UploadedBytes(ctx context.Context, origin, uploader string) (int64, error) {
	var n int64
	err := d.DB.Reader().QueryRowContext(ctx, `SELECT COALESCE(SUM(file_size), 0) FROM mediaapi_media
		WHERE origin = $1 AND uploader = $2 AND uploaded_ts > 0`, origin, uploader).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("storage: summing uploads: %w", err)
	}
	return n, nil
}

// RemoteBytes is the sum of the sizes of the media of other servers than local: the
// remote media cache (media_api.remote_cache_max_bytes).
func (d *Database) RemoteBytes(ctx context.Context, local string) (int64, error) {
	var n int64
	err := d.DB.Reader().QueryRowContext(ctx, `SELECT COALESCE(SUM(file_size), 0) FROM mediaapi_media
		WHERE origin <> $1 AND uploaded_ts > 0`, local).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("storage: summing remote media: %w", err)
	}
	return n, nil
}

// TouchMedia records that (origin, mediaID) was served at nowTS, for the least-recently-used
// order of the remote cache. The row is written only when its last record is older than
// staleMS, so a media served often costs a write a while, not one a request.
func (d *Database) TouchMedia(ctx context.Context, origin, mediaID string, nowTS, staleMS int64) error {
	_, err := d.DB.ExecContext(ctx, `UPDATE mediaapi_media SET last_access_ts = $1
		WHERE origin = $2 AND media_id = $3 AND last_access_ts < $4`, nowTS, origin, mediaID, nowTS-staleMS)
	if err != nil {
		return fmt.Errorf("storage: recording access: %w", err)
	}
	return nil
}

// LeastRecentlyUsedRemote returns up to limit media of other servers than local, the least
// recently used first (last served, or fetched when never served since).
func (d *Database) LeastRecentlyUsedRemote(ctx context.Context, local string, limit int) ([]Media, error) {
	rows, err := d.DB.Reader().QueryContext(ctx, `SELECT origin, media_id, file_size, sha256 FROM mediaapi_media
		WHERE origin <> $1 AND uploaded_ts > 0
		ORDER BY CASE WHEN last_access_ts > uploaded_ts THEN last_access_ts ELSE uploaded_ts END, origin, media_id
		LIMIT CAST($2 AS INTEGER)`, local, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: listing remote media: %w", err)
	}
	defer rows.Close()
	var out []Media
	for rows.Next() {
		var m Media
		if err := rows.Scan(&m.Origin, &m.MediaID, &m.Size, &m.SHA256); err != nil {
			return nil, fmt.Errorf("storage: listing remote media: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// DeleteMedia removes the metadata of (origin, mediaID) and of its thumbnails, and returns
// the SHA-256 of every file they named (the caller removes those no other row names:
// Referenced).
func (d *Database) DeleteMedia(ctx context.Context, origin, mediaID string) ([]string, error) {
	var hashes []string
	err := sqlutil.WithTransaction(ctx, d.DB.DB, func(tx *sql.Tx) error {
		hashes = hashes[:0]
		rows, err := tx.QueryContext(ctx, `SELECT sha256 FROM mediaapi_media WHERE origin = $1 AND media_id = $2
			UNION SELECT sha256 FROM mediaapi_thumbnails WHERE origin = $1 AND media_id = $2`, origin, mediaID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var h string
			if err := rows.Scan(&h); err != nil {
				rows.Close()
				return err
			}
			if h != "" {
				hashes = append(hashes, h)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM mediaapi_thumbnails WHERE origin = $1 AND media_id = $2`, origin, mediaID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM mediaapi_media WHERE origin = $1 AND media_id = $2`, origin, mediaID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("storage: deleting media: %w", err)
	}
	return hashes, nil
}

// Referenced says whether any media or thumbnail row names the file with SHA-256 hash.
func (d *Database) Referenced(ctx context.Context, hash string) (bool, error) {
	var n int
	err := d.DB.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM mediaapi_media WHERE sha256 = $1) + (SELECT COUNT(*) FROM mediaapi_thumbnails WHERE sha256 = $1)`,
		hash).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("storage: looking up file references: %w", err)
	}
	return n > 0, nil
}
