package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Thumbnail is the metadata of a stored thumbnail of (Origin, MediaID) at one configured
// size (Width, Height, Method: media_api.thumbnail_sizes); its file is stored like any
// content, under its SHA-256.
type Thumbnail struct {
	Origin, MediaID           string
	Width, Height             int // the configured size
	Method                    string
	ContentType               string
	Size                      int64
	SHA256                    string
	ActualWidth, ActualHeight int // the image's (smaller than the size for a small original)
	CreatedTS                 int64
}

// GetThumbnail returns the stored thumbnail of (origin, mediaID) at width×height by method,
// or nil when none is stored.
func (d *Database) GetThumbnail(ctx context.Context, origin, mediaID string, width, height int, method string) (*Thumbnail, error) {
	t := &Thumbnail{Origin: origin, MediaID: mediaID, Width: width, Height: height, Method: method}
	err := d.DB.Reader().QueryRowContext(ctx, `SELECT content_type, file_size, sha256, actual_width, actual_height, created_ts
		FROM mediaapi_thumbnails WHERE origin = $1 AND media_id = $2 AND width = $3 AND height = $4 AND method = $5`,
		origin, mediaID, width, height, method).
		Scan(&t.ContentType, &t.Size, &t.SHA256, &t.ActualWidth, &t.ActualHeight, &t.CreatedTS)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: reading thumbnail: %w", err)
	}
	return t, nil
}

// InsertThumbnail records t. When another request stored the same thumbnail first, that
// row stays (the same image: thumbnails are rendered deterministically).
func (d *Database) InsertThumbnail(ctx context.Context, t *Thumbnail) error {
	_, err := d.DB.ExecContext(ctx, `INSERT INTO mediaapi_thumbnails
		(origin, media_id, width, height, method, content_type, file_size, sha256, actual_width, actual_height, created_ts)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (origin, media_id, width, height, method) DO NOTHING`,
		t.Origin, t.MediaID, t.Width, t.Height, t.Method, t.ContentType, t.Size, t.SHA256, t.ActualWidth, t.ActualHeight, t.CreatedTS)
	if err != nil {
		return fmt.Errorf("storage: inserting thumbnail: %w", err)
	}
	return nil
}
