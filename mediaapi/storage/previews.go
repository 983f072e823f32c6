package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// GetURLPreview returns the cached preview of url (its OpenGraph JSON object) if one
// expires after nowTS; nil otherwise.
func (d *Database) GetURLPreview(ctx context.Context, url string, nowTS int64) ([]byte, error) {
	var og string
	err := d.DB.Reader().QueryRowContext(ctx, `SELECT og FROM mediaapi_url_previews WHERE url = $1 AND expires_ts > $2`,
		url, nowTS).Scan(&og)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: reading URL preview: %w", err)
	}
	return []byte(og), nil
}

// StoreURLPreview caches the preview og (a JSON object) of url, fetched at fetchedTS, until
// expiresTS, replacing an older one.
func (d *Database) StoreURLPreview(ctx context.Context, url string, og []byte, fetchedTS, expiresTS int64) error {
	_, err := d.DB.ExecContext(ctx, `INSERT INTO mediaapi_url_previews (url, og, fetched_ts, expires_ts)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (url) DO UPDATE SET og = excluded.og, fetched_ts = excluded.fetched_ts, expires_ts = excluded.expires_ts`,
		url, string(og), fetchedTS, expiresTS)
	if err != nil {
		return fmt.Errorf("storage: storing URL preview: %w", err)
	}
	return nil
}
